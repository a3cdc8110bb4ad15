{#-
    on-run-start gate: every raw export declared in a center's sources YAML
    (tables whose meta lists required_columns) must exist, be readable as the
    documented CSV (raw_export_structure_problem), have data rows,
    carry every required column, and have each declared date column readable
    in its declared layout. Any breach stops the build before a model runs,
    with an error naming center, table, file and column. Single bad values in
    a readable column are not errors: staging quarantines those rows.
    Before that, the vars raw_data_dir and raw_file_format must be usable in
    the reader of dbt_project.yml (external_location). A failed check first
    appends a 'failed' row with the reason to audit.run_log (dbt runs no
    on-run-end hook after a failed on-run-start hook), then stops the build.
-#}
{% macro check_raw_exports() %}
    {%- if execute and flags.WHICH in ('build', 'run') -%}
        {%- set problem = raw_export_vars_problem() -%}
        {%- if problem -%}
            {{ raw_export_check_failed(problem) }}
        {%- endif -%}
        {%- for src in graph.sources.values()
              if src.package_name == project_name and src.meta.get('required_columns') -%}
            {{ _check_one_raw_export(src) }}
        {%- endfor -%}
    {%- endif -%}
    select 1 as raw_exports_checked
{% endmacro %}

{#- Log the failed check to audit.run_log, then stop the build with message. -#}
{% macro raw_export_check_failed(message) %}
    {%- do append_run_log('failed', message, [], 0, 0) -%}
    {{ exceptions.raise_compiler_error(message) }}
{% endmacro %}

{#- A sentence when raw_data_dir or raw_file_format cannot be used, else ''.
    external_location puts raw_data_dir inside a single-quoted SQL string and
    a file pattern: a quote or backslash breaks or changes the SQL, braces
    are read as placeholders, and * ? [ ] make it match other files. -#}
{% macro raw_export_vars_problem() %}
    {%- set raw_data_dir = var('raw_data_dir', 'data/raw') -%}
    {%- set raw_file_format = var('raw_file_format', 'csv') -%}
    {%- if raw_data_dir is not string or not raw_data_dir.strip() -%}
        {{ return("Raw export check failed: var raw_data_dir must be a non-empty path, got "
                  ~ raw_data_dir) }}
    {%- endif -%}
    {%- set forbidden = [] -%}
    {%- for char in raw_data_dir
          if (char in ["'", '"', '\\', '{', '}', '*', '?', '[', ']'] or char < ' ' or char == '\x7f')
             and tojson(char) not in forbidden -%}
        {%- do forbidden.append(tojson(char)) -%}
    {%- endfor -%}
    {%- if forbidden -%}
        {{ return("Raw export check failed: var raw_data_dir contains "
                  ~ (forbidden | join(', '))
                  ~ ", which the raw-export reader in dbt_project.yml (external_location) cannot"
                  ~ " take: it puts the path inside a SQL string and a file pattern. Quotes,"
                  ~ " backslashes, braces, * ? [ ] and control characters are not allowed;"
                  ~ " move or link the exports to a path without them.") }}
    {%- endif -%}
    {%- if raw_file_format not in ('csv', 'parquet') -%}
        {{ return("Raw export check failed: var raw_file_format must be csv or parquet, got "
                  ~ tojson(raw_file_format)) }}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}

{% macro _check_one_raw_export(src) %}
    {%- set center_id = src.meta.get('center_id', src.source_name) -%}
    {%- set relation_sql = raw_export_relation_sql(src) -%}
    {%- set where = "center '" ~ center_id ~ "', table '" ~ src.name ~ "' ("
        ~ raw_export_location(src) ~ ")" -%}

    {%- set problem = raw_export_missing(src) -%}
    {%- if problem -%}
        {{ raw_export_check_failed("Raw export check failed for " ~ where ~ ": " ~ problem) }}
    {%- endif -%}

    {%- set problem = raw_export_structure_problem(src) -%}
    {%- if problem -%}
        {{ raw_export_check_failed("Raw export check failed for " ~ where ~ ": " ~ problem) }}
    {%- endif -%}

    {%- set row_count = run_query(
        'select count(*) as row_count from ' ~ relation_sql ~ ' as export').rows[0]['row_count'] -%}
    {%- if row_count == 0 -%}
        {{ raw_export_check_failed(
            "Raw export check failed for " ~ where ~ ": the export is empty (no data rows)") }}
    {%- endif -%}

    {%- set columns = run_query('select * from ' ~ relation_sql ~ ' as export where 1 = 0').column_names -%}
    {%- set missing = [] -%}
    {%- for column in src.meta['required_columns'] if column not in columns -%}
        {%- do missing.append(column) -%}
    {%- endfor -%}
    {%- if missing -%}
        {{ raw_export_check_failed(
            "Raw export check failed for " ~ where ~ ": missing required column(s) "
            ~ (missing | join(', ')) ~ "; the file has " ~ (columns | join(', '))
        ) }}
    {%- endif -%}

    {%- set date_columns = src.meta.get('date_columns', {}) -%}
    {%- set measures = ['count(*) as row_count'] -%}
    {#- one scan per export: filled and parseable values of every date column -#}
    {%- for column, layout in date_columns.items() -%}
        {%- do measures.append(
            "count(nullif(trim(" ~ column ~ "), '')) as " ~ column ~ "__filled") -%}
        {%- do measures.append(
            "count(" ~ parse_date(column, layout) ~ ") as " ~ column ~ "__parsed") -%}
    {%- endfor -%}
    {%- set profile = run_query(
        'select ' ~ (measures | join(', ')) ~ ' from ' ~ relation_sql ~ ' as export').rows[0] -%}
    {%- for column, layout in date_columns.items() -%}
        {%- set filled = profile[column ~ '__filled'] -%}
        {%- if filled > 0 and profile[column ~ '__parsed'] == 0 -%}
            {{ raw_export_check_failed(
                "Raw export check failed for " ~ where ~ ": column '" ~ column
                ~ "' is unreadable as a date: none of its " ~ filled
                ~ " values matches the declared layout " ~ layout) }}
        {%- endif -%}
    {%- endfor -%}
{% endmacro %}
