{#- One row per harmonised treatment line with a flag per drug class (the
    classes a study spec's rules name: macros/study_specs.sql). A class is in
    the line when one of its drugs' generic names is one of the regimen's
    names (regimen_name joins them with ' + '); has_ici is the line's
    is_ici_regimen, as the harmonised layer decides it. -#}
with

lines as (
    select * from {{ ref('int_treatment_lines_unioned') }}
),

drugs as (
    select distinct
        generic_name,
        drug_class
    from {{ ref('terminology__drug_names') }}
),

regimens as (
    select distinct regimen_name
    from lines
),

regimen_drugs as (
    {#- each distinct regimen matched once against the drug names, not every
        line (the LIKE join has no equality to hash on) -#}
    select
        regimens.regimen_name,
        drugs.drug_class
    from regimens
    inner join drugs
        on
            {{ dbt.concat(["' + '", 'regimens.regimen_name', "' + '"]) }}
            like {{ dbt.concat(["'% + '", 'drugs.generic_name', "' + %'"]) }}
),

line_drugs as (
    select
        lines.treatment_line_id,
        regimen_drugs.drug_class
    from lines
    inner join regimen_drugs
        on lines.regimen_name = regimen_drugs.regimen_name
),

final as (
    select
        lines.treatment_line_id,
        lines.patient_id,
        lines.line_number,
        {%- for drug_class in study_drug_classes() %}
            coalesce(max(case when line_drugs.drug_class = '{{ drug_class }}' then 1 end) = 1, false)
                as has_{{ drug_class }},
        {%- endfor %}
        coalesce(lines.is_ici_regimen, false) as has_ici
    from lines
    left join line_drugs
        on lines.treatment_line_id = line_drugs.treatment_line_id
    group by lines.treatment_line_id, lines.patient_id, lines.line_number, lines.is_ici_regimen
)

select * from final
