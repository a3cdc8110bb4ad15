{#-
    Engine-specific: parse a text column into a date, returning null when the
    text is not a valid date in the given layout (so bad rows can be
    quarantined instead of failing the whole build).

    `layout` is one of the layouts centers declare in their sources YAML:
    YYYY-MM-DD, DD/MM/YYYY, YYYYMMDD, YYYY/M/D, DD.MM.YYYY.
-#}
{% macro parse_date(column, layout) -%}
    {{ return(adapter.dispatch('parse_date', 'rwe_warehouse')(column, layout)) }}
{%- endmacro %}

{% macro _date_layout(layout, dialect) -%}
    {#- java: Spark datetime pattern; shape: the regular expression a value
        must match before it is parsed. Day and month take one or two digits;
        the year takes exactly four, because strptime reads '22-01-18' with
        %Y as the year 22 AD instead of rejecting it. -#}
    {%- set layouts = {
        'YYYY-MM-DD': {'strftime': '%Y-%m-%d', 'java': 'yyyy-M-d', 'snowflake': 'YYYY-MM-DD',
                       'shape': '^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}$'},
        'DD/MM/YYYY': {'strftime': '%d/%m/%Y', 'java': 'd/M/yyyy', 'snowflake': 'DD/MM/YYYY',
                       'shape': '^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$'},
        'YYYYMMDD': {'strftime': '%Y%m%d', 'java': 'yyyyMMdd', 'snowflake': 'YYYYMMDD',
                     'shape': '^[0-9]{8}$'},
        'YYYY/M/D': {'strftime': '%Y/%m/%d', 'java': 'yyyy/M/d', 'snowflake': 'YYYY/MM/DD',
                     'shape': '^[0-9]{4}/[0-9]{1,2}/[0-9]{1,2}$'},
        'DD.MM.YYYY': {'strftime': '%d.%m.%Y', 'java': 'd.M.yyyy', 'snowflake': 'DD.MM.YYYY',
                       'shape': '^[0-9]{1,2}[.][0-9]{1,2}[.][0-9]{4}$'},
    } -%}
    {%- if layout not in layouts -%}
        {{ exceptions.raise_compiler_error(
            "Unknown date layout '" ~ layout ~ "'. Known layouts: " ~ (layouts.keys() | join(', '))
        ) }}
    {%- endif -%}
    {{ return(layouts[layout][dialect]) }}
{%- endmacro %}

{% macro duckdb__parse_date(column, layout) -%}
    case
        when regexp_full_match(trim({{ column }}), '{{ _date_layout(layout, "shape") }}')
            then cast(try_strptime(trim({{ column }}), '{{ _date_layout(layout, "strftime") }}') as date)
    end
{%- endmacro %}

{#- Spark 3.4+ and Databricks. try_to_date is not in open-source Spark 3.5,
    so this uses try_to_timestamp (null for an impossible date such as 31/02,
    also under ANSI mode). The shape test comes first because under the default
    spark.sql.legacy.timeParserPolicy (EXCEPTION) a value the new parser rejects
    but the pre-3.0 parser would read ('2021-02-03x') raises
    SparkUpgradeException instead of returning null. -#}
{% macro spark__parse_date(column, layout) -%}
    case
        when trim({{ column }}) rlike '{{ _date_layout(layout, "shape") }}'
            then cast(try_to_timestamp(trim({{ column }}), '{{ _date_layout(layout, "java") }}') as date)
    end
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
