{#- Engine-specific: an 8-byte floating-point type. dbt.type_float() is a
    4-byte REAL on DuckDB, too coarse for survival times and estimates. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'rwe_warehouse')()) }}
{%- endmacro %}

{% macro default__type_double() -%}double precision{%- endmacro %}

{% macro duckdb__type_double() -%}double{%- endmacro %}

{% macro spark__type_double() -%}double{%- endmacro %}

{% macro bigquery__type_double() -%}float64{%- endmacro %}
