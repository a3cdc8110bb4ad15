{#-
    Engine-specific: model contracts on Spark. dbt-spark 1.11 applies a
    contract's not_null constraints with ALTER TABLE ... SET NOT NULL whenever
    file_format is unset, assuming Delta, but a table without file_format is
    created with the session's default source (Parquet on open-source Spark),
    where that statement fails ("ALTER COLUMN with v1 tables cannot specify NOT
    NULL"). This version applies them only to tables that are Delta by
    configuration; elsewhere the contract still checks names and types at
    build time, and the not_null data tests check the values. Databricks
    (dbt-databricks) dispatches to its own databricks__ macro first.
-#}
{% macro spark__persist_constraints(relation, model) %}
    {%- set contract_config = config.get('contract') -%}
    {%- if contract_config.enforced and config.get('file_format') == 'delta' -%}
        {% do alter_table_add_constraints(relation, model.constraints) %}
        {% do alter_column_set_constraints(relation, model.columns) %}
    {%- endif -%}
{% endmacro %}
