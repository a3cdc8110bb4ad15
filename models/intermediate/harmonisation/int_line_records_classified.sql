{#- Line-level records with their drug list and metastatic-site list decoded
    through the terminology seeds. A token no seed knows quarantines the row
    (unknown_drug / unknown_code) instead of being dropped silently. -#}
with

records as {{ cte_not_materialized() }} (
    select * from {{ ref('int_line_records_unioned') }}
),

drug_names as (
    select
        lower(source_name) as source_name,
        generic_name,
        is_ici
    from {{ ref('terminology__drug_names') }}
),

metastatic_sites as (
    select
        lower(source_term) as source_term,
        site
    from {{ ref('terminology__metastatic_sites') }}
),

drug_lists as (
    {#- the lists are decoded once per distinct list string, not once per
        row: a token's matches depend on the list alone -#}
    select distinct regimen_drug_list
    from records
    where quarantine_reason is null
),

site_lists as (
    select distinct metastatic_site_list
    from records
    where quarantine_reason is null
),

drug_matches as (
    {#- a token matches when '|token|' occurs in the list with its separators
        doubled ('||a||b||'), which also counts a token listed twice -#}
    select
        drug_lists.regimen_drug_list,
        drug_names.generic_name,
        drug_names.is_ici,
        {{ token_occurrences('drug_names.source_name', 'drug_lists.regimen_drug_list') }}
            as token_occurrences
    from drug_lists
    inner join drug_names
        on {{ token_occurrences('drug_names.source_name', 'drug_lists.regimen_drug_list') }} > 0
),

regimen_drugs as (
    {#- a brand and its generic name (or one drug twice) give one drug of the regimen -#}
    select distinct
        regimen_drug_list,
        generic_name,
        is_ici
    from drug_matches
),

regimens as (
    select
        regimen_drugs.regimen_drug_list,
        {{ dbt.listagg('regimen_drugs.generic_name', "' + '", 'order by regimen_drugs.generic_name') }}
            as regimen_name,
        max(case when regimen_drugs.is_ici then 1 else 0 end) = 1 as is_ici_regimen
    from regimen_drugs
    group by regimen_drugs.regimen_drug_list
),

matched_drug_tokens as (
    select
        regimen_drug_list,
        sum(token_occurrences) as matched_drug_count
    from drug_matches
    group by regimen_drug_list
),

site_matches as (
    select
        site_lists.metastatic_site_list,
        metastatic_sites.site,
        {{ token_occurrences('metastatic_sites.source_term', 'site_lists.metastatic_site_list') }}
            as token_occurrences
    from site_lists
    inner join metastatic_sites
        on {{ token_occurrences('metastatic_sites.source_term', 'site_lists.metastatic_site_list') }} > 0
),

sites as (
    select
        metastatic_site_list,
        sum(token_occurrences) as matched_site_count,
        count(distinct site) as metastatic_site_count,
        max(case when site = 'liver' then 1 else 0 end) = 1 as has_liver_metastases,
        max(case when site = 'brain' then 1 else 0 end) = 1 as has_brain_metastases,
        max(case when site = 'bone' then 1 else 0 end) = 1 as has_bone_metastases
    from site_matches
    group by metastatic_site_list
),

classified as (
    {#- a quarantined row is not decoded (its regimen and sites stay empty) -#}
    select
        records.*,
        regimens.regimen_name,
        coalesce(regimens.is_ici_regimen, false) as is_ici_regimen,
        coalesce(sites.metastatic_site_count, 0) as metastatic_site_count,
        coalesce(sites.has_liver_metastases, false) as has_liver_metastases,
        coalesce(sites.has_brain_metastases, false) as has_brain_metastases,
        coalesce(sites.has_bone_metastases, false) as has_bone_metastases,
        {{ token_count('records.regimen_drug_list') }} as regimen_token_count,
        coalesce(matched_drug_tokens.matched_drug_count, 0) as matched_drug_count,
        {{ token_count('records.metastatic_site_list') }} as site_token_count,
        coalesce(sites.matched_site_count, 0) as matched_site_count
    from records
    left join regimens
        on
            records.quarantine_reason is null
            and records.regimen_drug_list = regimens.regimen_drug_list
    left join matched_drug_tokens
        on
            records.quarantine_reason is null
            and records.regimen_drug_list = matched_drug_tokens.regimen_drug_list
    left join sites
        on
            records.quarantine_reason is null
            and records.metastatic_site_list = sites.metastatic_site_list
),

final as (
    select
        patient_id,
        folded_patient_id,
        person_link_id,
        national_id_status,
        national_id_source_column,
        center_id,
        source_table,
        source_file_name,
        source_row_number,
        birth_year,
        sex,
        is_ever_smoker,
        had_thoracic_radiotherapy,
        had_prophylactic_cranial_irradiation,
        line_number,
        ecog_ps,
        regimen_name,
        is_ici_regimen,
        metastatic_site_count,
        has_liver_metastases,
        has_brain_metastases,
        has_bone_metastases,
        best_response,
        line_start_date,
        progression_date,
        last_progression_free_date,
        death_date,
        last_contact_date,
        case
            when quarantine_reason is not null then quarantine_reason
            when regimen_token_count = 0 then 'missing_required_value'
            when matched_drug_count < regimen_token_count then 'unknown_drug'
            when matched_site_count < site_token_count then 'unknown_code'
        end as quarantine_reason,
        case
            when quarantine_reason is not null then failing_column
            when regimen_token_count = 0 then regimen_source_column
            when matched_drug_count < regimen_token_count then regimen_source_column
            when matched_site_count < site_token_count then metastatic_sites_source_column
        end as failing_column
    from classified
)

select * from final
