{#- Center C: one row per treatment line, Chinese codes, pinyin drug names,
    PFS in days and OS in months from the line start. Times are turned into
    dates here so every center reaches the intermediate layer in one shape.
    Direct identifiers stop here. -#}
with

source as (
    select * from {{ source('center_c', 'lines') }}
),

sex_codes as (
    select * from {{ ref('terminology__sex_codes') }}
),

yes_no_codes as (
    select * from {{ ref('terminology__yes_no_codes') }}
),

responses as (
    select * from {{ ref('terminology__recist_responses') }}
),

parsed as (
    select
        ---------- provenance
        source.source_file_name,
        cast(source.source_row_number as {{ dbt.type_int() }}) as source_row_number,
        ---------- keys
        nullif(trim(source.case_no), '') as center_patient_key,
        ---------- raw text kept for the quality ladder below
        source.birth_date as birth_date_text,
        source.start_date as start_date_text,
        source.ps_score as ecog_text,
        source.line_number as line_number_text,
        source.response as response_text,
        source.pfs_days as pfs_days_text,
        source.os_months as os_months_text,
        source.smoking as smoking_text,
        source.thoracic_rt as thoracic_rt_text,
        source.pci as pci_text,
        nullif(upper(replace(replace(trim(source.id_number), ' ', ''), '-', '')), '')
            as national_id_normalised,
        ---------- recoded attributes
        sex_codes.sex,
        smoking.is_yes as is_ever_smoker,
        thoracic_rt.is_yes as had_thoracic_radiotherapy,
        pci.is_yes as had_prophylactic_cranial_irradiation,
        progressed.is_yes as has_progressed,
        dead.is_yes as has_died,
        {{ safe_cast_whole_number('source.ps_score') }} as ecog_ps,
        {{ safe_cast_whole_number("replace(upper(trim(source.line_number)), 'L', '')") }} as line_number,
        responses.response_code as best_response,
        lower(trim(source.regimen_pinyin)) as regimen_text,
        trim(source.met_sites) as metastatic_sites_text,
        {{ safe_cast_whole_number('source.pfs_days') }} as pfs_days,
        {{ dbt.safe_cast('source.os_months', type_double()) }} as os_months,
        ---------- dates
        cast(extract(year from {{ parse_date('source.birth_date', 'YYYY/M/D') }}) as {{ dbt.type_int() }}) as birth_year,
        {{ parse_date('source.start_date', 'YYYYMMDD') }} as line_start_date,
        ---------- exact-duplicate detection (the export has no row id)
        row_number() over (
            partition by
                source.case_no, source.patient_name, source.id_number, source.birth_date,
                source.sex, source.ps_score, source.smoking, source.met_sites,
                source.thoracic_rt, source.pci, source.line_number, source.regimen_pinyin,
                source.start_date, source.pfs_days, source.progressed, source.os_months,
                source.dead, source.response
            order by cast(source.source_row_number as {{ dbt.type_int() }})
        ) as copy_number
    from source
    left join sex_codes
        on trim(source.sex) = lower(sex_codes.source_term)
    left join yes_no_codes as smoking
        on lower(trim(source.smoking)) = lower(smoking.source_term)
    left join yes_no_codes as thoracic_rt
        on trim(source.thoracic_rt) = thoracic_rt.source_term
    left join yes_no_codes as pci
        on trim(source.pci) = pci.source_term
    left join yes_no_codes as progressed
        on trim(source.progressed) = progressed.source_term
    left join yes_no_codes as dead
        on trim(source.dead) = dead.source_term
    left join responses
        on lower(trim(source.response)) = lower(responses.source_term)
),

dated as (
    {#- only times within 100 years are turned into dates: NaN, infinity or
        2000000000 days (quarantined below) would overflow the date type -#}
    select
        parsed.*,
        case
            when parsed.pfs_days between -36525 and 36525
                then {{ dbt.dateadd('day', 'parsed.pfs_days', 'parsed.line_start_date') }}
        end as pfs_end_date,
        {#- months are exported as days / 30.4375, rounded to 2 decimals -#}
        case
            when parsed.os_months between -1200 and 1200
                then {{ dbt.dateadd('day', 'cast(round(parsed.os_months * 30.4375, 0) as ' ~ dbt.type_int() ~ ')',
                                    'parsed.line_start_date') }}
        end as os_end_date
    from parsed
),

checked as (
    select
        dated.*,
        {{ first_quality_failure([
            ('missing_required_value', 'case_no', "dated.center_patient_key is null"),
            ('missing_required_value', 'start_date', "nullif(trim(dated.start_date_text), '') is null"),
            ('missing_required_value', 'line_number', "nullif(trim(dated.line_number_text), '') is null"),
            ('missing_required_value', 'pfs_days', "nullif(trim(dated.pfs_days_text), '') is null"),
            ('missing_required_value', 'os_months', "nullif(trim(dated.os_months_text), '') is null"),
            ('unparseable_date', 'start_date', "dated.line_start_date is null"),
            ('unparseable_date', 'birth_date', "dated.birth_year is null and nullif(trim(dated.birth_date_text), '') is not null"),
            ('unknown_code', 'line_number', "dated.line_number is null or dated.line_number < 1"),
            ('unknown_code', 'sex', "dated.sex is null"),
            ('unknown_code', 'ps_score', "nullif(trim(dated.ecog_text), '') is not null and (dated.ecog_ps is null or dated.ecog_ps not between 0 and 4)"),
            ('unknown_code', 'response', "dated.best_response is null and nullif(trim(dated.response_text), '') is not null"),
            ('unknown_code', 'smoking', "dated.is_ever_smoker is null and nullif(trim(dated.smoking_text), '') is not null"),
            ('unknown_code', 'thoracic_rt', "dated.had_thoracic_radiotherapy is null and nullif(trim(dated.thoracic_rt_text), '') is not null"),
            ('unknown_code', 'pci', "dated.had_prophylactic_cranial_irradiation is null and nullif(trim(dated.pci_text), '') is not null"),
            ('unknown_code', 'progressed', "dated.has_progressed is null"),
            ('unknown_code', 'dead', "dated.has_died is null"),
            ('unknown_code', 'pfs_days', "dated.pfs_days is null or dated.pfs_days not between -36525 and 36525"),
            ('unknown_code', 'os_months', "dated.os_months is null or not (dated.os_months between -1200 and 1200)"),
            ('date_after_build_date', 'start_date', "dated.line_start_date > " ~ build_date()),
            ('date_after_build_date', 'birth_date', "dated.birth_year > extract(year from " ~ build_date() ~ ")"),
            ('date_after_build_date', 'pfs_days', "dated.pfs_end_date > " ~ build_date()),
            ('date_after_build_date', 'os_months', "dated.os_end_date > " ~ build_date()),
            ('date_order_violation', 'pfs_days', "dated.pfs_days < 0"),
            ('date_order_violation', 'os_months', "dated.os_months < 0"),
            ('duplicate_row', 'case_no', "dated.copy_number > 1"),
        ]) }}
    from dated
),

final as (
    select
        ---------- keys
        {{ pseudonymise('center_c', 'center_patient_key') }} as patient_id,
        {{ folded_patient_id('center_c', 'center_patient_key') }} as folded_patient_id,
        {{ person_link_columns('national_id_normalised', 'prc_resident_id', 'id_number') }},
        ---------- provenance
        'center_c' as center_id,
        'lines' as source_table,
        source_file_name,
        source_row_number,
        ---------- patient attributes
        birth_year,
        sex,
        is_ever_smoker,
        had_thoracic_radiotherapy,
        had_prophylactic_cranial_irradiation,
        ---------- line attributes
        line_number,
        ecog_ps,
        {#- lists are normalised to '|'-separated lower-case tokens -#}
        replace(regimen_text, '+', '|') as regimen_drug_list,
        replace(metastatic_sites_text, '、', '|') as metastatic_site_list,
        best_response,
        ---------- dates
        line_start_date,
        case when has_progressed then cast(pfs_end_date as date) end as progression_date,
        case when not has_progressed then cast(pfs_end_date as date) end
            as last_progression_free_date,
        case when has_died then cast(os_end_date as date) end as death_date,
        case when not has_died then cast(os_end_date as date) end as last_contact_date,
        ---------- data quality
        quarantine_reason,
        failing_column,
        ---------- raw column names of the lists, for quarantine messages
        'regimen_pinyin' as regimen_source_column,
        'met_sites' as metastatic_sites_source_column
    from checked
)

select * from final
