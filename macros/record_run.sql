{#-
    audit.run_log: one row per dbt build/run attempt. Three writers share
    append_run_log, which builds the row:
    - on-run-end (record_run) for every invocation whose models ran, failed
      ones included;
    - the on-run-start raw-export gate (check_raw_exports), before it stops
      the build: dbt runs no on-run-end hook after a failed on-run-start hook;
    - the first on-run-start hook (record_unrecorded_attempts), for earlier
      attempts that wrote no row themselves: killed, or stopped by an error
      outside those two places. The rwe_warehouse.attempts plugin keeps them
      in a marker beside the warehouse and hands them over.
    Columns: see run_log_columns and python_models/audit/_audit__models.yml.
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
                              ~ ((result.message or '') | string).strip().split('\n')[0][:300]
                              ~ _null_columns_named(result)) -%}
    {%- endfor -%}
    {%- set skipped = failed | length - reasons | length -%}
    {%- if skipped -%}
        {%- do reasons.append(skipped ~ ' node(s) skipped') -%}
    {%- endif -%}
    {%- do append_run_log('failed' if failed else 'success', reasons | join('; '), built,
                          results | length, failed | length) -%}
    {{ return('') }}
{% endmacro %}

{#- A failed not_null_columns test (tests/dbt/generic) checks several columns
    at once; dbt's message only counts the null rows, so this reruns the
    test's query (a failed build only) and names each column with its count,
    never a value: ' (columns with nulls: is_ici 1 row)'. Also printed. -#}
{% macro _null_columns_named(result) %}
    {%- set test_metadata = result.node.test_metadata if result.node.resource_type == 'test' else none -%}
    {%- if result.status != 'fail' or not test_metadata or test_metadata.name != 'not_null_columns' -%}
        {{ return('') }}
    {%- endif -%}
    {%- set counts = [] -%}
    {%- for row in run_query(result.node.compiled_code).rows -%}
        {%- do counts.append(row[0] ~ ' ' ~ row[1] ~ (' row' if row[1] == 1 else ' rows')) -%}
    {%- endfor -%}
    {%- set named = ' (columns with nulls: ' ~ counts | join(', ') ~ ')' -%}
    {%- do log(result.node.name ~ named, info=true) -%}
    {{ return(named) }}
{% endmacro %}

{#- on-run-start, before the raw-export gate: one row per earlier attempt that
    the attempts plugin (src/rwe_warehouse/attempts.py) found without a row.
    'killed': its process ended without Python's exit handlers (SIGKILL or
    SIGTERM, the out-of-memory killer, the machine stopped); 'interrupted': it
    exited without recording its outcome, on an error before or outside its
    models (an engine error inside the gate, a missing key) or on Ctrl-C;
    'refused': another build held the warehouse. What is known of it is its
    run id, invocation, start, command, process and log file; its vars and
    inputs are not, and stay null. -#}
{% macro record_unrecorded_attempts() %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- for attempt in unrecorded_attempts() -%}
        {%- set process = 'dbt ' ~ attempt.command ~ ', pid ' ~ attempt.pid ~ ' on ' ~ attempt.host -%}
        {%- if attempt.refused_by -%}
            {%- set status = 'refused' -%}
            {%- set reason = 'another build held the warehouse (' ~ attempt.refused_by
                ~ '): this one (' ~ process ~ ') stopped before opening it' -%}
        {%- elif attempt.ended_at -%}
            {%- set status = 'interrupted' -%}
            {%- set reason = 'the build (' ~ process ~ ') exited at '
                ~ attempt.ended_at[:19].replace('T', ' ') ~ ' UTC without recording its'
                ~ ' outcome: an error stopped it before or outside its models (an engine'
                ~ ' error in the on-run-start gate, for example), or it was interrupted;'
                ~ ' its log: ' ~ attempt.log_file -%}
        {%- else -%}
            {%- set status = 'killed' -%}
            {%- set reason = 'the build (' ~ process ~ ') ended without finishing or'
                ~ ' recording its outcome: killed (SIGKILL, SIGTERM, out of memory) or the'
                ~ ' machine stopped; its log: ' ~ attempt.log_file -%}
        {%- endif -%}
        {%- do append_run_log(status, reason ~ '; recorded by run '
                              ~ this_run_id(),
                              [], none, none, attempt=attempt) -%}
    {%- endfor -%}
    {{ return('') }}
{% endmacro %}

{#- This invocation's run id: its start (UTC) to the microsecond, the layout
    of rwe_warehouse.provenance.RUN_ID_FORMAT (the published version's name). -#}
{% macro this_run_id() %}
    {{ return(run_started_at.strftime('run_%Y%m%dT%H%M%S_%fZ')) }}
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
        ('studies', dbt.type_string()),
        ('study_cohort_patients', dbt.type_string()),
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
    fingerprints, cohort size and row counts come only from those. attempt:
    an earlier attempt (from record_unrecorded_attempts) the row is about
    instead of this invocation; its vars are unknown and stay null.
-#}
{% macro append_run_log(status, failure_reason, built, nodes_run, nodes_failed, attempt=none) %}
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
    {#- every study spec of this build (studies/<study_id>.yml): file, window, cut-off -#}
    {%- set studies = {} -%}
    {%- for spec in (study_specs() if not attempt else []) -%}
        {%- do studies.update({spec['study_id']: {
            'spec_file': spec['spec_file'],
            'study_window_start_date': spec['eligibility']['study_window_start_date'],
            'study_window_end_date': spec['eligibility']['study_window_end_date'],
            'data_cutoff_date': spec['eligibility']['data_cutoff_date']}}) -%}
    {%- endfor -%}
    {#- cohort_patients and cohort_ici_patients: the accounting study's cohort
        (var accounting_study_id); every study's is in study_cohort_patients -#}
    {%- set row_counts = published_row_counts(built) -%}
    {%- set null_int = 'cast(null as ' ~ dbt.type_int() ~ ')' -%}
    {%- set delivery = delivery_run_log_values(status, built) -%}
    {#- An earlier attempt's vars are unknown: this invocation's accepted
        changes are not its. -#}
    {%- if attempt -%}
        {%- do delivery.update({'accepted_delivery_changes': _run_log_text(none)}) -%}
    {%- endif -%}
    {%- set values = {
        'run_id': _run_log_text(attempt.run_id if attempt
                                else this_run_id()),
        'dbt_invocation_id': _run_log_text(attempt.dbt_invocation_id if attempt else invocation_id),
        'run_started_at': "cast('" ~ (attempt.started_at.replace('T', ' ') if attempt
                                      else run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f'))
                          ~ "' as " ~ dbt.type_timestamp() ~ ")",
        'dbt_version': _run_log_text(attempt.dbt_version if attempt else dbt_version),
        'data_cutoff_date': "cast(" ~ _run_log_text(none if attempt else var('data_cutoff_date'))
                            ~ " as date)",
        'input_fingerprint': '(select max(input_fingerprint) from ' ~ inputs ~ ')'
                             if inputs else _run_log_text(none),
        'package_versions': '(select max(package_versions) from ' ~ inputs ~ ')'
                            if inputs else _run_log_text(none),
        'cohort_patients': '(select count(*) from ' ~ cohort ~ " where study_id = '"
                           ~ var('accounting_study_id') ~ "')" if cohort else null_int,
        'cohort_ici_patients': '(select count(*) from ' ~ cohort ~ " where study_id = '"
                               ~ var('accounting_study_id') ~ "' and is_ici)"
                               if cohort else null_int,
        'nodes_run': null_int if nodes_run is none else nodes_run,
        'nodes_failed': null_int if nodes_failed is none else nodes_failed,
        'status': _run_log_text(status),
        'failure_reason': _run_log_text(failure_reason or none),
        'study_vars': _run_log_text(none if attempt else tojson(study_vars, sort_keys=true)),
        'code_fingerprint': '(select max(code_fingerprint) from ' ~ inputs ~ ')'
                            if inputs else _run_log_text(none),
        'published_row_counts': _run_log_text(tojson(row_counts, sort_keys=true)
                                              if row_counts else none),
        'delivery_profile': delivery['delivery_profile'],
        'delivery_breaches': delivery['delivery_breaches'],
        'accepted_delivery_changes': delivery['accepted_delivery_changes'],
        'studies': _run_log_text(tojson(studies, sort_keys=true) if studies else none),
        'study_cohort_patients': (
            '(select ' ~ dbt.listagg(dbt.concat(['study_id', "'='",
                                                 dbt.safe_cast('patients', dbt.type_string()),
                                                 "' ('", dbt.safe_cast('exposed', dbt.type_string()),
                                                 "' exposed)'"]),
                                     "'; '", 'order by study_id')
            ~ ' from (select study_id, count(*) as patients, sum(case when is_ici then 1 else 0 end)'
            ~ ' as exposed from ' ~ cohort ~ ' group by study_id) as study_cohorts)'
        ) if cohort else _run_log_text(none),
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
