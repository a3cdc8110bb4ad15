{#- Per center, raw table, outcome and reason: how many raw rows. For each
    center and table the rows sum to rows_in (a singular test checks it
    against a direct count of the raw export). -#}
with

accounted as (
    select * from {{ ref('int_raw_rows_accounted') }}
),

counted as (
    select
        center_id,
        source_table,
        row_status,
        reason,
        count(*) as row_count
    from accounted
    group by center_id, source_table, row_status, reason
),

totals as (
    select
        center_id,
        source_table,
        count(*) as rows_in
    from accounted
    group by center_id, source_table
),

final as (
    select
        counted.center_id,
        counted.source_table,
        totals.rows_in,
        counted.row_status,
        counted.reason,
        counted.row_count
    from counted
    inner join totals
        on
            counted.center_id = totals.center_id
            and counted.source_table = totals.source_table
)

select * from final
