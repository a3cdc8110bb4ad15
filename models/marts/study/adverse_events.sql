{#- One row per study, cohort patient and adverse-event term on second line,
    with the worst CTCAE grade recorded for that term. -#}
with

adverse_events as (
    select * from {{ ref('int_adverse_events_lined') }}
    where quarantine_reason is null and line_number = 2
),

cohort as (
    select * from {{ ref('analysis_cohort') }}
),

worst_grades as (
    select
        cohort.study_id,
        cohort.patient_id,
        cohort.center_id,
        cohort.arm,
        adverse_events.ae_term,
        max(adverse_events.ctcae_grade) as ctcae_grade
    from adverse_events
    inner join cohort
        on adverse_events.patient_id = cohort.patient_id
    group by cohort.study_id, cohort.patient_id, cohort.center_id, cohort.arm, adverse_events.ae_term
)

select * from worst_grades
