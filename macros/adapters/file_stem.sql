{#- Engine-specific: the stem of a file path (its name without directory and
    extension), for the file part of a record's provenance key (a table
    delivered as several files). The directory says where the warehouse was
    built and the extension which format was delivered (csv or parquet), not
    which record it is: the same rows keep one key. -#}
{% macro file_stem(path) -%}
    {{ return(adapter.dispatch('file_stem', 'rwe_warehouse')(path)) }}
{%- endmacro %}

{#- Loaded tables carry the name their loader recorded, taken as it is. -#}
{% macro default__file_stem(path) -%}{{ path }}{%- endmacro %}

{% macro duckdb__file_stem(path) -%}parse_filename({{ path }}, true){%- endmacro %}

{% macro spark__file_stem(path) -%}regexp_extract({{ path }}, '([^/\\\\]*?)(\\.[^./\\\\]*)?$', 1){%- endmacro %}
