{#- Every patient key of every center, once, with two checks:
    has_patient_record: the key has a patient record (a line record of a
    line-level export, or a row of a patients export), quarantined
    or not. Administrations, assessments and adverse events of a key without
    one are orphans: quarantined as no_patient_record, never lines of a
    patient no export describes.
    is_key_spelled_two_ways: another key of the center is the same after
    folding case and spaces ('TJ-10246' and 'tj-10246'), so part of this
    patient's records may be filed under the other spelling. -#}
{%- set dependent_exports = center_refs('drug_administrations')
    + center_refs('assessments') + center_refs('adverse_events') -%}

with

line_records as (
    select * from {{ ref('int_line_records_unioned') }}
),

patient_records as (
    {{ union_center_models('patients') }}
),

keys_seen as (
    select
        center_id,
        patient_id,
        folded_patient_id,
        1 as is_patient_record
    from line_records
    where folded_patient_id is not null

    union all

    select
        center_id,
        patient_id,
        folded_patient_id,
        1 as is_patient_record
    from patient_records
    where folded_patient_id is not null

    {% for export in dependent_exports %}
        union all
        select
            center_id,
            patient_id,
            folded_patient_id,
            0 as is_patient_record
        from {{ export }}
        where folded_patient_id is not null
    {% endfor %}
),

keys as (
    select
        center_id,
        patient_id,
        max(folded_patient_id) as folded_patient_id,
        max(is_patient_record) = 1 as has_patient_record
    from keys_seen
    group by center_id, patient_id
),

spellings as (
    select
        center_id,
        folded_patient_id,
        count(*) as spelling_count
    from keys
    group by center_id, folded_patient_id
),

final as (
    select
        keys.center_id,
        keys.patient_id,
        keys.has_patient_record,
        spellings.spelling_count > 1 as is_key_spelled_two_ways
    from keys
    inner join spellings
        on
            keys.center_id = spellings.center_id
            and keys.folded_patient_id = spellings.folded_patient_id
)

select * from final
