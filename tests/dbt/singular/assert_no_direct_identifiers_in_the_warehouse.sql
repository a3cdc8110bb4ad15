{#- Identifiers stop inside staging: no relation the project builds, staging
    tables included (they are persisted), may carry a column whose name a
    center's mapping lists as a direct identifier (identifier_columns);
    staging reads them from the raw exports and keeps only the pseudonym and
    derived values. Returns each offending relation
    and column. It runs after the published marts. -#}
-- depends_on: {{ ref('analysis_cohort') }}
-- depends_on: {{ ref('adverse_events') }}
-- depends_on: {{ ref('quarantine') }}
-- depends_on: {{ ref('row_accounting') }}
{#- the direct identifiers each center's mapping lists (identifier_columns),
    and the patient key as staging names it before pseudonymising -#}
{%- set denylist = ['center_patient_key'] -%}
{%- if execute -%}
    {%- for src in graph.sources.values() if src.package_name == project_name -%}
        {%- for column in src.meta.get('identifier_columns', []) if column | lower not in denylist -%}
            {%- do denylist.append(column | lower) -%}
        {%- endfor -%}
    {%- endfor -%}
{%- endif -%}
{%- set offenders = [] -%}
{%- if execute -%}
    {%- set relations = [] -%}
    {%- for node in graph.nodes.values()
          if node.resource_type in ('model', 'seed') and node.package_name == project_name
             and node.config.materialized != 'ephemeral' -%}
        {%- do relations.append((node.name, node.database, node.schema, node.alias)) -%}
    {%- endfor -%}
    {#- macros/adapters/columns_named.sql -#}
    {%- set offenders = columns_named(relations, denylist) -%}
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
