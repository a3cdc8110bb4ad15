{#- Nothing is lost silently: for every raw export, a direct count of its rows
    equals the rows row_accounting gives it, and its rows_in. Returns the
    exports that do not balance. -#}
with

raw_counts as (
    {%- set exports = [] -%}
    {%- if execute -%}
        {%- for src in graph.sources.values()
              if src.package_name == project_name and src.meta.get('required_columns') -%}
            {%- do exports.append(src) -%}
        {%- endfor -%}
    {%- endif %}
    {% for src in exports %}
        select
            '{{ src.meta.get("center_id", src.source_name) }}' as center_id,
            '{{ src.name }}' as source_table,
            count(*) as raw_rows
        from {{ raw_export_relation_sql(src) }} as export
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
    {% if not exports %}select 'none' as center_id, 'none' as source_table, 0 as raw_rows{% endif %}
),

accounted as (
    select
        center_id,
        source_table,
        sum(row_count) as accounted_rows,
        min(rows_in) as min_rows_in,
        max(rows_in) as max_rows_in
    from {{ ref('row_accounting') }}
    group by center_id, source_table
),

compared as (
    select
        coalesce(raw_counts.center_id, accounted.center_id) as center_id,
        coalesce(raw_counts.source_table, accounted.source_table) as source_table,
        raw_counts.raw_rows,
        accounted.accounted_rows,
        accounted.min_rows_in,
        accounted.max_rows_in
    from raw_counts
    full outer join accounted
        on
            raw_counts.center_id = accounted.center_id
            and raw_counts.source_table = accounted.source_table
)

select * from compared
where
    raw_rows is null
    or accounted_rows is null
    or raw_rows != accounted_rows
    or min_rows_in != raw_rows
    or max_rows_in != raw_rows
