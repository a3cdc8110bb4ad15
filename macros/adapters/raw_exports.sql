{#-
    Engine-specific: how the raw-export gate (check_raw_exports) reaches a
    source and what it checks of its file. On DuckDB a source is a file read
    in place through the external_location set in dbt_project.yml, checked
    as a file (links, undeclared files, header, structure); elsewhere it is a
    loaded table, which has no file structure to check.
-#}
{% macro raw_export_relation_sql(src) -%}
    {{ return(adapter.dispatch('raw_export_relation_sql', 'rwe_warehouse')(src)) }}
{%- endmacro %}

{% macro duckdb__raw_export_relation_sql(src) -%}
    {%- set location = src.meta.get('external_location') -%}
    {%- if location -%}
        {{ return(location | replace('{center_id}', src.meta['center_id'])
                            | replace('{identifier}', src.identifier)) }}
    {%- endif -%}
    {{ return(default__raw_export_relation_sql(src)) }}
{%- endmacro %}

{% macro default__raw_export_relation_sql(src) -%}
    {{ return(api.Relation.create(database=src.database, schema=src.schema,
                                  identifier=src.identifier)) }}
{%- endmacro %}

{#- A short, human-readable name of where the export lives, for errors. -#}
{% macro raw_export_location(src) -%}
    {{ return(adapter.dispatch('raw_export_location', 'rwe_warehouse')(src)) }}
{%- endmacro %}

{% macro duckdb__raw_export_location(src) -%}
    {%- if src.meta.get('external_location') -%}
        {{ return('file ' ~ _raw_export_path(src)) }}
    {%- endif -%}
    {{ return(default__raw_export_location(src)) }}
{%- endmacro %}

{% macro default__raw_export_location(src) -%}
    {{ return('table ' ~ src.schema ~ '.' ~ src.identifier) }}
{%- endmacro %}

{#- Where a file-based reader finds the export, relative to raw_data_dir:
    <center_id>/<identifier>.<raw_file_format> (for one file of a table
    delivered as several, export_file_views gives each file its own
    identifier). -#}
{% macro raw_export_file_name(src) -%}
    {{ return(src.meta['center_id'] ~ '/' ~ src.identifier ~ '.' ~ var('raw_file_format', 'csv')) }}
{%- endmacro %}

{% macro _raw_export_path(src) -%}
    {{ return(var('raw_data_dir', 'data/raw') ~ '/' ~ raw_export_file_name(src)) }}
{%- endmacro %}

{#- A sentence naming a file or folder in raw_data_dir that no declared
    export accounts for (nothing would read it, nothing would count it),
    else ''. Tables loaded into a warehouse leave no such file behind. -#}
{% macro raw_export_unexpected_files(exports) -%}
    {{ return(adapter.dispatch('raw_export_unexpected_files', 'rwe_warehouse')(exports)) }}
{%- endmacro %}

{% macro default__raw_export_unexpected_files(exports) -%}
    {{ return('') }}
{%- endmacro %}

{#- rwe_raw_export_unexpected: src/rwe_warehouse/raw_export_files.py. -#}
{% macro duckdb__raw_export_unexpected_files(exports) -%}
    {%- set files = [] -%}
    {%- for src in exports if src.meta.get('external_location') -%}
        {%- for file in export_file_views(src) -%}
            {%- do files.append(raw_export_file_name(file)) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if not files -%}
        {{ return('') }}
    {%- endif -%}
    {%- set sql = "select rwe_raw_export_unexpected('" ~ var('raw_data_dir', 'data/raw') ~ "', '"
                  ~ dbt.escape_single_quotes(tojson(files)) ~ "') as problem" -%}
    {{ return(run_query(sql).rows[0]['problem']) }}
{%- endmacro %}

{#- Returns a sentence when the export cannot be read as documented, else an
    empty string. -#}
{% macro raw_export_file_problem(src) -%}
    {{ return(adapter.dispatch('raw_export_file_problem', 'rwe_warehouse')(src)) }}
{%- endmacro %}

{#- A loaded table must exist; it has no file structure to check. -#}
{% macro default__raw_export_file_problem(src) -%}
    {%- if adapter.get_relation(database=src.database, schema=src.schema,
                                identifier=src.identifier) is none -%}
        {{ return('the table does not exist') }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{#- A file read in place. First what Python sees of it
    (rwe_raw_export_file, src/rwe_warehouse/raw_export_files.py): a regular
    file inside raw_data_dir reached through no link, not empty, and its
    header, of which at most delivery_limits.raw_header_max_bytes are read
    (a CSV file with old-Mac line endings is one huge line). Then the header
    (raw_export_header_problem): not too wide, a header at all, no repeated
    name. Then a Parquet file must hold text columns only (the models read
    every column as text), and a CSV file must read as the documented CSV
    (csv_structure_problem). -#}
{% macro duckdb__raw_export_file_problem(src) -%}
    {%- if not src.meta.get('external_location') -%}
        {{ return(default__raw_export_file_problem(src)) }}
    {%- endif -%}
    {%- set sql = "select rwe_raw_export_file('" ~ var('raw_data_dir', 'data/raw') ~ "', '"
                  ~ dbt.escape_single_quotes(raw_export_file_name(src)) ~ "', "
                  ~ delivery_limit('raw_header_max_bytes') ~ ") as facts" -%}
    {%- set facts = fromjson(run_query(sql).rows[0]['facts']) -%}
    {%- if facts['problem'] -%}
        {{ return(facts['problem']) }}
    {%- endif -%}
    {%- set problem = raw_export_header_problem(src, facts['header']) -%}
    {%- if problem -%}
        {{ return(problem) }}
    {%- endif -%}
    {%- if 'types' in facts -%}
        {{ return(_parquet_types_problem(facts['header'], facts['types'])) }}
    {%- endif -%}
    {{ return(_csv_structure_problem(src, facts['header'] | length)) }}
{%- endmacro %}

{#- Every column of a Parquet export must be text: a typed column (an
    integer ECOG, a date) passed the gate and then failed a model with a
    binder error naming no center, file or column. -#}
{% macro _parquet_types_problem(header, types) -%}
    {%- set typed = [] -%}
    {%- for name in header -%}
        {%- if types[loop.index0] not in ('string', 'large_string', 'string_view') -%}
            {%- do typed.append(("column '" ~ name.strip() ~ "'" if _looks_like_column_name(name)
                                 else 'the column at field ' ~ loop.index) ~ ' is '
                                ~ types[loop.index0]) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if typed -%}
        {{ return(typed | join(', ') ~ ' in the Parquet file, but every column must be text'
                  ~ ' (string): export the columns as text') }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{#- Returns a sentence when the CSV file is not readable as the documented
    CSV (UTF-8, comma separated, every row with the header's number of
    fields, quotes closed), else an empty string. Without this, DuckDB's
    dialect sniffer silently "adapts" to a broken file: a ragged or truncated
    row makes it read the whole file as one column or take the last row as
    the header, and a non-UTF-8 byte fails the build with the raw line
    (identifiers included) in the error. The sentence names the line, never
    its content. -#}
{% macro _csv_structure_problem(src, field_count) -%}
    {%- set path = _raw_export_path(src) -%}
    {%- set scan = 'raw_export_scan__' ~ src.meta['center_id'] ~ '__' ~ src.identifier -%}
    {%- set strict_read -%}
        read_csv('{{ path }}', auto_detect = false, header = true, delim = ',', quote = '"',
                 escape = '"', strict_mode = true, null_padding = false,
                 columns = { {%- for n in range(field_count) %}'field_{{ n + 1 }}': 'VARCHAR'{{ ', ' if not loop.last }}{% endfor -%} },
                 store_rejects = true, rejects_table = '{{ scan }}_rejects',
                 rejects_scan = '{{ scan }}_scans')
    {%- endset -%}
    {#- One statement list on one cursor: the rejects tables are temporary. -#}
    {%- set checked -%}
        drop table if exists {{ scan }}_rejects;
        drop table if exists {{ scan }}_scans;
        create or replace temporary table {{ scan }} as
        select count(*) as data_rows, count(columns(*)) from {{ strict_read }};
        select
            {{ scan }}.data_rows,
            rejects.rejected_lines,
            rejects.first_line,
            rejects.error_type
        from {{ scan }}
        cross join (
            select
                count(distinct line) as rejected_lines,
                min(line) as first_line,
                arg_min(error_type, line) as error_type
            from {{ scan }}_rejects
        ) as rejects
    {%- endset -%}
    {%- set result = run_query(checked).rows[0] -%}
    {%- if result['rejected_lines'] > 0 -%}
        {%- set line = 'line ' ~ result['first_line'] -%}
        {%- set kind = result['error_type'] -%}
        {%- if kind == 'TOO MANY COLUMNS' -%}
            {%- set problem = line ~ ' has more fields than the header (' ~ field_count ~ ' columns)' -%}
        {%- elif kind == 'MISSING COLUMNS' -%}
            {%- set problem = line ~ ' has fewer fields than the header (' ~ field_count
                ~ ' columns): a truncated file or a ragged row' -%}
        {%- elif kind in ('UNQUOTED VALUE', 'UNTERMINATED QUOTES') -%}
            {%- set problem = line ~ ' has a quote that is never closed' -%}
        {%- elif kind == 'INVALID ENCODING' -%}
            {%- set problem = line ~ ' is not UTF-8 text: export the file as UTF-8' -%}
        {%- else -%}
            {%- set problem = line ~ ' cannot be read as CSV (' ~ kind | lower ~ ')' -%}
        {%- endif -%}
        {{ return(problem ~ '; ' ~ result['rejected_lines'] ~ ' malformed line(s) in all') }}
    {%- endif -%}

    {#- The models read the file with DuckDB's dialect detection: it must see
        the same rows as the strict comma-separated reading. -#}
    {%- set detected = run_query('select count(*) as n from ' ~ raw_export_relation_sql(src)
                                 ~ ' as export').rows[0]['n'] -%}
    {%- if detected != result['data_rows'] -%}
        {{ return("the reader's dialect detection finds " ~ detected ~ ' data rows but the file has '
                  ~ result['data_rows'] ~ ' comma-separated rows') }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{#- dbt.safe_cast on DuckDB: dbt-duckdb 1.11 has no duckdb__safe_cast, so dbt
    falls back to a plain cast, and one raw cell such as ECOG 'one' failed the
    whole build ("Could not convert string 'one' to INT32") instead of being
    quarantined by staging. try_cast gives null, as safe_cast promises. (Lives
    here because the raw exports are what it protects; see docs/bad-inputs.md.) -#}
{% macro duckdb__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}

{#- The text of a file of the project (a path relative to the project
    root), for the unit tests of staging, which dbt compiles without the
    project's graph (macros/staging/center_mappings.sql). -#}
{% macro read_project_text_file(path) -%}
    {{ return(adapter.dispatch('read_project_text_file', 'rwe_warehouse')(path)) }}
{%- endmacro %}

{% macro duckdb__read_project_text_file(path) -%}
    {{ return(run_query("select content from read_text('" ~ path ~ "')").rows[0]['content']) }}
{%- endmacro %}

{% macro default__read_project_text_file(path) -%}
    {{ exceptions.raise_compiler_error(
        "read_project_text_file has no implementation for adapter '" ~ adapter.type()
        ~ "': run the unit tests of staging on DuckDB (the build itself needs no file access).") }}
{%- endmacro %}

{#- The files of an export table, each as the source seen through that one
    file (a dict with the source's attributes and the file's stem as
    identifier), so the gate checks every file on its own. A table's
    identifier may be a glob (lines_*): a center may deliver one table as
    several files. -#}
{% macro export_file_views(src) -%}
    {%- set stems = adapter.dispatch('export_file_stems', 'rwe_warehouse')(src) -%}
    {%- set views = [] -%}
    {%- for stem in stems -%}
        {%- do views.append({'meta': src.meta, 'identifier': stem, 'name': src.name,
                             'source_name': src.source_name, 'schema': src.schema,
                             'database': src.database, 'unique_id': src.unique_id,
                             'original_file_path': src.original_file_path}) -%}
    {%- endfor -%}
    {{ return(views) }}
{%- endmacro %}

{#- Loaded tables: one table per source (no globs). -#}
{% macro default__export_file_stems(src) -%}
    {{ return([src.identifier]) }}
{%- endmacro %}

{#- Files read in place: the stems of the files a glob identifier matches,
    in name order (the order the reader reads them). -#}
{% macro duckdb__export_file_stems(src) -%}
    {%- if not src.meta.get('external_location') or not modules.re.search('[*?]', src.identifier) -%}
        {{ return([src.identifier]) }}
    {%- endif -%}
    {%- set extension = '.' ~ var('raw_file_format', 'csv') -%}
    {%- set folder = var('raw_data_dir', 'data/raw') ~ '/' ~ src.meta['center_id'] ~ '/' -%}
    {%- set rows = run_query("select file from glob('" ~ folder ~ src.identifier ~ extension
                             ~ "') order by file").rows -%}
    {%- set stems = [] -%}
    {%- for row in rows -%}
        {%- do stems.append(row['file'].split('/')[-1][:-(extension | length)]) -%}
    {%- endfor -%}
    {{ return(stems) }}
{%- endmacro %}
