{#- Text to integer only when it holds a whole number, else null. A plain
    cast rounds: '1.5' would become ECOG 2 or line 2 instead of being
    quarantined as an unknown code. Portable: two dbt.safe_casts compared. -#}
{% macro safe_cast_whole_number(expression) -%}
    case
        when {{ dbt.safe_cast(expression, type_double()) }} = {{ dbt.safe_cast(expression, dbt.type_int()) }}
            then {{ dbt.safe_cast(expression, dbt.type_int()) }}
    end
{%- endmacro %}
