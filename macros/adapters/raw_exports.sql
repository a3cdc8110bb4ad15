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
