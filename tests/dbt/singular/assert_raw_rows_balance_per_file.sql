{#- Every file of every export is accounted for on its own: the rows the
    warehouse gives each file (int_raw_rows_accounted, one row per raw row
    with its source file and its per-file row number) equal the records
    audit.run_inputs counts in that file with its own reader, and the row
    numbers of a file run 1..n. A table delivered as several files
    (lines_2019.csv, lines_2020.csv) balances per file, not only in total.
    Returns the files that do not balance. -#}
with

recounted as (
    select
        center_id,
        source_table,
        '{{ var("raw_data_dir", "data/raw") }}/' || file_path as source_file_name,
        record_count as raw_rows
    from {{ ref('run_inputs') }}
),

accounted as (
    select
        center_id,
        source_table,
        source_file_name,
        count(*) as accounted_rows,
        count(distinct source_row_number) as distinct_row_numbers,
        min(source_row_number) as first_row_number,
        max(source_row_number) as last_row_number
    from {{ ref('int_raw_rows_accounted') }}
    group by center_id, source_table, source_file_name
),

compared as (
    select
        coalesce(recounted.center_id, accounted.center_id) as center_id,
        coalesce(recounted.source_table, accounted.source_table) as source_table,
        coalesce(recounted.source_file_name, accounted.source_file_name) as source_file_name,
        recounted.raw_rows,
        accounted.accounted_rows,
        accounted.distinct_row_numbers,
        accounted.first_row_number,
        accounted.last_row_number
    from recounted
    full outer join accounted
        on
            recounted.center_id = accounted.center_id
            and recounted.source_table = accounted.source_table
            and recounted.source_file_name = accounted.source_file_name
)

select * from compared
where
    raw_rows is null
    or accounted_rows is null
    or raw_rows != accounted_rows
    or distinct_row_numbers != accounted_rows
    or first_row_number != 1
    or last_row_number != accounted_rows
