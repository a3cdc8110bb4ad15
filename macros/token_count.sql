{#- Number of '|'-separated tokens in a list column (0 for null or empty). -#}
{% macro token_count(column) -%}
    case
        when {{ column }} is null or trim({{ column }}) = '' then 0
        else {{ dbt.length(column) }} - {{ dbt.length("replace(" ~ column ~ ", '|', '')") }} + 1
    end
{%- endmacro %}
