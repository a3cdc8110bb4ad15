{#- matched_cohort is exactly the two patients of every pair: each member of
    a pair in matched_pairs is a patient of its study's analysis_cohort, and
    found in matched_cohort on the right side (the treated in the ICI arm,
    the control not). A patient in two pairs fails matched_cohort's
    unique_combination test. Returns one row per pair member that breaks
    this, with the reason (pair and side, never a patient's values). Its
    most downstream parent is matched_cohort, so a failure skips every
    statistic that reads it. -#}
with

matched_pairs as (
    select * from {{ ref('matched_pairs') }}
),

matched_cohort as (
    select * from {{ ref('matched_cohort') }}
),

pair_members as (
    select
        study_id,
        pair_id,
        'treated' as pair_side,
        treated_patient_id as patient_id
    from matched_pairs
    union all
    select
        study_id,
        pair_id,
        'control' as pair_side,
        control_patient_id as patient_id
    from matched_pairs
),

joined as (
    select
        pair_members.study_id,
        pair_members.pair_id,
        pair_members.pair_side,
        matched_cohort.is_ici
    from pair_members
    left join matched_cohort
        on
            pair_members.study_id = matched_cohort.study_id
            and pair_members.pair_id = matched_cohort.pair_id
            and pair_members.patient_id = matched_cohort.patient_id
)

select
    study_id,
    pair_id,
    pair_side,
    case
        when is_ici is null then 'not a patient of the study in analysis_cohort'
        when pair_side = 'treated' then 'treated patient not in the ICI arm'
        else 'control patient in the ICI arm'
    end as reason
from joined
where is_ici is null or is_ici <> (pair_side = 'treated')
