{#- One row per study and matched patient: the patient's analysis_cohort row,
    its pair and the pair's matching method. It is a join, no estimate, so
    the warehouse makes it, under its memory cap and spilling as it must:
    no Python model holds the cohort's every column for it. What the join
    needs of matched_pairs (each member a patient of the study's cohort, the
    treated in the ICI arm, the control not, no patient in two pairs) is
    checked by assert_matched_pairs_join_the_cohort and this table's
    unique_combination test, before any statistic reads it. Rows are in no
    particular order; the statistics put them in a key-independent order.
    Columns: the cohort row as analysis_cohort has it, then the pair. -#}
with

matched_pairs as (
    select * from {{ ref('matched_pairs') }}
),

analysis_cohort as (
    select * from {{ ref('analysis_cohort') }}
),

pair_members as (
    select
        study_id,
        pair_id,
        treated_patient_id as patient_id,
        matching_method,
        matching_caliper_sd,
        random_seed
    from matched_pairs
    union all
    select
        study_id,
        pair_id,
        control_patient_id as patient_id,
        matching_method,
        matching_caliper_sd,
        random_seed
    from matched_pairs
),

final as (
    select
        analysis_cohort.*,
        pair_members.pair_id,
        pair_members.matching_method,
        pair_members.matching_caliper_sd,
        pair_members.random_seed,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp) as built_at
    from pair_members
    inner join analysis_cohort
        on
            pair_members.study_id = analysis_cohort.study_id
            and pair_members.patient_id = analysis_cohort.patient_id
)

select * from final
