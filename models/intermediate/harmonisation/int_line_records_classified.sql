{#- Line-level records with their drug list and metastatic-site list decoded
    through the terminology seeds. A token no seed knows quarantines the row
    (unknown_drug / unknown_code) instead of being dropped silently. -#}
{#- A raw row is keyed by center, table, file and row number (a center may
    deliver one table as several files, each numbered from 1); files are
    compared with `is not distinct from` so unit-test fixtures may leave the
    file out. -#}
with

records as (
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

valid_records as (
    select * from records
    where quarantine_reason is null
),

drug_matches as (
    {#- a token matches when '|token|' occurs in the list with its separators
        doubled ('||a||b||'), which also counts a token listed twice -#}
    select
        valid_records.center_id,
        valid_records.source_table,
        valid_records.source_file_name,
        valid_records.source_row_number,
        drug_names.generic_name,
        drug_names.is_ici,
        {{ token_occurrences('drug_names.source_name', 'valid_records.regimen_drug_list') }}
            as token_occurrences
    from valid_records
    inner join drug_names
        on {{ token_occurrences('drug_names.source_name', 'valid_records.regimen_drug_list') }} > 0
),

regimen_drugs as (
    {#- a brand and its generic name (or one drug twice) give one drug of the regimen -#}
    select distinct
        center_id,
        source_table,
        source_file_name,
        source_row_number,
        generic_name,
        is_ici
    from drug_matches
),

regimens as (
    select
        regimen_drugs.center_id,
        regimen_drugs.source_table,
        regimen_drugs.source_file_name,
        regimen_drugs.source_row_number,
        {{ dbt.listagg('regimen_drugs.generic_name', "' + '", 'order by regimen_drugs.generic_name') }}
            as regimen_name,
        max(case when regimen_drugs.is_ici then 1 else 0 end) = 1 as is_ici_regimen
    from regimen_drugs
    group by
        regimen_drugs.center_id,
        regimen_drugs.source_table,
        regimen_drugs.source_file_name,
        regimen_drugs.source_row_number
),

matched_drug_tokens as (
    select
        center_id,
        source_table,
        source_file_name,
        source_row_number,
        sum(token_occurrences) as matched_drug_count
    from drug_matches
    group by center_id, source_table, source_file_name, source_row_number
),

site_matches as (
    select
        valid_records.center_id,
        valid_records.source_table,
        valid_records.source_file_name,
        valid_records.source_row_number,
        metastatic_sites.site,
        {{ token_occurrences('metastatic_sites.source_term', 'valid_records.metastatic_site_list') }}
            as token_occurrences
    from valid_records
    inner join metastatic_sites
        on {{ token_occurrences('metastatic_sites.source_term', 'valid_records.metastatic_site_list') }} > 0
),

sites as (
    select
        center_id,
        source_table,
        source_file_name,
        source_row_number,
        sum(token_occurrences) as matched_site_count,
        count(distinct site) as metastatic_site_count,
        max(case when site = 'liver' then 1 else 0 end) = 1 as has_liver_metastases,
        max(case when site = 'brain' then 1 else 0 end) = 1 as has_brain_metastases,
        max(case when site = 'bone' then 1 else 0 end) = 1 as has_bone_metastases
    from site_matches
    group by center_id, source_table, source_file_name, source_row_number
),

classified as (
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
            records.center_id = regimens.center_id
            and records.source_table = regimens.source_table
            and records.source_file_name is not distinct from regimens.source_file_name
            and records.source_row_number = regimens.source_row_number
    left join matched_drug_tokens
        on
            records.center_id = matched_drug_tokens.center_id
            and records.source_table = matched_drug_tokens.source_table
            and records.source_file_name is not distinct from matched_drug_tokens.source_file_name
            and records.source_row_number = matched_drug_tokens.source_row_number
    left join sites
        on
            records.center_id = sites.center_id
            and records.source_table = sites.source_table
            and records.source_file_name is not distinct from sites.source_file_name
            and records.source_row_number = sites.source_row_number
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
