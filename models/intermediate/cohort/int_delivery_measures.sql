{#- The delivery profile: one row per measure the delivery checks compare
    with their limits and with the last successful build. Every raw row is
    read once (one aggregation of int_raw_rows_accounted) and every patient
    once; the measures are derived from those two small aggregates.
    observed_value is observed_count / denominator for a share, the count
    itself for eligible_patients. -#}
with

accounted as (
    select * from {{ ref('int_raw_rows_accounted') }}
),

patients as (
    {#- the study whose eligibility decides a patient's row outcome and the
        delivery measures (var accounting_study_id) -#}
    select * from {{ ref('int_study_patients_indexed') }}
    where study_id = '{{ var("accounting_study_id") }}'
),

row_groups as (
    select
        center_id,
        source_table,
        row_status,
        reason,
        failing_column,
        national_id_status,
        national_id_source_column,
        count(*) as row_count
    from accounted
    group by
        center_id, source_table, row_status, reason, failing_column, national_id_status,
        national_id_source_column
),

patient_groups as (
    select
        center_id,
        exclusion_reason,
        is_ici,
        count(*) as patient_count
    from patients
    group by center_id, exclusion_reason, is_ici
),

exports as (
    select
        center_id,
        source_table,
        sum(row_count) as rows_in
    from row_groups
    group by center_id, source_table
),

center_patients as (
    select
        center_id,
        sum(patient_count) as patients_seen,
        sum(case when exclusion_reason is null then patient_count else 0 end) as eligible_patients,
        sum(case when exclusion_reason is null and is_ici then patient_count else 0 end)
            as eligible_ici_patients
    from patient_groups
    group by center_id
),

centers as (
    {#- every center with an export, also one whose patients all vanished -#}
    select
        exports.center_id,
        coalesce(max(center_patients.patients_seen), 0) as patients_seen,
        coalesce(max(center_patients.eligible_patients), 0) as eligible_patients,
        coalesce(max(center_patients.eligible_ici_patients), 0) as eligible_ici_patients
    from exports
    left join center_patients
        on exports.center_id = center_patients.center_id
    group by exports.center_id
),

quarantined_row_shares as (
    select
        'quarantined_row_share' as check_name,
        row_groups.center_id,
        row_groups.source_table,
        row_groups.failing_column as column_name,
        row_groups.reason,
        sum(row_groups.row_count) as observed_count,
        max(exports.rows_in) as denominator
    from row_groups
    inner join exports
        on
            row_groups.center_id = exports.center_id
            and row_groups.source_table = exports.source_table
    where row_groups.row_status = 'quarantined'
    group by
        row_groups.center_id, row_groups.source_table, row_groups.failing_column,
        row_groups.reason
),

invalid_national_id_shares as (
    {#- missing or invalid: either way the row links to no other record -#}
    select
        'invalid_national_id_share' as check_name,
        row_groups.center_id,
        row_groups.source_table,
        max(row_groups.national_id_source_column) as column_name,
        cast(null as {{ dbt.type_string() }}) as reason,
        sum(case when row_groups.national_id_status != 'valid' then row_groups.row_count else 0 end)
            as observed_count,
        max(exports.rows_in) as denominator
    from row_groups
    inner join exports
        on
            row_groups.center_id = exports.center_id
            and row_groups.source_table = exports.source_table
    where row_groups.national_id_status is not null
    group by row_groups.center_id, row_groups.source_table
),

excluded_patient_shares as (
    select
        'excluded_patient_share' as check_name,
        patient_groups.center_id,
        cast(null as {{ dbt.type_string() }}) as source_table,
        cast(null as {{ dbt.type_string() }}) as column_name,
        patient_groups.exclusion_reason as reason,
        sum(patient_groups.patient_count) as observed_count,
        max(centers.patients_seen) as denominator
    from patient_groups
    inner join centers
        on patient_groups.center_id = centers.center_id
    where patient_groups.exclusion_reason is not null
    group by patient_groups.center_id, patient_groups.exclusion_reason
),

center_measures as (
    select
        'eligible_patients' as check_name,
        center_id,
        cast(null as {{ dbt.type_string() }}) as source_table,
        cast(null as {{ dbt.type_string() }}) as column_name,
        cast(null as {{ dbt.type_string() }}) as reason,
        eligible_patients as observed_count,
        patients_seen as denominator
    from centers

    union all

    select
        'ici_share' as check_name,
        center_id,
        cast(null as {{ dbt.type_string() }}) as source_table,
        cast(null as {{ dbt.type_string() }}) as column_name,
        cast(null as {{ dbt.type_string() }}) as reason,
        eligible_ici_patients as observed_count,
        eligible_patients as denominator
    from centers
),

measures as (
    select * from quarantined_row_shares
    union all
    select * from invalid_national_id_shares
    union all
    select * from excluded_patient_shares
    union all
    select * from center_measures
),

final as (
    select
        {{ dbt.concat([
            'check_name', "':'", 'center_id',
            "case when source_table is null then '' else " ~ dbt.concat(["':'", 'source_table']) ~ " end",
            "case when column_name is null then '' else " ~ dbt.concat(["':'", 'column_name']) ~ " end",
            "case when reason is null then '' else " ~ dbt.concat(["':'", 'reason']) ~ " end",
        ]) }} as check_id,
        check_name,
        center_id,
        source_table,
        column_name,
        reason,
        cast(observed_count as {{ dbt.type_int() }}) as observed_count,
        cast(denominator as {{ dbt.type_int() }}) as denominator,
        case
            when check_name = 'eligible_patients' then cast(observed_count as {{ type_double() }})
            when denominator > 0 then cast(observed_count as {{ type_double() }}) / denominator
        end as observed_value
    from measures
)

select * from final
