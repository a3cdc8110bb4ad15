{#- Every listed column is filled: one test per table instead of one per
    column (one query, one dbt node). Returns one row per column that has
    nulls, with how many rows: the column name and a count, never a value.
    The failure count is the number of null rows, as a per-column not_null
    test's was; record_run names the columns in audit.run_log.
    A column is written as the engine reads it: quote a name with spaces,
    quotes, upper case (on engines that fold it) or a reserved word in the
    list ('"Patient ID"'). The counts get positional names, not the column's,
    so two spellings of one column or a name in quotes cannot clash, and the
    name is reported as written, its single quotes escaped. -#}
{% test not_null_columns(model, columns) %}
    {{ config(fail_calc='coalesce(sum(null_rows), 0)') }}
    with

    null_counts as (
        select
            {%- for column in columns %}
            sum(case when {{ column }} is null then 1 else 0 end) as null_rows_{{ loop.index }}
            {%- if not loop.last %},{% endif %}
            {%- endfor %}
        from {{ model }}
    ),

    per_column as (
        {%- for column in columns %}
        select
            '{{ dbt.escape_single_quotes(column) }}' as column_name,
            null_rows_{{ loop.index }} as null_rows
        from null_counts
        {%- if not loop.last %}
        union all
        {%- endif %}
        {%- endfor %}
    )

    select * from per_column
    where null_rows > 0
{% endtest %}
