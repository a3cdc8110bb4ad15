{#- Engine-specific: the base name (no directory) of a file path, for the
    file part of a record's provenance key (a table delivered as several
    files). The directory is left out because it says where the warehouse
    was built, not which record it is. -#}
{% macro file_base_name(path) -%}
    {{ return(adapter.dispatch('file_base_name', 'rwe_warehouse')(path)) }}
{%- endmacro %}

{#- Loaded tables carry the name their loader recorded, taken as it is. -#}
{% macro default__file_base_name(path) -%}{{ path }}{%- endmacro %}

{% macro duckdb__file_base_name(path) -%}parse_filename({{ path }}){%- endmacro %}

{% macro spark__file_base_name(path) -%}regexp_extract({{ path }}, '[^/\\\\]*$', 0){%- endmacro %}
