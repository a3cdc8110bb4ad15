{#-
    audit.run_log: one row per dbt build/run invocation. Two writers share
    append_run_log, which builds the row:
    - on-run-end (record_run) for every invocation whose models ran, failed
      ones included;
    - the on-run-start raw-export gate (check_raw_exports), before it stops
      the build: dbt runs no on-run-end hook after a failed on-run-start hook.
    A build that is killed writes no row. Columns: see run_log_columns and
    python_models/audit/_audit__models.yml.
-#}
{% macro record_run(results) %}
    {%- if not execute or flags.WHICH not in ('build', 'run') -%}
        {{ return('') }}
    {%- endif -%}
    {%- set failed = results | selectattr('status', 'in', ['error', 'fail', 'skipped', 'runtime error']) | list -%}
    {#- Only what this invocation built: a skipped or failed node still has
        the previous build's table, which must not be logged as this one's. -#}
    {%- set built = results | selectattr('status', 'equalto', 'success')
                            | map(attribute='node') | map(attribute='name') | list -%}
    {%- set reasons = [] -%}
    {%- for result in failed if result.status != 'skipped' -%}
        {%- do reasons.append(result.status ~ ' ' ~ result.node.name ~ ': '
                              ~ ((result.message or '') | string).strip().split('\n')[0][:300]) -%}
    {%- endfor -%}
    {%- set skipped = failed | length - reasons | length -%}
    {%- if skipped -%}
        {%- do reasons.append(skipped ~ ' node(s) skipped') -%}
    {%- endif -%}
    {%- do append_run_log('failed' if failed else 'success', reasons | join('; '), built,
                          results | length, failed | length) -%}
    {{ return('') }}
{% endmacro %}

{#- The run_log columns in table order. Columns added after the first
    release come last, so an older run_log gets them by alter table. -#}
{% macro run_log_columns() %}
    {{ return([
        ('run_id', dbt.type_string()),
        ('dbt_invocation_id', dbt.type_string()),
        ('run_started_at', dbt.type_timestamp()),
        ('dbt_version', dbt.type_string()),
        ('data_cutoff_date', 'date'),
        ('input_fingerprint', dbt.type_string()),
        ('package_versions', dbt.type_string()),
        ('cohort_patients', dbt.type_int()),
        ('cohort_ici_patients', dbt.type_int()),
        ('nodes_run', dbt.type_int()),
        ('nodes_failed', dbt.type_int()),
        ('status', dbt.type_string()),
        ('failure_reason', dbt.type_string()),
        ('study_vars', dbt.type_string()),
        ('code_fingerprint', dbt.type_string()),
        ('published_row_counts', dbt.type_string()),
        ('delivery_profile', dbt.type_string()),
        ('delivery_breaches', dbt.type_string()),
        ('accepted_delivery_changes', dbt.type_string()),
    ]) }}
{% endmacro %}

{#- A string literal for run_log (quotes escaped the engine's way). -#}
{% macro _run_log_text(value) -%}
    {%- if value is none -%}
        cast(null as {{ dbt.type_string() }})
    {%- else -%}
        '{{ dbt.escape_single_quotes(value | string) }}'
    {%- endif -%}
{%- endmacro %}

{#-
    Append one row to audit.run_log (creating or extending the table) and
    commit. built: names of the nodes this invocation built successfully;
    fingerprints, cohort size and row counts come only from those.
-#}
{% macro append_run_log(status, failure_reason, built, nodes_run, nodes_failed) %}
    {%- set database = target.get('database') -%}
    {%- set log_relation = api.Relation.create(database=database, schema='audit',
                                               identifier='run_log', type='table') -%}
    {%- set columns = run_log_columns() -%}
    {%- set column_names = [] -%}
    {%- for name, _ in columns -%}
        {%- do column_names.append(name) -%}
    {%- endfor -%}
    {% do adapter.create_schema(log_relation) %}
    {%- set create_sql -%}
        create table if not exists {{ log_relation }} (
            {%- for name, data_type in columns %}
            {{ name }} {{ data_type }}{{ ',' if not loop.last }}
            {%- endfor %}
        )
    {%- endset -%}
    {% do run_query(create_sql) %}
    {%- set existing = adapter.get_columns_in_relation(log_relation) | map(attribute='name')
                       | map('lower') | list -%}
    {%- set missing = [] -%}
    {%- for name, data_type in columns if name not in existing -%}
        {%- do missing.append(api.Column.create(name, data_type)) -%}
    {%- endfor -%}
    {%- if missing -%}
        {% do alter_relation_add_remove_columns(log_relation, missing, none) %}
    {%- endif -%}

    {%- set inputs = adapter.get_relation(database=database, schema='audit',
                                          identifier='run_inputs')
                     if 'run_inputs' in built else none -%}
    {%- set cohort = adapter.get_relation(database=database, schema='marts',
                                          identifier='analysis_cohort')
                     if 'analysis_cohort' in built else none -%}
    {%- set study_vars = {
        'study_window_start_date': var('study_window_start_date'),
        'study_window_end_date': var('study_window_end_date'),
        'data_cutoff_date': var('data_cutoff_date'),
        'line_gap_days': var('line_gap_days'),
        'raw_data_dir': var('raw_data_dir', 'data/raw'),
        'raw_file_format': var('raw_file_format', 'csv'),
    } -%}
    {%- set row_counts = published_row_counts(built) -%}
    {%- set delivery = delivery_run_log_values(status, built) -%}
    {%- set values = {
        'run_id': _run_log_text(run_started_at.strftime('run_%Y%m%dT%H%M%S_%fZ')),
        'dbt_invocation_id': _run_log_text(invocation_id),
        'run_started_at': "cast('" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f')
                          ~ "' as " ~ dbt.type_timestamp() ~ ")",
        'dbt_version': _run_log_text(dbt_version),
        'data_cutoff_date': "cast(" ~ _run_log_text(var('data_cutoff_date')) ~ " as date)",
        'input_fingerprint': '(select max(input_fingerprint) from ' ~ inputs ~ ')'
                             if inputs else _run_log_text(none),
        'package_versions': '(select max(package_versions) from ' ~ inputs ~ ')'
                            if inputs else _run_log_text(none),
        'cohort_patients': '(select count(*) from ' ~ cohort ~ ')'
                           if cohort else 'cast(null as ' ~ dbt.type_int() ~ ')',
        'cohort_ici_patients': '(select count(*) from ' ~ cohort ~ ' where is_ici)'
                               if cohort else 'cast(null as ' ~ dbt.type_int() ~ ')',
        'nodes_run': nodes_run,
        'nodes_failed': nodes_failed,
        'status': _run_log_text(status),
        'failure_reason': _run_log_text(failure_reason or none),
        'study_vars': _run_log_text(tojson(study_vars, sort_keys=true)),
        'code_fingerprint': '(select max(code_fingerprint) from ' ~ inputs ~ ')'
                            if inputs else _run_log_text(none),
        'published_row_counts': _run_log_text(tojson(row_counts, sort_keys=true)
                                              if row_counts else none),
        'delivery_profile': delivery['delivery_profile'],
        'delivery_breaches': delivery['delivery_breaches'],
        'accepted_delivery_changes': delivery['accepted_delivery_changes'],
    } -%}
    {%- set insert_sql -%}
        insert into {{ log_relation }} ({{ column_names | join(', ') }})
        select
            {%- for name, _ in columns %}
            {{ values[name] }} as {{ name }}{{ ',' if not loop.last }}
            {%- endfor %}
    {%- endset -%}
    {% do run_query(insert_sql) %}
    {% do adapter.commit() %}
{% endmacro %}

{#- Row counts of the published tables (those published_results copies) that
    this invocation built, as a dict table -> rows; empty if none was built. -#}
{% macro published_row_counts(built) %}
    {%- set publication = graph.nodes.values() | selectattr('name', 'equalto', 'published_results')
                          | list -%}
    {%- if not publication -%}
        {{ return({}) }}
    {%- endif -%}
    {%- set published_schema = publication[0].config.meta.get('published_schema') -%}
    {%- set counts = [] -%}
    {%- for unique_id in publication[0].depends_on.nodes -%}
        {%- set node = graph.nodes.get(unique_id) -%}
        {%- if node and node.schema == published_schema and node.name in built -%}
            {%- do counts.append("select '" ~ node.name ~ "' as table_name, count(*) as row_count from "
                ~ api.Relation.create(database=node.database, schema=node.schema,
                                      identifier=node.alias)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not counts -%}
        {{ return({}) }}
    {%- endif -%}
    {%- set result = run_query(counts | join(' union all ')) -%}
    {%- set row_counts = {} -%}
    {%- for row in result.rows -%}
        {%- do row_counts.update({row['table_name']: row['row_count'] | int}) -%}
    {%- endfor -%}
    {{ return(row_counts) }}
{% endmacro %}
