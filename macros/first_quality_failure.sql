{#-
    The data-quality ladder of a staging model: given (reason, column,
    condition) rules in priority order, the select over `relation` that adds
    two columns: the reason code and the column of the FIRST rule a row
    breaks (both null for a clean row). Reason codes are the quarantine
    vocabulary documented in docs/data-quality.md.
    The conditions are evaluated once per row, into the number of the first
    rule broken (quality_rule_number); reason and column are read from that
    number (two ladders of conditions cost twice the string tests).
-#}
{% macro first_quality_failure(rules, relation) -%}
    select
        ruled.*,
        case ruled.quality_rule_number
            {%- for reason, column, condition in rules %}
            when {{ loop.index }} then '{{ reason }}'
            {%- endfor %}
        end as quarantine_reason,
        case ruled.quality_rule_number
            {%- for reason, column, condition in rules %}
            when {{ loop.index }} then '{{ column }}'
            {%- endfor %}
        end as failing_column
    from (
        select
            {{ relation }}.*,
            case
                {%- for reason, column, condition in rules %}
                when {{ condition }} then {{ loop.index }}
                {%- endfor %}
            end as quality_rule_number
        from {{ relation }}
    ) as ruled
{%- endmacro %}
