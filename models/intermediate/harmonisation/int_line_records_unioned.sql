{#- Line-level exports (one row per treatment line) from every registered
    center that delivers them, in one shape (macros/centers.sql). -#}
{%- set line_level_exports = center_refs('line_records') -%}

with

unioned as (
    {% for export in line_level_exports %}
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
            regimen_drug_list,
            metastatic_site_list,
            best_response,
            line_start_date,
            progression_date,
            last_progression_free_date,
            death_date,
            last_contact_date,
            quarantine_reason,
            failing_column,
            regimen_source_column,
            metastatic_sites_source_column
        from {{ export }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select * from unioned
