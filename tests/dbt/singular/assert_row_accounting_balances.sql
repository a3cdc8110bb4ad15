{#- Nothing is lost silently: for every raw export the build reads, the
    records of its file equal the rows row_accounting gives it, and its
    rows_in. The records are counted by audit.run_inputs with a reader that
    shares nothing with the DuckDB reader the models use (Python's csv
    module, a Parquet file's footer), so a file the models misread cannot
    balance with itself. A table delivered as several files is summed here;
    assert_raw_rows_balance_per_file checks each file. Returns the exports
    that do not balance. -#}
with

recounted as (
    select
        center_id,
        source_table,
        sum(record_count) as raw_rows
    from {{ ref('run_inputs') }}
    group by center_id, source_table
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
        coalesce(recounted.center_id, accounted.center_id) as center_id,
        coalesce(recounted.source_table, accounted.source_table) as source_table,
        recounted.raw_rows,
        accounted.accounted_rows,
        accounted.min_rows_in,
        accounted.max_rows_in
    from recounted
    full outer join accounted
        on
            recounted.center_id = accounted.center_id
            and recounted.source_table = accounted.source_table
)

select * from compared
where
    raw_rows is null
    or accounted_rows is null
    or raw_rows != accounted_rows
    or min_rows_in != raw_rows
    or max_rows_in != raw_rows
