{#- One row per patient of a center that has true lines (the generator's,
    stg_validation__true_lines): the lines derived from its administrations
    (int_administration_lines_summarised) against the true ones, paired by
    line number. A patient with derived lines and none true (or the reverse)
    is kept, with 0 lines on the missing side. Starts and regimens agree only
    when the line counts do and every pair agrees: starts within var
    line_start_tolerance_days, regimens (generic drug names) equal. -#}
with

true_lines as (
    select * from {{ ref('stg_validation__true_lines') }}
),

validated_centers as (
    select distinct center_id from true_lines
),

derived_lines as (
    select
        derived.patient_id,
        derived.center_id,
        derived.line_number,
        derived.line_start_date,
        derived.regimen_name
    from {{ ref('int_administration_lines_summarised') }} as derived
    inner join validated_centers
        on derived.center_id = validated_centers.center_id
),

line_pairs as (
    select
        coalesce(true_lines.center_id, derived_lines.center_id) as center_id,
        coalesce(true_lines.patient_id, derived_lines.patient_id) as patient_id,
        true_lines.line_number as true_line_number,
        derived_lines.line_number as derived_line_number,
        case
            when
                true_lines.line_number is not null
                and derived_lines.line_number is not null
                and abs({{ dbt.datediff(
                    'true_lines.line_start_date', 'derived_lines.line_start_date', 'day'
                ) }}) <= {{ var('line_start_tolerance_days') }}
                then 1
            else 0
        end as is_start_within_tolerance,
        case
            when true_lines.regimen_name = derived_lines.regimen_name then 1
            else 0
        end as is_same_regimen
    from true_lines
    full outer join derived_lines
        on
            true_lines.center_id = derived_lines.center_id
            and true_lines.patient_id = derived_lines.patient_id
            and true_lines.line_number = derived_lines.line_number
),

final as (
    select
        center_id,
        patient_id,
        count(true_line_number) as true_line_count,
        count(derived_line_number) as derived_line_count,
        count(true_line_number) = count(derived_line_number) as has_same_line_count,
        min(is_start_within_tolerance) = 1 as has_line_starts_within_tolerance,
        min(is_same_regimen) = 1 as has_same_regimens
    from line_pairs
    group by center_id, patient_id
)

select * from final
