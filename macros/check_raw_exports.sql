{#-
    on-run-start gate: every raw export declared in a center's sources YAML
    (the tables of the registered centers' mappings, raw_exports()) must exist as a
    file of its own (raw_export_file_problem: no link, nothing undeclared
    beside it, a readable header of a sane width with no repeated name, the
    documented CSV or an all-text Parquet file), carry every required
    column, have data rows, and have each declared date column written in
    its declared layout: not mostly unreadable in it
    (delivery_limits.date_column_unreadable_share) and not read better with
    day and month exchanged. Any breach stops the build before a model runs,
    with an error naming center, table, file and column or line, never a
    value of the file. Single bad values in a readable column are not
    errors: staging quarantines those rows.
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
        {%- set exports = raw_exports() -%}
        {%- set problem = raw_export_unexpected_files(exports) -%}
        {%- if problem -%}
            {{ raw_export_check_failed("Raw export check failed for " ~ problem) }}
        {%- endif -%}
        {%- for src in exports -%}
            {%- set files = export_file_views(src) -%}
            {%- if not files -%}
                {{ raw_export_check_failed("Raw export check failed for center '" ~ src.meta['center_id']
                    ~ "', table '" ~ export_name(src) ~ "': no file matches '" ~ src.identifier ~ "' in "
                    ~ var('raw_data_dir', 'data/raw') ~ '/' ~ src.meta['center_id']
                    ~ " (" ~ src.original_file_path ~ ", identifier)") }}
            {%- endif -%}
            {%- for file in files -%}
                {{ _check_one_raw_export(file) }}
            {%- endfor -%}
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

{#- The raw exports the build reads: the tables of the registered centers'
    mappings (sources whose meta maps columns; an unregistered center's
    sources are disabled, so not in the graph). The gate checks them, raw_export_files lists them for
    run_inputs, and assert_row_accounting_balances recounts them. -#}
{% macro raw_exports() %}
    {%- set exports = [] -%}
    {%- if execute -%}
        {%- for src in graph.sources.values()
              if src.package_name == project_name and src.meta.get('columns') -%}
            {%- do exports.append(src) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(exports | sort(attribute='unique_id')) }}
{% endmacro %}

{#- True when a header name looks like a column name (a letter or
    underscore, then letters, digits or underscores), so a message may print it. -#}
{% macro _looks_like_column_name(name) %}
    {{ return(modules.re.fullmatch('[A-Za-z_][A-Za-z0-9_]{0,62}', name.strip()) is not none) }}
{% endmacro %}

{#- True when a header holds at least one of the export's required columns
    (blanks trimmed, case ignored). Else its first line may be a data row,
    and no name of it may be printed. -#}
{% macro _is_recognised_header(src, header) %}
    {%- set required = export_required_columns(src) | map('lower') | list -%}
    {{ return(header | map('trim') | map('lower') | select('in', required) | list | length > 0) }}
{% endmacro %}

{#- A sentence when an export's header (names as in the file) is too wide,
    does not look like the export's header, or repeats a name once blanks are
    trimmed and case is ignored (DuckDB renames the second copy, and a model
    could read the wrong one), else ''. A name is printed only if it looks
    like a column name, else its positions alone. -#}
{% macro raw_export_header_problem(src, header) %}
    {%- set max_fields = delivery_limit('raw_header_max_fields') -%}
    {%- if header | length > max_fields -%}
        {{ return('the header has ' ~ header | length ~ ' fields, more than '
                  ~ max_fields ~ ' (delivery_limits.raw_header_max_fields)') }}
    {%- endif -%}
    {%- if not _is_recognised_header(src, header) -%}
        {{ return('line 1 does not look like the header: none of its ' ~ header | length
                  ~ ' fields is a required column of this export ('
                  ~ export_required_columns(src) | join(', ') ~ '); is the header row missing?') }}
    {%- endif -%}
    {%- set first_field = {} -%}
    {%- for name in header | map('trim') | map('lower') -%}
        {%- if name in first_field -%}
            {%- set label = "'" ~ name ~ "'" if _looks_like_column_name(name) else 'a name' -%}
            {{ return('the header repeats ' ~ label ~ ' at fields ' ~ first_field[name] ~ ' and '
                      ~ loop.index ~ ' (blanks trimmed, case ignored): the reader would rename'
                      ~ ' the second copy and a model could read the wrong column') }}
        {%- endif -%}
        {%- do first_field.update({name: loop.index}) -%}
    {%- endfor -%}
    {{ return('') }}
{% endmacro %}

{% macro _check_one_raw_export(src) %}
    {%- set center_id = src.meta.get('center_id', src.source_name) -%}
    {%- set relation_sql = raw_export_relation_sql(src) -%}
    {%- set where = "center '" ~ center_id ~ "', table '" ~ export_name(src) ~ "' ("
        ~ raw_export_location(src) ~ ")" -%}
    {%- set problem = raw_export_file_problem(src) -%}
    {%- if problem -%}
        {{ raw_export_check_failed("Raw export check failed for " ~ where ~ ": " ~ problem) }}
    {%- endif -%}

    {%- set columns = run_query('select * from ' ~ relation_sql ~ ' as export where 1 = 0').column_names -%}
    {%- set missing = export_required_columns(src) | reject('in', columns) | list -%}
    {%- if missing -%}
        {%- set others = columns | reject('in', export_required_columns(src))
                         | reject('in', ['source_row_number', 'source_file_name']) | list -%}
        {%- set shown = [] -%}
        {%- if _is_recognised_header(src, columns) -%}
            {%- for name in others if _looks_like_column_name(name) -%}
                {%- do shown.append("'" ~ name ~ "'") -%}
            {%- endfor -%}
        {%- endif -%}
        {%- set problem = "missing required column(s) " ~ (missing | join(', ')) -%}
        {%- if shown -%}
            {%- set problem = problem ~ "; the file's other column(s): " ~ shown | join(', ') -%}
        {%- endif -%}
        {%- if others | length > shown | length -%}
            {%- set problem = problem ~ " (and " ~ (others | length - shown | length)
                ~ " that do not look like column names)" -%}
        {%- endif -%}
        {{ raw_export_check_failed("Raw export check failed for " ~ where ~ ": " ~ problem) }}
    {%- endif -%}

    {#- one scan per export: its rows and, per date column, its filled values,
        the values its layout reads and what the others look like -#}
    {%- set date_columns = export_date_columns(src) -%}
    {%- set measures = ['count(*) as row_count'] -%}
    {%- for column, layout in date_columns.items() -%}
        {%- set parsed = parse_date(column, layout) -%}
        {%- set readings = date_layout_readings(layout) -%}
        {%- do measures.append("count(nullif(trim(" ~ column ~ "), '')) as " ~ column ~ "__filled") -%}
        {%- do measures.append("count(" ~ parsed ~ ") as " ~ column ~ "__parsed") -%}
        {%- if readings['exchanged'] -%}
            {#- a day above 12 read in the day position, a number above 12 in the
                month position (unreadable in the declared layout) -#}
            {%- do measures.append("count(case when extract(day from " ~ parsed ~ ") > 12"
                ~ " then 1 end) as " ~ column ~ "__declared") -%}
            {%- do measures.append("count(case when " ~ parsed ~ " is null and "
                ~ date_text_matches(column, readings['exchanged']['shape'])
                ~ " then 1 end) as " ~ column ~ "__exchanged") -%}
        {%- endif -%}
        {%- for label, shape in readings['others'] -%}
            {%- do measures.append("count(case when " ~ parsed ~ " is null and "
                ~ date_text_matches(column, shape) ~ " then 1 end) as " ~ column ~ "__other_"
                ~ loop.index) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set profile = run_query(
        'select ' ~ (measures | join(', ')) ~ ' from ' ~ relation_sql ~ ' as export').rows[0] -%}
    {%- if profile['row_count'] == 0 -%}
        {{ raw_export_check_failed(
            "Raw export check failed for " ~ where ~ ": the export is empty (no data rows)") }}
    {%- endif -%}
    {%- for column, layout in date_columns.items() -%}
        {%- set problem = _date_column_problem(column, layout, profile) -%}
        {%- if problem -%}
            {{ raw_export_check_failed("Raw export check failed for " ~ where ~ ": " ~ problem) }}
        {%- endif -%}
    {%- endfor -%}
{% endmacro %}

{#- A sentence when a date column's profile shows it is not written in its
    declared layout as a whole, else ''. Counts only, never a value. -#}
{% macro _date_column_problem(column, layout, profile) %}
    {%- set filled = profile[column ~ '__filled'] -%}
    {%- set unreadable = filled - profile[column ~ '__parsed'] -%}
    {%- set readings = date_layout_readings(layout) -%}
    {%- set exchanged = readings['exchanged'] -%}
    {%- if exchanged and profile[column ~ '__exchanged'] > profile[column ~ '__declared'] -%}
        {{ return("column '" ~ column ~ "' reads better as " ~ exchanged['layout']
                  ~ " than as its declared layout " ~ layout ~ " (day and month exchanged): in "
                  ~ profile[column ~ '__exchanged'] ~ " of its " ~ filled ~ " filled values the"
                  ~ " month position holds a number above 12, in " ~ profile[column ~ '__declared']
                  ~ " the day position does") }}
    {%- endif -%}
    {%- set limit = delivery_limit('date_column_unreadable_share') -%}
    {%- if filled == 0 or unreadable / filled <= limit -%}
        {{ return('') }}
    {%- endif -%}
    {%- set seen = {'label': none, 'count': 0} -%}
    {%- for label, shape in readings['others'] -%}
        {%- set count = profile[column ~ '__other_' ~ loop.index] -%}
        {%- if count > seen['count'] -%}
            {%- do seen.update({'label': label, 'count': count}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return("column '" ~ column ~ "' is unreadable as a date in its declared layout " ~ layout
              ~ ": " ~ unreadable ~ " of its " ~ filled ~ " filled values are not dates in that"
              ~ " layout, more than the limit of " ~ (limit * 100) | round(1) ~ " %"
              ~ " (delivery_limits.date_column_unreadable_share); "
              ~ (seen['count'] ~ " look like " ~ seen['label'] if seen['label']
                 else "they look like no known date layout")) }}
{% endmacro %}

{#- Every column a mapping lists is required in the export, in mapping order. -#}
{% macro export_required_columns(src) %}
    {{ return(src.meta['columns'].keys() | list) }}
{% endmacro %}

{#- {raw column: layout} of the mapping's date columns. -#}
{% macro export_date_columns(src) %}
    {%- set dates = {} -%}
    {%- for column, spec in src.meta['columns'].items() if spec is mapping and spec.get('layout') -%}
        {%- do dates.update({column: spec['layout']}) -%}
    {%- endfor -%}
    {{ return(dates) }}
{% endmacro %}
