{#- Engine-specific: which of the given relations have a column whose
    lower-cased name is in `names`. `relations` are (label, database, schema,
    identifier) tuples; returns (label, column name) pairs, relations that do
    not exist skipped. Used by assert_no_direct_identifiers_in_the_warehouse,
    which looks at every relation the project builds. -#}
{% macro columns_named(relations, names) -%}
    {{ return(adapter.dispatch('columns_named', 'rwe_warehouse')(relations, names)) }}
{%- endmacro %}

{#- Any engine: the adapter's column listing, relation by relation. -#}
{% macro default__columns_named(relations, names) -%}
    {%- set found = [] -%}
    {%- for label, database, schema, identifier in relations -%}
        {%- set relation = adapter.get_relation(database=database, schema=schema,
                                                identifier=identifier) -%}
        {%- if relation is not none -%}
            {%- for column in adapter.get_columns_in_relation(relation)
                  if column.name | lower in names -%}
                {%- do found.append((label, column.name)) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}

{#- DuckDB: one catalog query for all of them instead of one per relation
    (about 70 on the embedded build, each a query and a macro call). -#}
{% macro duckdb__columns_named(relations, names) -%}
    {%- set found = [] -%}
    {%- if not relations or not names -%}
        {{ return(found) }}
    {%- endif -%}
    {%- set wanted = {} -%}
    {%- for label, database, schema, identifier in relations -%}
        {%- do wanted.setdefault(((database or '') | lower, schema | lower, identifier | lower), []).append(label) -%}
    {%- endfor -%}
    {%- set query -%}
        select table_catalog, table_schema, table_name, column_name
        from information_schema.columns
        where lower(column_name) in (
            {%- for name in names %}'{{ dbt.escape_single_quotes(name | lower) }}'{{ ', ' if not loop.last }}{% endfor -%}
        )
        order by table_catalog, table_schema, table_name, ordinal_position
    {%- endset -%}
    {%- for row in run_query(query).rows -%}
        {%- for label in wanted.get((row[0] | lower, row[1] | lower, row[2] | lower), []) -%}
            {%- do found.append((label, row[3])) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}
