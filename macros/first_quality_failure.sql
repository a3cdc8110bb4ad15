{#-
    The data-quality ladder of a staging model: given (reason, column,
    condition) rules in priority order, yields two columns: the reason code
    and the column of the FIRST rule a row breaks (both null for a clean row).
    Reason codes are the quarantine vocabulary documented in
    docs/data-quality.md.
-#}
{% macro first_quality_failure(rules) -%}
    case
        {%- for reason, column, condition in rules %}
        when {{ condition }} then '{{ reason }}'
        {%- endfor %}
    end as quarantine_reason,
    case
        {%- for reason, column, condition in rules %}
        when {{ condition }} then '{{ column }}'
        {%- endfor %}
    end as failing_column
{%- endmacro %}
