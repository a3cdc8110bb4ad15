{#-
    Engine-specific: the earlier build attempts that wrote no audit.run_log
    row, as a list of dicts (the fields of rwe_warehouse.attempts.Attempt:
    run_id, dbt_invocation_id, command, pid, host, started_at, dbt_version,
    log_file, ended_at, refused_by). The rwe_warehouse.attempts plugin
    (profiles.yml) keeps them in a marker beside the warehouse file and binds
    them as a DuckDB variable on every connection.
-#}
{% macro unrecorded_attempts() -%}
    {{ return(adapter.dispatch('unrecorded_attempts', 'rwe_warehouse')()) }}
{%- endmacro %}

{% macro duckdb__unrecorded_attempts() -%}
    {%- set found = run_query("select getvariable('rwe_unrecorded_attempts') as attempts") -%}
    {%- set attempts = found.columns[0].values()[0] -%}
    {{ return(fromjson(attempts) if attempts else []) }}
{%- endmacro %}

{#- Other engines have no plugin keeping a marker: nothing to record. -#}
{% macro default__unrecorded_attempts() -%}
    {{ return([]) }}
{%- endmacro %}
