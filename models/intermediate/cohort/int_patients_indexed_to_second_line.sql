{#- Every patient seen in any valid record, indexed to the start of second
    line, with the first rule of eligibility they fail (exclusion_reason is
    null for the eligible). Eligible: a second line starting inside the study
    window, after a first line with documented progression. -#}
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
        patients.center_id,
        second_lines.line_start_date as second_line_start_date,
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
            when baselines.ecog_ps is null then 'missing_baseline_covariate'
        end as exclusion_reason
    from patients
    left join second_lines
        on patients.patient_id = second_lines.patient_id
    left join first_lines
        on patients.patient_id = first_lines.patient_id
    left join baselines
        on patients.patient_id = baselines.patient_id
)

select * from indexed
