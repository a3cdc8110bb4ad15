{#- DuckDB: a model's table and column comments (persist_docs) from one
    column listing, in one statement. dbt's default__persist_docs lists the
    table's columns, then dbt-duckdb's alter_column_comment lists them again,
    and the table comment is a statement of its own: two catalog queries and
    three round trips per model, each result made into an agate table.
    Same comments as before: a documented column is commented when both
    checks find it, dbt's validate_doc_columns (which also warns about the
    ones it does not find) and dbt-duckdb's exact-name check. -#}
{% macro duckdb__persist_docs(relation, model, for_relation, for_columns) -%}
    {%- set statements = [] -%}
    {%- if for_relation and config.persist_relation_docs() and model.description -%}
        {%- do statements.append(alter_relation_comment(relation, model.description)) -%}
    {%- endif -%}
    {%- if for_columns and config.persist_column_docs() and model.columns -%}
        {%- set existing_columns = adapter.get_columns_in_relation(relation)
                                   | map(attribute='name') | list -%}
        {%- set documented = validate_doc_columns(relation, model.columns, existing_columns) -%}
        {%- for column_name in documented if column_name in existing_columns -%}
            {%- set column = documented[column_name] -%}
            {%- do statements.append('comment on column ' ~ relation ~ '.'
                ~ (adapter.quote(column_name) if column['quote'] else column_name)
                ~ ' is ' ~ duckdb_escape_comment(column['description']) ~ ';') -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if statements -%}
        {%- do run_query(statements | join('\n')) -%}
    {%- endif -%}
{%- endmacro %}
