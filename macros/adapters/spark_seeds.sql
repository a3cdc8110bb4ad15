{#-
    Engine-specific: how `dbt seed` inserts rows on Spark. dbt-spark 1.11
    inserts seed values through bindings, and its `method: session` cursor
    fills them in with Python's `%` operator, unescaped: a value with a quote
    ("the center's code list") breaks the statement and an empty cell becomes
    the string 'None'. This version writes each value as an escaped SQL literal
    instead, so it behaves the same for every connection method. Databricks
    (dbt-databricks) dispatches to its own databricks__ macro first.
-#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for col_name in agate_table.column_names -%}
                    {%- set type = column_override.get(col_name,
                                                       adapter.convert_type(agate_table, loop.index0)) -%}
                    cast({{ _spark_seed_literal(row[loop.index0]) }} as {{ type }})
                    {%- if not loop.last %}, {% endif -%}
                {%- endfor -%})
                {%- if not loop.last %},{% endif %}
            {% endfor -%}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.first -%}
            {%- do statements.append(sql) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements[0]) }}
{% endmacro %}

{#- A seed cell as a Spark SQL literal: null, true/false, a number, or a
    string with backslashes and single quotes escaped (Spark reads '' as two
    adjacent literals, not as an escaped quote). -#}
{% macro _spark_seed_literal(value) -%}
    {%- if value is none -%}
        null
    {%- elif value is sameas true or value is sameas false -%}
        {{ 'true' if value else 'false' }}
    {%- elif value is number -%}
        {{ value }}
    {%- else -%}
        '{{ (value | string).replace("\\", "\\\\").replace("'", "\\'") }}'
    {%- endif -%}
{%- endmacro %}
