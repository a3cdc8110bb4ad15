{#- Every patient seen in any valid record, indexed to the start of second
    line, with the first rule of eligibility they fail (exclusion_reason is
    null for the eligible). Eligible: a second line starting inside the study
    window, after a first line with documented progression, with follow-up
    after the index date and every baseline covariate recorded; a person
    already eligible under another record (same national ID) is excluded. -#}
with

lines as (
    select * from {{ ref('int_treatment_lines_unioned') }}
),

baselines as (
    select * from {{ ref('int_patient_baselines_unioned') }}
),

patients as (
    select
        patient_id,
        center_id
    from lines
    union
    select
        patient_id,
        center_id
    from baselines
),

first_lines as (
    select * from lines
    where line_number = 1
),

second_lines as (
    select * from lines
    where line_number = 2
),

indexed as (
    select
        patients.patient_id,
        baselines.person_link_id,
        patients.center_id,
        second_lines.line_start_date as second_line_start_date,
        second_lines.source_table as second_line_source_table,
        second_lines.source_row_number as second_line_source_row_number,
        second_lines.regimen_name as second_line_regimen,
        second_lines.is_ici_regimen as is_ici,
        second_lines.best_response,
        second_lines.progression_date as second_line_progression_date,
        second_lines.last_progression_free_date as second_line_last_progression_free_date,
        second_lines.next_line_start_date as third_line_start_date,
        first_lines.line_start_date as first_line_start_date,
        first_lines.progression_date as first_line_progression_date,
        first_lines.is_ici_regimen as had_first_line_ici,
        baselines.birth_year,
        baselines.sex,
        baselines.ecog_ps,
        baselines.is_ever_smoker,
        baselines.has_liver_metastases,
        baselines.has_brain_metastases,
        baselines.has_bone_metastases,
        baselines.metastatic_site_count,
        baselines.had_thoracic_radiotherapy,
        baselines.had_prophylactic_cranial_irradiation,
        baselines.death_date,
        baselines.last_contact_date,
        case
            when second_lines.patient_id is null then 'no_second_line'
            when baselines.patient_id is null then 'no_baseline_record'
            when first_lines.progression_date is null then 'no_first_line_progression'
            when
                second_lines.line_start_date
                < cast('{{ var("study_window_start_date") }}' as date)
                or second_lines.line_start_date
                > cast('{{ var("study_window_end_date") }}' as date)
                then 'second_line_outside_study_window'
            when baselines.death_date is null and baselines.last_contact_date is null
                then 'no_follow_up'
            {#- center B keeps vital status apart from the lines, so only here
                can follow-up end before the derived second-line start -#}
            when
                baselines.death_date < second_lines.line_start_date
                or baselines.last_contact_date < second_lines.line_start_date
                then 'follow_up_before_second_line'
            when
                baselines.birth_year is null
                or baselines.sex is null
                or baselines.ecog_ps is null
                or baselines.is_ever_smoker is null
                or baselines.has_liver_metastases is null
                or baselines.has_brain_metastases is null
                or baselines.has_bone_metastases is null
                or baselines.metastatic_site_count is null
                or baselines.had_thoracic_radiotherapy is null
                or baselines.had_prophylactic_cranial_irradiation is null
                or first_lines.is_ici_regimen is null
                then 'missing_baseline_covariate'
        end as first_failed_rule
    from patients
    left join second_lines
        on patients.patient_id = second_lines.patient_id
    left join first_lines
        on patients.patient_id = first_lines.patient_id
    left join baselines
        on patients.patient_id = baselines.patient_id
),

ranked as (
    {#- One person, one analysis record: among a person's otherwise eligible
        records, the earliest second-line start is kept (then center, export
        and raw row, so the choice depends neither on row order nor on the key). -#}
    select
        indexed.*,
        case
            when indexed.first_failed_rule is null and indexed.person_link_id is not null
                then row_number() over (
                    partition by indexed.person_link_id, indexed.first_failed_rule
                    order by
                        indexed.second_line_start_date,
                        indexed.center_id,
                        indexed.second_line_source_table,
                        indexed.second_line_source_row_number
                )
        end as person_record_rank
    from indexed
),

final as (
    select
        patient_id,
        person_link_id,
        center_id,
        second_line_start_date,
        second_line_source_table,
        second_line_source_row_number,
        second_line_regimen,
        is_ici,
        best_response,
        second_line_progression_date,
        second_line_last_progression_free_date,
        third_line_start_date,
        first_line_start_date,
        first_line_progression_date,
        had_first_line_ici,
        birth_year,
        sex,
        ecog_ps,
        is_ever_smoker,
        has_liver_metastases,
        has_brain_metastases,
        has_bone_metastases,
        metastatic_site_count,
        had_thoracic_radiotherapy,
        had_prophylactic_cranial_irradiation,
        death_date,
        last_contact_date,
        case
            when first_failed_rule is not null then first_failed_rule
            when person_record_rank > 1 then 'same_person_as_another_patient'
        end as exclusion_reason
    from ranked
)

select * from final
