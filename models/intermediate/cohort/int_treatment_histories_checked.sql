{#- One row per patient whose treatment history cannot be trusted to place
    the index and the arm:
    has_quarantined_index_record: a treatment record of the lines that define
    the index was quarantined, so the lines formed from the rest may be wrong
    (a second line without its ICI is published in the other arm). That is a
    line record of line 1 or 2 (or of an unreadable line number), or an
    administration dated before the third-line start (any date, if there is no
    third line). An administration whose date cannot be read cannot be placed;
    it counts when it could change the arm: its drug is unknown, or it is an
    ICI and the second line is not. Exact duplicates (duplicate_row) lose
    nothing and supportive drugs define no line, so neither counts.
    has_line_order_violation: line 2 or 3 starts before the line before it,
    or before that line's documented progression.
    A record without a patient key (null patient_id, quarantined in staging)
    belongs to no one's history, so it flags no patient. -#}
with

lines as (
    select * from {{ ref('int_treatment_lines_unioned') }}
),

line_records as (
    select * from {{ ref('int_line_records_classified') }}
    where
        quarantine_reason is not null
        and quarantine_reason != 'duplicate_row'
        and patient_id is not null
),

administrations as (
    select * from ({{ union_center_models('drug_administrations') }}) as center_administrations
    where
        quarantine_reason is not null
        and quarantine_reason != 'duplicate_row'
        and patient_id is not null
        and (drug_class is null or drug_class != 'supportive')
),

second_lines as (
    select * from lines
    where line_number = 2
),

quarantined_line_records as (
    select distinct patient_id
    from line_records
    where line_number is null or line_number <= 2
),

quarantined_administrations as (
    select distinct administrations.patient_id
    from administrations
    left join second_lines
        on administrations.patient_id = second_lines.patient_id
    where
        (
            administrations.administration_date is not null
            and (
                second_lines.next_line_start_date is null
                or administrations.administration_date < second_lines.next_line_start_date
            )
        )
        or (
            administrations.administration_date is null
            and (
                administrations.is_ici is null
                or (administrations.is_ici and not coalesce(second_lines.is_ici_regimen, false))
            )
        )
),

lines_out_of_order as (
    select distinct earlier.patient_id
    from lines as earlier
    inner join lines as later
        on
            earlier.patient_id = later.patient_id
            and later.line_number = earlier.line_number + 1
    where
        earlier.line_number <= 2
        and (
            later.line_start_date < earlier.line_start_date
            or later.line_start_date < earlier.progression_date
        )
),

patients as (
    select patient_id from quarantined_line_records
    union
    select patient_id from quarantined_administrations
    union
    select patient_id from lines_out_of_order
),

final as (
    select
        patients.patient_id,
        (
            quarantined_line_records.patient_id is not null
            or quarantined_administrations.patient_id is not null
        ) as has_quarantined_index_record,
        lines_out_of_order.patient_id is not null as has_line_order_violation
    from patients
    left join quarantined_line_records
        on patients.patient_id = quarantined_line_records.patient_id
    left join quarantined_administrations
        on patients.patient_id = quarantined_administrations.patient_id
    left join lines_out_of_order
        on patients.patient_id = lines_out_of_order.patient_id
)

select * from final
