{#- One row per raw export file this build reads (a table delivered as
    several files has a row per file): the project's sources whose meta
    maps columns (raw_exports(), the exports the on-run-start gate
    checks). run_inputs fingerprints and recounts exactly these files. -#}
with

declared as (
    {%- set exports = [] -%}
    {%- for table in raw_exports() -%}
        {%- do exports.extend(export_file_views(table)) -%}
    {%- endfor %}
    {% for src in exports %}
        select
            '{{ src.meta["center_id"] }}' as center_id,
            '{{ export_name(src) }}' as source_table,
            '{{ raw_export_file_name(src) }}' as file_path
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
    {% if not exports %}
        select
            cast(null as {{ dbt.type_string() }}) as center_id,
            cast(null as {{ dbt.type_string() }}) as source_table,
            cast(null as {{ dbt.type_string() }}) as file_path
        where 1 = 0
    {% endif %}
),

final as (
    select * from declared
)

select * from final
