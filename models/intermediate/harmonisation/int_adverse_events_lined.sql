{#- Adverse events from every center in one shape, each tied to a treatment
    line: exported with the line (line-level centers) or placed by date
    between the derived line's start and the next line's start
    (administration-level centers). -#}
{#- A raw row is keyed by center, table, file and row number (a center may
    deliver one table as several files, each numbered from 1); files are
    compared with `is not distinct from` so unit-test fixtures may leave the
    file out. -#}
{%- set adverse_event_exports = center_refs('adverse_events') -%}

with

unioned as {{ cte_not_materialized() }} (
    {% for export in adverse_event_exports %}
        select
            patient_id,
            center_id,
            source_table,
            source_file_name,
            source_row_number,
            line_number,
            ae_term,
            ctcae_grade,
            ae_onset_date,
            quarantine_reason,
            failing_column,
            patient_key_source_column
        from {{ export }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

lines as (
    select * from {{ ref('int_treatment_lines_unioned') }}
),

dated_to_line as (
    select
        unioned.center_id,
        unioned.source_table,
        unioned.source_file_name,
        unioned.source_row_number,
        max(lines.line_number) as line_number
    from unioned
    inner join lines
        on
            unioned.patient_id = lines.patient_id
            and unioned.ae_onset_date >= lines.line_start_date
            and (
                lines.next_line_start_date is null
                or unioned.ae_onset_date < lines.next_line_start_date
            )
    where unioned.line_number is null
    group by unioned.center_id, unioned.source_table, unioned.source_file_name, unioned.source_row_number
),

final as (
    select
        unioned.patient_id,
        unioned.center_id,
        unioned.source_table,
        unioned.source_file_name,
        unioned.source_row_number,
        coalesce(unioned.line_number, dated_to_line.line_number) as line_number,
        unioned.ae_term,
        unioned.ctcae_grade,
        unioned.ae_onset_date,
        unioned.quarantine_reason,
        unioned.failing_column,
        unioned.patient_key_source_column
    from unioned
    left join dated_to_line
        on
            unioned.center_id = dated_to_line.center_id
            and unioned.source_table = dated_to_line.source_table
            and unioned.source_file_name is not distinct from dated_to_line.source_file_name
            and unioned.source_row_number = dated_to_line.source_row_number
)

select * from final
