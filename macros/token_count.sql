{#- Number of '|'-separated tokens in a list column (0 for null or empty). -#}
{% macro token_count(column) -%}
    case
        when {{ column }} is null or trim({{ column }}) = '' then 0
        else {{ dbt.length(column) }} - {{ dbt.length("replace(" ~ column ~ ", '|', '')") }} + 1
    end
{%- endmacro %}

{#- How often token occurs in a '|'-separated list column. The separators are
    doubled first ('a|a' -> '||a||a||') so that neighbouring copies of a token
    do not share a separator and each is counted. 0 for a null list. -#}
{% macro token_occurrences(token, list_column) -%}
    {%- set padded = dbt.concat(["'||'", "replace(" ~ list_column ~ ", '|', '||')", "'||'"]) -%}
    {%- set needle = dbt.concat(["'|'", token, "'|'"]) -%}
    coalesce(
        ({{ dbt.length(padded) }} - {{ dbt.length("replace(" ~ padded ~ ", " ~ needle ~ ", '')") }})
        / {{ dbt.length(needle) }},
        0
    )
{%- endmacro %}
