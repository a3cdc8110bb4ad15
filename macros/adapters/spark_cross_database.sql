{#-
    Engine-specific: Spark / Databricks versions of two dbt cross-database
    macros whose dbt-spark 1.11 implementations differ from the other engines
    in ways that change results. A root-project macro named spark__<name> wins
    over dbt-spark's own when models call dbt.<name>(), so models stay as they
    are; no other adapter is affected.
-#}

{#- dbt.listagg: dbt-spark ignores order_by_clause (with a warning), so
    "carboplatin + etoposide" could come out either way round. This version
    sorts (sort key, value) pairs before joining. It supports one sort
    expression, optionally followed by asc or desc. -#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if order_by_clause -%}
        {%- set key = order_by_clause | trim -%}
        {%- if key[:8] | lower != 'order by' -%}
            {{ exceptions.raise_compiler_error(
                "spark__listagg expects an order_by_clause starting with 'order by', got: "
                ~ order_by_clause) }}
        {%- endif -%}
        {%- set key = key[8:] | trim -%}
        {%- set descending = (key | lower).endswith(' desc') -%}
        {%- if (key | lower).endswith(' desc') or (key | lower).endswith(' asc') -%}
            {%- set key = key.rsplit(' ', 1)[0] | trim -%}
        {%- endif -%}
        {%- if ',' in key -%}
            {{ exceptions.raise_compiler_error(
                "spark__listagg supports a single sort expression, got: " ~ order_by_clause) }}
        {%- endif -%}
        {%- set collected -%}
            transform(array_sort(collect_list(struct({{ key }} as sort_key, {{ measure }} as item))),
                      entry -> entry.item)
        {%- endset -%}
        {%- if descending -%}
            {%- set collected = 'reverse(' ~ collected ~ ')' -%}
        {%- endif -%}
    {%- else -%}
        {%- set collected = 'collect_list(' ~ measure ~ ')' -%}
    {%- endif -%}
    {%- if limit_num -%}
        {%- set collected = 'slice(' ~ collected ~ ', 1, ' ~ limit_num ~ ')' -%}
    {%- endif -%}
    array_join({{ collected }}, {{ delimiter_text }})
{%- endmacro %}

{#- dbt.safe_cast: dbt-spark emits a plain cast, which fails the query under
    ANSI mode (the default on Spark 4 and Databricks SQL) instead of giving
    null. try_cast (Spark 3.2+) gives null on every engine setting. -#}
{% macro spark__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}
