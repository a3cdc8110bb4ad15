{#-
    on-run-end: append one row per dbt invocation to audit.run_log: ids, the
    data cut-off, what was read (audit.run_inputs, when this invocation built
    it), package versions, published row counts and the outcome. Runs for
    failed builds too, so the log shows every attempt.
-#}
{% macro record_run(results) %}
    {%- if not execute or flags.WHICH not in ('build', 'run') -%}
        {{ return('') }}
    {%- endif -%}
    {%- set failed = results | selectattr('status', 'in', ['error', 'fail', 'skipped', 'runtime error']) | list -%}
    {%- set built = results | map(attribute='node') | map(attribute='name') | list -%}
    {%- set status = 'failed' if failed else 'success' -%}
    {%- set log_relation = api.Relation.create(database=target.get("database"), schema='audit',
                                               identifier='run_log') -%}
    {%- set inputs = adapter.get_relation(database=target.get("database"), schema='audit',
                                          identifier='run_inputs') -%}
    {%- set cohort = adapter.get_relation(database=target.get("database"), schema='marts',
                                          identifier='analysis_cohort') -%}
    {%- set use_inputs = inputs is not none and 'run_inputs' in built -%}
    {%- set use_cohort = cohort is not none and 'analysis_cohort' in built -%}

    {% do adapter.create_schema(log_relation) %}
    {% do run_query(create_run_log_sql(log_relation)) %}
    {% do run_query(append_run_log_sql(log_relation, inputs if use_inputs else none,
                                       cohort if use_cohort else none, results | length,
                                       failed | length, status)) %}
    {% do adapter.commit() %}
    {{ return('') }}
{% endmacro %}

{% macro create_run_log_sql(log_relation) %}
        create table if not exists {{ log_relation }} (
            run_id {{ dbt.type_string() }},
            dbt_invocation_id {{ dbt.type_string() }},
            run_started_at {{ dbt.type_timestamp() }},
            dbt_version {{ dbt.type_string() }},
            data_cutoff_date date,
            input_fingerprint {{ dbt.type_string() }},
            package_versions {{ dbt.type_string() }},
            cohort_patients {{ dbt.type_int() }},
            cohort_ici_patients {{ dbt.type_int() }},
            nodes_run {{ dbt.type_int() }},
            nodes_failed {{ dbt.type_int() }},
            status {{ dbt.type_string() }}
        )
{% endmacro %}

{% macro append_run_log_sql(log_relation, inputs, cohort, nodes_run, nodes_failed, status) %}
        insert into {{ log_relation }}
        select
            'run_{{ run_started_at.strftime("%Y%m%dT%H%M%S") }}' as run_id,
            '{{ invocation_id }}' as dbt_invocation_id,
            cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }}),
            '{{ dbt_version }}' as dbt_version,
            cast('{{ var("data_cutoff_date") }}' as date) as data_cutoff_date,
            {% if inputs is not none %}(select max(input_fingerprint) from {{ inputs }}){% else %}cast(null as {{ dbt.type_string() }}){% endif %},
            {% if inputs is not none %}(select max(package_versions) from {{ inputs }}){% else %}cast(null as {{ dbt.type_string() }}){% endif %},
            {% if cohort is not none %}(select count(*) from {{ cohort }}){% else %}cast(null as {{ dbt.type_int() }}){% endif %},
            {% if cohort is not none %}(select count(*) from {{ cohort }} where is_ici){% else %}cast(null as {{ dbt.type_int() }}){% endif %},
            {{ nodes_run }} as nodes_run,
            {{ nodes_failed }} as nodes_failed,
            '{{ status }}' as status
{% endmacro %}
