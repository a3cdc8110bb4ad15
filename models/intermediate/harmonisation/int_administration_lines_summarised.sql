{#- One row per derived line (administration-level centers), in the shape of
    the line-level exports: regimen, ICI flag, start, progression (first PD
    assessment after the start, up to the next line's start) and best overall
    response (best RECIST code among assessments in that window; NE if none). -#}
with

{# Import CTEs read twice each: scanned again per reader rather than held
    (macros/adapters/cte_not_materialized.sql). #}
days as {{ cte_not_materialized() }} (
    select * from {{ ref('int_administration_days_lined') }}
),

administrations as (
    select * from ({{ union_center_models('drug_administrations') }}) as center_administrations
    where quarantine_reason is null and drug_class != 'supportive'
),

assessments as {{ cte_not_materialized() }} (
    select * from ({{ union_center_models('assessments') }}) as center_assessments
    where quarantine_reason is null
),

response_codes as (
    select * from {{ ref('terminology__recist_response_codes') }}
),

line_drugs as (
    select distinct
        days.patient_id,
        days.line_number,
        administrations.drug_generic_name,
        administrations.is_ici
    from days
    inner join administrations
        on
            days.patient_id = administrations.patient_id
            and days.administration_date = administrations.administration_date
),

regimens as (
    select
        patient_id,
        line_number,
        {{ dbt.listagg('drug_generic_name', "' + '", 'order by drug_generic_name') }}
            as regimen_name,
        max(case when is_ici then 1 else 0 end) = 1 as is_ici_regimen
    from line_drugs
    group by patient_id, line_number
),

line_files as (
    {#- a line's days grouped by the file of their first record -#}
    select
        patient_id,
        center_id,
        line_number,
        first_source_file_name,
        min(administration_date) as line_start_date,
        min(first_source_row_number) as first_source_row_number
    from days
    group by patient_id, center_id, line_number, first_source_file_name
),

lines as (
    select
        patient_id,
        center_id,
        line_number,
        min(line_start_date) as line_start_date,
        min(first_source_file_name) as source_file_name,
        {#- the line's first record: the first row of its first file -#}
        min(case when first_source_file_name = line_first_file_name then first_source_row_number end)
            as source_row_number
    from (
        select
            line_files.*,
            min(first_source_file_name) over (
                partition by patient_id, line_number
            ) as line_first_file_name
        from line_files
    ) as line_files_with_first_file
    group by patient_id, center_id, line_number
),

lines_bounded as (
    select
        lines.*,
        lead(line_start_date) over (
            partition by patient_id order by line_number
        ) as next_line_start_date
    from lines
),

progressions as (
    select
        lines_bounded.patient_id,
        lines_bounded.line_number,
        min(assessments.assessment_date) as progression_date
    from lines_bounded
    inner join assessments
        on
            lines_bounded.patient_id = assessments.patient_id
            and assessments.response_code = 'PD'
            and lines_bounded.line_start_date < assessments.assessment_date
            and (
                lines_bounded.next_line_start_date is null
                or lines_bounded.next_line_start_date >= assessments.assessment_date
            )
    group by lines_bounded.patient_id, lines_bounded.line_number
),

best_responses as (
    select
        lines_bounded.patient_id,
        lines_bounded.line_number,
        min(response_codes.best_response_rank) as best_response_rank
    from lines_bounded
    left join progressions
        on
            lines_bounded.patient_id = progressions.patient_id
            and lines_bounded.line_number = progressions.line_number
    inner join assessments
        on
            lines_bounded.patient_id = assessments.patient_id
            and lines_bounded.line_start_date < assessments.assessment_date
            and assessments.assessment_date <= coalesce(
                progressions.progression_date,
                lines_bounded.next_line_start_date,
                assessments.assessment_date
            )
    inner join response_codes
        on assessments.response_code = response_codes.response_code
    group by lines_bounded.patient_id, lines_bounded.line_number
),

final as (
    select
        lines_bounded.patient_id,
        lines_bounded.center_id,
        'drug_administrations' as source_table,
        lines_bounded.source_file_name,
        lines_bounded.source_row_number,
        lines_bounded.line_number,
        regimens.regimen_name,
        regimens.is_ici_regimen,
        coalesce(response_codes.response_code, 'NE') as best_response,
        lines_bounded.line_start_date,
        progressions.progression_date,
        lines_bounded.next_line_start_date
    from lines_bounded
    inner join regimens
        on
            lines_bounded.patient_id = regimens.patient_id
            and lines_bounded.line_number = regimens.line_number
    left join progressions
        on
            lines_bounded.patient_id = progressions.patient_id
            and lines_bounded.line_number = progressions.line_number
    left join best_responses
        on
            lines_bounded.patient_id = best_responses.patient_id
            and lines_bounded.line_number = best_responses.line_number
    left join response_codes
        on best_responses.best_response_rank = response_codes.best_response_rank
)

select * from final
