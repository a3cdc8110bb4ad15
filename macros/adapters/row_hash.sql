{#- Engine-specific: a 64-bit hash of a list of column expressions, or ''
    where the engine has none here. row_copies groups the raw rows on it
    first and on the raw columns only where a hash repeats: grouping every
    raw row on its raw text (several strings per row, millions of distinct
    groups) holds far more memory than one integer per row. A hash is only
    a filter: rows are compared on their columns afterwards, so collisions
    (null skipped or hashed alike) cost time, never a wrong result. -#}
{% macro row_hash(columns) -%}
    {{ return(adapter.dispatch('row_hash', 'rwe_warehouse')(columns)) }}
{%- endmacro %}

{% macro default__row_hash(columns) -%}
    {{ return('') }}
{%- endmacro %}

{% macro duckdb__row_hash(columns) -%}
    {{ return('hash(' ~ columns | join(', ') ~ ')') }}
{%- endmacro %}

{% macro spark__row_hash(columns) -%}
    {{ return('xxhash64(' ~ columns | join(', ') ~ ')') }}
{%- endmacro %}
