{#-
    Engine-specific: how the raw-export gate (check_raw_exports) reaches a
    source. On DuckDB a source is a file read in place through the
    external_location set in dbt_project.yml; elsewhere it is a loaded table.
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

{% macro _raw_export_path(src) -%}
    {%- set format = var('raw_file_format', 'csv') -%}
    {{ return(var('raw_data_dir', 'data/raw') ~ '/' ~ src.meta['center_id'] ~ '/'
              ~ src.identifier ~ '.' ~ format) }}
{%- endmacro %}

{#- Returns a sentence when the export cannot be found, else an empty string. -#}
{% macro raw_export_missing(src) -%}
    {{ return(adapter.dispatch('raw_export_missing', 'rwe_warehouse')(src)) }}
{%- endmacro %}

{% macro duckdb__raw_export_missing(src) -%}
    {%- if not src.meta.get('external_location') -%}
        {{ return(default__raw_export_missing(src)) }}
    {%- endif -%}
    {%- set path = _raw_export_path(src) -%}
    {%- set found = run_query("select count(*) as n from glob('" ~ path ~ "')").rows[0]['n'] -%}
    {%- if found == 0 -%}
        {{ return('the file does not exist') }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{% macro default__raw_export_missing(src) -%}
    {%- if adapter.get_relation(database=src.database, schema=src.schema,
                                identifier=src.identifier) is none -%}
        {{ return('the table does not exist') }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{#- Returns a sentence when the export is not readable as the documented CSV
    (UTF-8, comma separated, every row with the header's number of fields,
    quotes closed), else an empty string. Without this, DuckDB's dialect
    sniffer silently "adapts" to a broken file: a ragged or truncated row makes
    it read the whole file as one column or take the last row as the header,
    and a non-UTF-8 byte fails the build with the raw line (identifiers
    included) in the error. The sentence names the line, never its content. -#}
{% macro raw_export_structure_problem(src) -%}
    {{ return(adapter.dispatch('raw_export_structure_problem', 'rwe_warehouse')(src)) }}
{%- endmacro %}

{#- A loaded table has no file structure to check. -#}
{% macro default__raw_export_structure_problem(src) -%}
    {{ return('') }}
{%- endmacro %}

{% macro duckdb__raw_export_structure_problem(src) -%}
    {%- if not src.meta.get('external_location') or var('raw_file_format', 'csv') != 'csv' -%}
        {{ return('') }}
    {%- endif -%}
    {%- set path = _raw_export_path(src) -%}
    {#- The header line is taken from the bytes (cast to text, a blob shows
        every byte outside printable ASCII as \xNN), so it is found even in a
        file that is not UTF-8. Only its number of fields is used. -#}
    {%- set inspect_bytes -%}
        select
            octet_length(content) as size,
            hex(content[1:2]) as magic,
            try(decode(content)) is null as is_not_utf8,
            replace(replace(split_part(cast(content as varchar), '\x0A', 1), '\x0D', ''),
                    '\xEF\xBB\xBF', '') as header_line
        from read_blob('{{ path }}')
    {%- endset -%}
    {%- set bytes = run_query(inspect_bytes).rows[0] -%}
    {%- if bytes['size'] == 0 -%}
        {#- the gate's empty-export check reports it -#}
        {{ return('') }}
    {%- elif bytes['magic'] == '1F8B' -%}
        {{ return('the file is gzip-compressed, not CSV text: decompress it') }}
    {%- elif bytes['magic'] in ('FFFE', 'FEFF') -%}
        {{ return('the file is UTF-16 text: export it as UTF-8') }}
    {%- endif -%}
    {%- set field_count = bytes['header_line'].split(',') | length -%}
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
    {%- elif bytes['is_not_utf8'] -%}
        {{ return('the file is not UTF-8 text: export it as UTF-8') }}
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
