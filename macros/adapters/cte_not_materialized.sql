{#- Engine-specific: the words that ask the engine to run a CTE's query
    anew wherever the CTE is read (`<name> as {{ cte_not_materialized() }} (`),
    or '' where the engine has no such hint. DuckDB materialises a CTE that
    is read in several places: it holds all of the CTE's rows, every column,
    in memory (spilling under a memory cap). For a CTE that only reads
    an export file or a table (a staging model's raw rows, a model's import
    CTEs), scanning it again for each reader costs less CPU and memory than
    holding it: each reader then reads only the columns it needs (measured
    on the 100,000- and 1,000,000-patient exports, benchmarks/NOTES.md).
    Only for such CTEs: one that aggregates, joins or sorts is worth
    holding. The result does not change: an export's scans number its rows
    the same way (source_row_number, in file order: profiles.yml). -#}
{% macro cte_not_materialized() -%}
    {{ return(adapter.dispatch('cte_not_materialized', 'rwe_warehouse')()) }}
{%- endmacro %}

{% macro default__cte_not_materialized() -%}
    {{ return('') }}
{%- endmacro %}

{% macro duckdb__cte_not_materialized() -%}
    {{ return('not materialized') }}
{%- endmacro %}

{#- Spark SQL has no CTE materialisation hint (it plans each read itself). -#}
{% macro spark__cte_not_materialized() -%}
    {{ return('') }}
{%- endmacro %}
