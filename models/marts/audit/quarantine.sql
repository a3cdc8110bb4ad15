{#- One row per rejected raw row: where it is (center, file, row, column) and
    why, in words. Holds pointers, not the raw values, so no identifier leaks. -#}
with

accounted as (
    select * from {{ ref('int_raw_rows_accounted') }}
    where row_status = 'quarantined'
),

reasons as (
    select * from {{ ref('terminology__row_outcome_reasons') }}
),

final as (
    select
        accounted.center_id,
        accounted.source_table,
        accounted.source_file_name,
        accounted.source_row_number,
        accounted.failing_column,
        accounted.reason,
        {{ dbt.concat([
            "'Row '", dbt.safe_cast('accounted.source_row_number', dbt.type_string()),
            "' of '", 'accounted.source_file_name',
            "' (center '", 'accounted.center_id', "', table '", 'accounted.source_table',
            "'): column '", 'accounted.failing_column', "' '", 'reasons.description', "'.'"
        ]) }} as reason_description
    from accounted
    left join reasons
        on accounted.reason = reasons.reason
)

select * from final
