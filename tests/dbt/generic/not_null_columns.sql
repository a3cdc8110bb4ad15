{#- Every listed column is filled: one test per table instead of one per
    column (one query, one dbt node). Returns one row per column that has
    nulls, with how many rows: the column name and a count, never a value.
    The failure count is the number of null rows, as a per-column not_null
    test's was; record_run names the columns in audit.run_log. -#}
{% test not_null_columns(model, columns) %}
    {{ config(fail_calc='coalesce(sum(null_rows), 0)') }}
    with

    null_counts as (
        select
            {%- for column in columns %}
            sum(case when {{ column }} is null then 1 else 0 end) as {{ column }}
            {%- if not loop.last %},{% endif %}
            {%- endfor %}
        from {{ model }}
    ),

    per_column as (
        {%- for column in columns %}
        select
            '{{ column }}' as column_name,
            {{ column }} as null_rows
        from null_counts
        {%- if not loop.last %}
        union all
        {%- endif %}
        {%- endfor %}
    )

    select * from per_column
    where null_rows > 0
{% endtest %}
