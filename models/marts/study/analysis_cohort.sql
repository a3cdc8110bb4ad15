{#- One row per study and eligible patient: the harmonised, analysis-ready
    study table (contract: docs/analysis-cohort-contract.md). Every study's
    rows are in this one table, keyed by study_id (studies/<study_id>.yml):
    a column, not a schema per study, so a new spec needs no new relation,
    grant or BI connection, and every statistics table stays one table. -#}
with

indexed as (
    select * from {{ ref('int_study_patients_indexed') }}
    where exclusion_reason is null
),

outcomes as (
    select * from {{ ref('int_second_line_outcomes_derived') }}
),

response_codes as (
    select * from {{ ref('terminology__recist_response_codes') }}
),

final as (
    select
        ---------- keys
        indexed.study_id,
        indexed.patient_id,
        indexed.center_id,
        ---------- provenance of the second-line record (independent of the key)
        indexed.second_line_source_table,
        indexed.second_line_source_file_name,
        indexed.is_second_line_source_split,
        indexed.second_line_source_row_number,
        ---------- treatment
        {# the arm labels the statistics tables key on; the spec's labels
           (exposure.label, comparator.label) name them in the report #}
        case when indexed.is_ici then 'ICI' else 'non-ICI' end as arm,
        indexed.is_ici,
        indexed.second_line_start_date,
        indexed.second_line_regimen,
        ---------- baseline covariates
        cast(
            extract(year from indexed.second_line_start_date) - indexed.birth_year
            as {{ dbt.type_int() }}
        ) as age_years,
        extract(year from indexed.second_line_start_date) - indexed.birth_year >= 65
            as is_age_65_or_older,
        indexed.sex,
        indexed.sex = 'male' as is_male,
        indexed.ecog_ps,
        indexed.ecog_ps >= 2 as is_ecog_2_or_more,
        indexed.is_ever_smoker,
        indexed.has_liver_metastases,
        indexed.has_brain_metastases,
        indexed.has_bone_metastases,
        cast(indexed.metastatic_site_count as {{ dbt.type_int() }}) as metastatic_site_count,
        indexed.metastatic_site_count >= 3 as has_three_or_more_metastatic_sites,
        indexed.had_thoracic_radiotherapy,
        indexed.had_prophylactic_cranial_irradiation,
        indexed.had_first_line_ici,
        {{ days_to_months(dbt.datediff('indexed.first_line_start_date',
                                       'indexed.first_line_progression_date', 'day')) }}
            as first_line_pfs_months,
        {{ days_to_months(dbt.datediff('indexed.first_line_start_date',
                                       'indexed.first_line_progression_date', 'day')) }} >= 6
            as is_first_line_pfs_6_months_or_more,
        ---------- outcomes
        outcomes.pfs_months,
        outcomes.is_pfs_event,
        outcomes.os_months,
        outcomes.is_os_event,
        {#- where each endpoint's follow-up ends (event, censoring or the cut-off):
            the censoring-reasons table tells the cut-off from earlier censoring -#}
        outcomes.pfs_end_date,
        outcomes.os_end_date,
        response_codes.response_code as best_response,
        response_codes.is_objective_response,
        response_codes.is_disease_control
    from indexed
    inner join outcomes
        on
            indexed.study_id = outcomes.study_id
            and indexed.patient_id = outcomes.patient_id
    inner join response_codes
        on coalesce(indexed.best_response, 'NE') = response_codes.response_code
)

select * from final
