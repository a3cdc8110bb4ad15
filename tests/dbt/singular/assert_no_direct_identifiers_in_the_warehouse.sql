{#- Identifiers stop inside staging: no relation the project builds, staging
    tables included (they are persisted), may carry a column whose name marks
    a direct identifier; staging reads them from the raw exports and keeps
    only the pseudonym and derived values. Returns each offending relation
    and column. It runs after the published marts. -#}
-- depends_on: {{ ref('analysis_cohort') }}
-- depends_on: {{ ref('adverse_events') }}
-- depends_on: {{ ref('quarantine') }}
-- depends_on: {{ ref('row_accounting') }}
{%- set denylist = ['name', 'patient_name', 'national_id', 'id_card_no', 'id_number',
                    'birth_date', 'dob', 'mrn', 'case_no', 'patient_key',
                    'center_patient_key'] -%}
{%- set offenders = [] -%}
{%- if execute -%}
    {%- for node in graph.nodes.values()
          if node.resource_type in ('model', 'seed') and node.package_name == project_name
             and node.config.materialized != 'ephemeral' -%}
        {%- set relation = adapter.get_relation(database=node.database, schema=node.schema,
                                                identifier=node.alias) -%}
        {%- if relation is not none -%}
            {%- for column in adapter.get_columns_in_relation(relation)
                  if column.name | lower in denylist -%}
                {%- do offenders.append((node.name, column.name)) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif %}

with

offending_columns as (
    {% for model_name, column_name in offenders %}
    select
        '{{ model_name }}' as model_name,
        '{{ column_name }}' as column_name
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
    {% if not offenders %}
        select
            cast(null as {{ dbt.type_string() }}) as model_name,
            cast(null as {{ dbt.type_string() }}) as column_name
        where 1 = 0
    {% endif %}
)

select * from offending_columns
