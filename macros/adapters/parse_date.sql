{#-
    Engine-specific: parse a text column into a date, returning null when the
    text is not a valid date in the given layout (so bad rows can be
    quarantined instead of failing the whole build).

    `layout` is one of the layouts centers declare in their sources YAML:
    YYYY-MM-DD, DD/MM/YYYY, YYYYMMDD, YYYY/M/D.
-#}
{% macro parse_date(column, layout) -%}
    {{ return(adapter.dispatch('parse_date', 'rwe_warehouse')(column, layout)) }}
{%- endmacro %}

{% macro _date_layout(layout, dialect) -%}
    {%- set layouts = {
        'YYYY-MM-DD': {'strftime': '%Y-%m-%d', 'java': 'yyyy-MM-dd', 'snowflake': 'YYYY-MM-DD'},
        'DD/MM/YYYY': {'strftime': '%d/%m/%Y', 'java': 'dd/MM/yyyy', 'snowflake': 'DD/MM/YYYY'},
        'YYYYMMDD': {'strftime': '%Y%m%d', 'java': 'yyyyMMdd', 'snowflake': 'YYYYMMDD'},
        'YYYY/M/D': {'strftime': '%Y/%m/%d', 'java': 'yyyy/M/d', 'snowflake': 'YYYY/MM/DD'},
    } -%}
    {%- if layout not in layouts -%}
        {{ exceptions.raise_compiler_error(
            "Unknown date layout '" ~ layout ~ "'. Known layouts: " ~ (layouts.keys() | join(', '))
        ) }}
    {%- endif -%}
    {{ return(layouts[layout][dialect]) }}
{%- endmacro %}

{% macro duckdb__parse_date(column, layout) -%}
    cast(try_strptime(trim({{ column }}), '{{ _date_layout(layout, "strftime") }}') as date)
{%- endmacro %}

{% macro spark__parse_date(column, layout) -%}
    try_to_date(trim({{ column }}), '{{ _date_layout(layout, "java") }}')
{%- endmacro %}

{% macro snowflake__parse_date(column, layout) -%}
    try_to_date(trim({{ column }}), '{{ _date_layout(layout, "snowflake") }}')
{%- endmacro %}

{% macro bigquery__parse_date(column, layout) -%}
    safe.parse_date('{{ _date_layout(layout, "strftime") }}', trim({{ column }}))
{%- endmacro %}

{% macro default__parse_date(column, layout) -%}
    {{ exceptions.raise_compiler_error(
        "parse_date has no implementation for adapter '" ~ adapter.type()
        ~ "'. Add " ~ adapter.type() ~ "__parse_date to macros/adapters/parse_date.sql."
    ) }}
{%- endmacro %}
