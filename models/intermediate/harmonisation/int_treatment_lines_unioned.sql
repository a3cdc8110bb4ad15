{#- The harmonised line table: one row per patient per treatment line, from
    every center, whether the center exported lines or administrations.
    Quarantined records are not here (see the quarantine mart). -#}
with

line_records as (
    select * from {{ ref('int_line_records_classified') }}
    where quarantine_reason is null
),

derived_lines as (
    select * from {{ ref('int_administration_lines_summarised') }}
),

exported_lines as (
    select
        patient_id,
        center_id,
        source_table,
        source_file_name,
        source_row_number,
        line_number,
        regimen_name,
        is_ici_regimen,
        best_response,
        line_start_date,
        progression_date,
        last_progression_free_date,
        lead(line_start_date) over (
            partition by patient_id order by line_number
        ) as next_line_start_date
    from line_records
),

unioned as (
    select * from exported_lines
    union all
    select
        patient_id,
        center_id,
        source_table,
        source_file_name,
        source_row_number,
        line_number,
        regimen_name,
        is_ici_regimen,
        best_response,
        line_start_date,
        progression_date,
        cast(null as date) as last_progression_free_date,
        next_line_start_date
    from derived_lines
),

final as (
    select
        ---------- keys
        {{ dbt.concat(['patient_id', "'-L'", dbt.safe_cast('line_number', dbt.type_string())]) }}
            as treatment_line_id,
        patient_id,
        ---------- provenance
        center_id,
        source_table,
        source_file_name,
        source_row_number,
        ---------- line
        cast(line_number as {{ dbt.type_int() }}) as line_number,
        regimen_name,
        is_ici_regimen,
        best_response,
        ---------- dates
        line_start_date,
        progression_date,
        last_progression_free_date,
        next_line_start_date
    from unioned
)

select * from final
