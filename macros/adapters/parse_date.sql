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

{% macro _date_layouts() -%}
    {#- java: Spark datetime pattern; shape: the regular expression a value
        must match before it is parsed. Day and month take one or two digits;
        the year takes exactly four, because strptime reads '22-01-18' with
        %Y as the year 22 AD instead of rejecting it. For the raw-export gate
        (date_layout_readings): two_digit_year_shape, the same layout with a
        two-digit year; exchanged, the layout a locale swap writes instead
        (day and month exchanged) and its separator. -#}
    {{ return({
        'YYYY-MM-DD': {'strftime': '%Y-%m-%d', 'java': 'yyyy-M-d', 'snowflake': 'YYYY-MM-DD',
                       'shape': '^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}$',
                       'two_digit_year_shape': '^[0-9]{2}-[0-9]{1,2}-[0-9]{1,2}$'},
        'DD/MM/YYYY': {'strftime': '%d/%m/%Y', 'java': 'd/M/yyyy', 'snowflake': 'DD/MM/YYYY',
                       'shape': '^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$',
                       'two_digit_year_shape': '^[0-9]{1,2}/[0-9]{1,2}/[0-9]{2}$',
                       'exchanged': {'layout': 'MM/DD/YYYY', 'separator': '/'}},
        'YYYYMMDD': {'strftime': '%Y%m%d', 'java': 'yyyyMMdd', 'snowflake': 'YYYYMMDD',
                     'shape': '^[0-9]{8}$', 'two_digit_year_shape': '^[0-9]{6}$'},
        'YYYY/M/D': {'strftime': '%Y/%m/%d', 'java': 'yyyy/M/d', 'snowflake': 'YYYY/MM/DD',
                     'shape': '^[0-9]{4}/[0-9]{1,2}/[0-9]{1,2}$',
                     'two_digit_year_shape': '^[0-9]{2}/[0-9]{1,2}/[0-9]{1,2}$'},
        'DD.MM.YYYY': {'strftime': '%d.%m.%Y', 'java': 'd.M.yyyy', 'snowflake': 'DD.MM.YYYY',
                       'shape': '^[0-9]{1,2}[.][0-9]{1,2}[.][0-9]{4}$',
                       'two_digit_year_shape': '^[0-9]{1,2}[.][0-9]{1,2}[.][0-9]{2}$',
                       'exchanged': {'layout': 'MM.DD.YYYY', 'separator': '[.]'}},
    }) }}
{%- endmacro %}

{% macro _date_layout(layout, dialect) -%}
    {%- set layouts = _date_layouts() -%}
    {%- if layout not in layouts -%}
        {{ exceptions.raise_compiler_error(
            "Unknown date layout '" ~ layout ~ "'. Known layouts: " ~ (layouts.keys() | join(', '))
        ) }}
    {%- endif -%}
    {{ return(layouts[layout][dialect]) }}
{%- endmacro %}

{% macro duckdb__parse_date(column, layout) -%}
    case
        when {{ date_text_matches(column, _date_layout(layout, "shape")) }}
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
        when {{ date_text_matches(column, _date_layout(layout, "shape")) }}
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

{#- True when the trimmed text of column has shape (a regular expression
    anchored with ^ and $). -#}
{% macro date_text_matches(column, shape) -%}
    {{ return(adapter.dispatch('date_text_matches', 'rwe_warehouse')(column, shape)) }}
{%- endmacro %}

{% macro duckdb__date_text_matches(column, shape) -%}
    regexp_full_match(trim({{ column }}), '{{ shape }}')
{%- endmacro %}

{% macro spark__date_text_matches(column, shape) -%}
    trim({{ column }}) rlike '{{ shape }}'
{%- endmacro %}

{% macro snowflake__date_text_matches(column, shape) -%}
    regexp_like(trim({{ column }}), '{{ shape }}')
{%- endmacro %}

{% macro bigquery__date_text_matches(column, shape) -%}
    regexp_contains(trim({{ column }}), r'{{ shape }}')
{%- endmacro %}

{% macro default__date_text_matches(column, shape) -%}
    {{ exceptions.raise_compiler_error(
        "date_text_matches has no implementation for adapter '" ~ adapter.type()
        ~ "'. Add " ~ adapter.type() ~ "__date_text_matches to macros/adapters/parse_date.sql."
    ) }}
{%- endmacro %}

{#- How a date column declared in `layout` reads when the export was written
    another way, for the raw-export gate (check_raw_exports). `exchanged`
    (none for year-first layouts) names the layout with day and month
    exchanged and the shape of the values only it reads (a number above 12
    in the month position; the declared layout cannot read them). `others`
    lists (label, shape) of what a value that the declared layout cannot
    read may be: the same layout with a two-digit year first, then the other
    known layouts and their two-digit years, spreadsheet serial numbers and
    dates with a time of day. -#}
{% macro date_layout_readings(layout) -%}
    {%- set layouts = _date_layouts() -%}
    {%- set declared = layouts[layout] -%}
    {%- set exchanged = none -%}
    {%- if declared.get('exchanged') -%}
        {%- set separator = declared['exchanged']['separator'] -%}
        {%- set exchanged = {
            'layout': declared['exchanged']['layout'],
            'shape': '^(0?[1-9]|1[0-2])' ~ separator ~ '(1[3-9]|2[0-9]|3[01])' ~ separator
                     ~ '[0-9]{4}$',
        } -%}
    {%- endif -%}
    {%- set others = [(layout.replace('YYYY', 'YY') ~ ' (two-digit year)',
                       declared['two_digit_year_shape'])] -%}
    {%- for name, known in layouts.items() if name != layout -%}
        {%- do others.append((name, known['shape'])) -%}
        {%- do others.append((name.replace('YYYY', 'YY') ~ ' (two-digit year)',
                              known['two_digit_year_shape'])) -%}
    {%- endfor -%}
    {%- do others.append(('spreadsheet serial numbers (days since 1899-12-30)',
                          '^[0-9]{5}([.][0-9]+)?$')) -%}
    {%- do others.append(('dates with a time of day',
                          '^[0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}[ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?$')) -%}
    {{ return({'exchanged': exchanged, 'others': others}) }}
{%- endmacro %}
