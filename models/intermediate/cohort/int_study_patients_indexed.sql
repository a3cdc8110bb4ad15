{#- One row per study (studies/<study_id>.yml) and patient seen in any valid
    record, indexed to the study's index line (the second line), with the
    first rule of the study's eligibility they fail (exclusion_reason is null
    for the eligible). Eligible: a center of the study, a second line starting
    inside the study's window, after a first line with documented progression
    (if the spec requires it) whose drug classes meet the spec's prior-line
    rule, a second line in one of the two arms (the spec's rules on its drug
    classes), follow-up after the index date and every baseline covariate
    recorded; a person already eligible under another record (same national
    ID) is excluded.
    Before those rules: a key filed in two spellings, a quarantined record
    among the lines that define the index, or lines out of order exclude the
    patient (the lines left cannot be trusted); records of one person that
    disagree on sex or birth year exclude every record of that person. -#}
{%- set specs = study_specs() %}
{#- the graph that says which centers deliver lines in several files exists
    only when executing -#}
{%- set split_centers = centers_with_split_line_source() if execute else [] %}
{#- rows are numbered per file where the mapping delivers the line source as
    several files: there the file joins the record's key (a one-file export's
    key stays center, table, row) -#}
{%- set is_split_sql = ("patients.center_id in ('" ~ split_centers | join("', '") ~ "')")
    if split_centers else 'false' %}
with

lines as {{ cte_not_materialized() }} (
    select * from {{ ref('int_treatment_lines_unioned') }}
),

baselines as {{ cte_not_materialized() }} (
    select * from {{ ref('int_patient_baselines_unioned') }}
),

patient_keys as (
    select * from {{ ref('int_patient_keys_checked') }}
),

treatment_histories as {{ cte_not_materialized() }} (
    select * from {{ ref('int_treatment_histories_checked') }}
),

line_classes as {{ cte_not_materialized() }} (
    select * from {{ ref('int_treatment_line_drug_classes') }}
),

patients_seen as (
    select
        patient_id,
        center_id
    from lines
    union
    select
        patient_id,
        center_id
    from baselines
),

patients as (
    {#- lines derived from orphaned administrations describe no patient -#}
    select
        patients_seen.patient_id,
        patients_seen.center_id,
        coalesce(patient_keys.is_key_spelled_two_ways, false) as is_key_spelled_two_ways
    from patients_seen
    left join patient_keys
        on patients_seen.patient_id = patient_keys.patient_id
    where coalesce(patient_keys.has_patient_record, true)
),

first_lines as (
    select * from lines
    where line_number = 1
),

second_lines as (
    select * from lines
    where line_number = 2
),

first_line_classes as (
    select * from line_classes
    where line_number = 1
),

second_line_classes as (
    select * from line_classes
    where line_number = 2
),

{#- the drug classes any study's rules read, of the first and of the second
    line: the only class columns patient_records carries -#}
{%- set rule_classes = {'first_line_': [], 'second_line_': []} %}
{%- for spec in specs %}
    {%- for line, rule in [('second_line_', spec['exposure']['index_line']),
                           ('second_line_', spec['comparator']['index_line']),
                           ('first_line_', spec['eligibility']['prior_line'])] %}
        {%- for drug_class in rule.get('all_of', []) + rule.get('any_of', []) + rule.get('none_of', [])
              if drug_class not in rule_classes[line] %}
            {%- do rule_classes[line].append(drug_class) %}
        {%- endfor %}
    {%- endfor %}
{%- endfor %}

patient_records as (
    {#- every patient's records joined once, for every study: a study reads
        its own rules off these columns -#}
    select
        patients.patient_id,
        patients.center_id,
        patients.is_key_spelled_two_ways,
        baselines.person_link_id,
        second_lines.patient_id is not null as has_second_line,
        second_lines.line_start_date as second_line_start_date,
        second_lines.source_table as second_line_source_table,
        {{ file_stem('second_lines.source_file_name') }} as second_line_source_file_name,
        {{ is_split_sql }} as is_second_line_source_split,
        second_lines.source_row_number as second_line_source_row_number,
        second_lines.regimen_name as second_line_regimen,
        second_lines.best_response,
        second_lines.progression_date as second_line_progression_date,
        second_lines.last_progression_free_date as second_line_last_progression_free_date,
        second_lines.next_line_start_date as third_line_start_date,
        first_lines.line_start_date as first_line_start_date,
        first_lines.progression_date as first_line_progression_date,
        first_lines.is_ici_regimen as had_first_line_ici,
        baselines.patient_id is not null as has_baseline_record,
        baselines.birth_year,
        baselines.sex,
        baselines.ecog_ps,
        baselines.is_ever_smoker,
        baselines.has_liver_metastases,
        baselines.has_brain_metastases,
        baselines.has_bone_metastases,
        baselines.metastatic_site_count,
        baselines.had_thoracic_radiotherapy,
        baselines.had_prophylactic_cranial_irradiation,
        baselines.death_date,
        baselines.last_contact_date,
        treatment_histories.has_quarantined_index_record,
        treatment_histories.has_line_order_violation,
        {%- for drug_class in rule_classes['first_line_'] %}
            first_line_classes.has_{{ drug_class }} as first_line_has_{{ drug_class }},
        {%- endfor %}
        {%- for drug_class in rule_classes['second_line_'] %}
            second_line_classes.has_{{ drug_class }} as second_line_has_{{ drug_class }},
        {%- endfor %}
        second_line_classes.treatment_line_id is not null as has_second_line_classes
    from patients
    left join second_lines
        on patients.patient_id = second_lines.patient_id
    left join first_lines
        on patients.patient_id = first_lines.patient_id
    left join baselines
        on patients.patient_id = baselines.patient_id
    left join treatment_histories
        on patients.patient_id = treatment_histories.patient_id
    {%- if rule_classes['first_line_'] %}
        left join first_line_classes
            on patients.patient_id = first_line_classes.patient_id
    {%- endif %}
    left join second_line_classes
        on patients.patient_id = second_line_classes.patient_id
),

person_conflicts as (
    {#- a national ID shared by records that disagree on sex or birth year
        links different people (or a typing error): no record is trusted.
        Grouped per linked person, not a window over every record: records
        without a national ID are most of them and would form one partition.
        A record's sex and birth year are the same in every study. -#}
    select
        person_link_id,
        min(sex) != max(sex) or min(birth_year) != max(birth_year) as has_conflicting_person_records
    from patient_records
    where person_link_id is not null
    group by person_link_id
),

person_checked_records as (
    select
        patient_records.*,
        coalesce(
            patient_records.person_link_id is not null
            and person_conflicts.has_conflicting_person_records,
            false
        ) as has_conflicting_person_records
    from patient_records
    left join person_conflicts
        on patient_records.person_link_id = person_conflicts.person_link_id
),

indexed as (
    {%- for spec in specs %}
        {%- set eligibility = spec['eligibility'] %}
        {%- set exposed = study_rule_sql(spec['exposure']['index_line'], 'person_checked_records', 'second_line_') %}
        {%- set comparator = study_rule_sql(spec['comparator']['index_line'], 'person_checked_records', 'second_line_') %}
        select
            '{{ spec["study_id"] }}' as study_id,
            {#- the records as joined, for final to pick the model's columns from -#}
            person_checked_records.*,
            {#- the exposure flag (both studies: the second line contains an ICI);
                null without a second line -#}
            case when has_second_line_classes then {{ exposed }} end as is_ici,
            case
                when is_key_spelled_two_ways then 'patient_key_spelled_two_ways'
                when has_quarantined_index_record then 'incomplete_treatment_history'
                when has_line_order_violation then 'line_order_violation'
                {%- if eligibility['centers'] != 'all' %}
                    when center_id not in ('{{ eligibility["centers"] | join("', '") }}')
                        then 'center_not_in_study'
                {%- endif %}
                when not has_second_line then 'no_second_line'
                when not has_baseline_record then 'no_baseline_record'
                {%- if eligibility['prior_line'].get('requires_progression', false) %}
                    when first_line_progression_date is null then 'no_first_line_progression'
                {%- endif %}
                {%- set prior_rule = eligibility['prior_line'] %}
                {%- if prior_rule.get('all_of') or prior_rule.get('any_of') or prior_rule.get('none_of') %}
                    when not coalesce({{ study_rule_sql(prior_rule, 'person_checked_records', 'first_line_') }}, false)
                        then 'first_line_regimen_not_eligible'
                {%- endif %}
                when
                    second_line_start_date
                    < cast('{{ eligibility["study_window_start_date"] }}' as date)
                    or second_line_start_date
                    > cast('{{ eligibility["study_window_end_date"] }}' as date)
                    then 'second_line_outside_study_window'
                when not coalesce({{ exposed }} or {{ comparator }}, false)
                    then 'second_line_in_neither_arm'
                {%- if eligibility['requires_follow_up'] %}
                    when death_date is null and last_contact_date is null
                        then 'no_follow_up'
                {#- administration-level centers keep vital status apart from the
                    lines, so only there can follow-up end before the derived
                    second-line start #}
                    when
                        death_date < second_line_start_date
                        or last_contact_date < second_line_start_date
                        then 'follow_up_before_second_line'
                {%- endif %}
                when
                    birth_year is null
                    or sex is null
                    or ecog_ps is null
                    or is_ever_smoker is null
                    or has_liver_metastases is null
                    or has_brain_metastases is null
                    or has_bone_metastases is null
                    or metastatic_site_count is null
                    or had_thoracic_radiotherapy is null
                    or had_prophylactic_cranial_irradiation is null
                    or had_first_line_ici is null
                    then 'missing_baseline_covariate'
            end as first_failed_rule
        from person_checked_records
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

shared_persons as (
    {#- persons with more than one otherwise eligible record: only their
        records need ranking (most persons have one) -#}
    select
        study_id,
        person_link_id
    from indexed
    where
        first_failed_rule is null
        and person_link_id is not null
        and not has_conflicting_person_records
    group by study_id, person_link_id
    having count(*) > 1
),

ranked as (
    {#- One person, one analysis record: among a person's otherwise eligible
        records, the earliest second-line start is kept (then center, export,
        file and raw row, so the choice depends neither on row order nor on the key).
        A person's only eligible record and every other record have no rank. -#}
    select
        eligible.*,
        row_number() over (
            partition by
                eligible.study_id,
                eligible.person_link_id
            order by
                eligible.second_line_start_date,
                eligible.center_id,
                eligible.second_line_source_table,
                eligible.second_line_source_file_name,
                eligible.second_line_source_row_number
        ) as person_record_rank
    from indexed as eligible
    inner join shared_persons
        on
            eligible.study_id = shared_persons.study_id
            and eligible.person_link_id = shared_persons.person_link_id
    where
        eligible.first_failed_rule is null
        and not eligible.has_conflicting_person_records

    union all

    select
        indexed.*,
        cast(null as {{ dbt.type_bigint() }}) as person_record_rank
    from indexed
    left join shared_persons
        on
            indexed.study_id = shared_persons.study_id
            and indexed.person_link_id = shared_persons.person_link_id
    where
        indexed.first_failed_rule is not null
        or indexed.has_conflicting_person_records
        or shared_persons.person_link_id is null
),

final as (
    select
        study_id,
        patient_id,
        person_link_id,
        center_id,
        second_line_start_date,
        second_line_source_table,
        second_line_source_file_name,
        is_second_line_source_split,
        second_line_source_row_number,
        second_line_regimen,
        is_ici,
        best_response,
        second_line_progression_date,
        second_line_last_progression_free_date,
        third_line_start_date,
        first_line_start_date,
        first_line_progression_date,
        had_first_line_ici,
        birth_year,
        sex,
        ecog_ps,
        is_ever_smoker,
        has_liver_metastases,
        has_brain_metastases,
        has_bone_metastases,
        metastatic_site_count,
        had_thoracic_radiotherapy,
        had_prophylactic_cranial_irradiation,
        death_date,
        last_contact_date,
        case
            when has_conflicting_person_records then 'conflicting_person_records'
            when first_failed_rule is not null then first_failed_rule
            when person_record_rank > 1 then 'same_person_as_another_patient'
        end as exclusion_reason
    from ranked
)

select * from final
