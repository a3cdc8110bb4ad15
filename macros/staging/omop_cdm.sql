{#-
    Shape omop_cdm: a center that exports OMOP CDM v5.4 tables
    (docs/center-mapping.md, "Shape omop_cdm"). Two steps, both rendered at
    compile time from the center's mapping
    (models/staging/<center>/_<center>__mapping.yml):

    1. stage_omop_table(center_id, table): one staging model per CDM table
       (stg_<center>__person, ...), one row per raw row, nothing filtered:
       the CDM fields the warehouse reads, typed, codes through the
       terminology seeds, the patient key resolved through person_id and
       pseudonymised, what the row records (row_use), and the first rule of
       the quality ladder it breaks (quarantine_reason, failing_column: the
       raw CDM column).
    2. stage_omop_kind(center_id, kind): the four kinds of an
       administration-level center (patients, drug_administrations,
       assessments, adverse_events) with exactly their columns, assembled
       from those per-table models (macros below).

    What each CDM table gives is defined once, in omop_cdm_tables().
-#}

{#- Per CDM table: the CDM fields the warehouse reads (a mapping must map
    each, to itself; every other column is `~`) and how a row's kind is
    known. The row kinds of measurement, observation and
    procedure_occurrence come from the mapping's row_kinds (the network's own
    source values); a condition is a metastatic site or an adverse event when
    a seed knows its code. -#}
{% macro omop_cdm_tables() %}
    {{ return({
        'person': {'row_use': 'person',
                   'fields': ['person_id', 'year_of_birth', 'person_source_value', 'gender_source_value']},
        'observation_period': {'row_use': 'observation_period',
                               'fields': ['observation_period_id', 'person_id', 'observation_period_start_date',
                                          'observation_period_end_date']},
        'drug_exposure': {'row_use': 'drug_administration',
                          'fields': ['drug_exposure_id', 'person_id', 'drug_exposure_start_date',
                                     'drug_exposure_end_date', 'drug_source_value']},
        'condition_occurrence': {'row_use': 'seeds',
                                 'fields': ['condition_occurrence_id', 'person_id', 'condition_start_date',
                                            'condition_source_value']},
        'measurement': {'row_use': 'row_kinds', 'kind_column': 'measurement_source_value',
                        'kinds': ['ecog_ps', 'response'],
                        'fields': ['measurement_id', 'person_id', 'measurement_date', 'value_as_number',
                                   'measurement_source_value', 'value_source_value']},
        'observation': {'row_use': 'row_kinds', 'kind_column': 'observation_source_value',
                        'kinds': ['is_ever_smoker', 'ctcae_grade'],
                        'fields': ['observation_id', 'person_id', 'observation_date', 'value_as_number',
                                   'observation_source_value', 'value_source_value', 'observation_event_id']},
        'procedure_occurrence': {'row_use': 'row_kinds', 'kind_column': 'procedure_source_value',
                                 'kinds': ['had_thoracic_radiotherapy',
                                           'had_prophylactic_cranial_irradiation'],
                                 'fields': ['procedure_occurrence_id', 'person_id', 'procedure_date',
                                            'procedure_source_value']},
        'death': {'row_use': 'death', 'fields': ['person_id', 'death_date']},
    }) }}
{% endmacro %}

{#- The mapping of one CDM table: its row id, columns and row kinds, read
    from the graph (execute time). A table or kind the mapping gets wrong
    stops the build naming the mapping file and key. -#}
{% macro omop_table_mapping(center_id, table) %}
    {%- set nodes = graph.sources.values() | selectattr('source_name', 'equalto', center_id)
                    | selectattr('name', 'equalto', table) | list -%}
    {%- if not nodes -%}
        {{ exceptions.raise_compiler_error(
            "models/staging/" ~ center_id ~ "/_" ~ center_id ~ "__mapping.yml: no table '" ~ table
            ~ "' (an omop_cdm center maps every table of omop_cdm_tables: "
            ~ (omop_cdm_tables().keys() | join(', ')) ~ ")") }}
    {%- endif -%}
    {%- set node = nodes[0] -%}
    {%- set meta = center_mapping(node) -%}
    {%- if meta['shape'] != 'omop_cdm' -%}
        {{ mapping_error(node, 'sources.' ~ center_id ~ '.config.meta.shape',
                         "stg_" ~ center_id ~ "__" ~ table ~ " renders an omop_cdm table, the mapping says '"
                         ~ meta['shape'] ~ "'") }}
    {%- endif -%}
    {%- set columns = meta.get('columns') -%}
    {%- if columns is not mapping -%}
        {{ mapping_error(node, "tables." ~ table ~ ".columns", "must map every column of the export") }}
    {%- endif -%}
    {%- set spec = omop_cdm_tables()[table] -%}
    {%- set layouts = {} -%}
    {%- set read = [] -%}
    {%- for column, entry in columns.items() if entry is not none -%}
        {%- set field = entry['field'] if entry is mapping else entry -%}
        {%- if field != column or field not in spec['fields'] -%}
            {{ mapping_error(node, "tables." ~ table ~ ".columns." ~ column,
                             "an omop_cdm table maps a column to the CDM field of its own name, one of "
                             ~ (spec['fields'] | join(', ')) ~ "; got '" ~ field ~ "' (map other columns to ~)") }}
        {%- endif -%}
        {%- if column.endswith('_date') and not (entry is mapping and entry.get('layout')) -%}
            {{ mapping_error(node, "tables." ~ table ~ ".columns." ~ column,
                             "a date needs its layout: {field: " ~ column ~ ", layout: YYYY-MM-DD}") }}
        {%- endif -%}
        {%- do read.append(column) -%}
        {%- if entry is mapping and entry.get('layout') -%}
            {%- do layouts.update({column: entry['layout']}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for field in spec['fields'] if field not in read -%}
        {{ mapping_error(node, "tables." ~ table ~ ".columns." ~ field,
                         "required CDM field not mapped (the warehouse reads it)") }}
    {%- endfor -%}
    {%- set row_kinds = meta.get('row_kinds', {}) -%}
    {%- for source_value, kind in row_kinds.items() if kind not in spec.get('kinds', []) -%}
        {{ mapping_error(node, "tables." ~ table ~ ".row_kinds." ~ source_value,
                         "unknown kind '" ~ kind ~ "' (known: "
                         ~ (spec.get('kinds', []) | join(', ') or 'none for this table') ~ ")") }}
    {%- endfor -%}
    {{ return({'row_id': meta.get('row_id'), 'columns': columns.keys() | list, 'layouts': layouts,
               'row_kinds': row_kinds, 'files': node.identifier}) }}
{% endmacro %}

{#- A raw code matched with a seed that has no center_id column (the
    metastatic sites, matched the same way for every center). -#}
{% macro omop_term_match(raw, alias, term_column) -%}
    lower(trim({{ raw }})) = lower(trim({{ alias }}.{{ term_column }}))
{%- endmacro %}

{#- One CDM table's staging model (step 1 above). -#}
{% macro stage_omop_table(center_id, table) %}
    {%- do config(enabled=(center_id in var('centers', {}))) -%}
    {%- set source_relation = source(center_id, table) -%}
    {%- set person_relation = source(center_id, 'person') -%}
    {%- set seeds = {} -%}
    {%- for seed in ['terminology__sex_codes', 'terminology__drug_names', 'terminology__metastatic_sites',
                     'terminology__adverse_event_terms', 'terminology__recist_responses',
                     'terminology__yes_no_codes', 'terminology__ctcae_grades'] -%}
        {%- do seeds.update({seed: ref(seed)}) -%}
    {%- endfor -%}
    {%- set condition_relation = source(center_id, 'condition_occurrence') if table == 'observation' else none -%}
    {%- if not execute -%}
        {{ return('select 1 as parsed_only') }}
    {%- endif -%}
    {%- set mapping = omop_table_mapping(center_id, table) -%}
    {{ return(_stage_omop_table_sql(center_id, table, mapping, source_relation, person_relation,
                                    condition_relation, seeds)) }}
{% endmacro %}

{% macro _stage_omop_table_sql(center_id, table, mapping, source_relation, person_relation,
                               condition_relation, seeds) %}
    {%- set spec = omop_cdm_tables()[table] -%}
    {%- set layouts = mapping['layouts'] -%}
    {%- set reads = [] -%}
    {%- set joins = [] -%}
    {#- rules[step]: (failing column, condition), in contract order -#}
    {%- set rules = {'missing_required_value': [], 'unparseable_date': [], 'date_after_build_date': [],
                     'unknown_code': [], 'date_order_violation': []} -%}

    {#- what the row records -#}
    {%- if spec['row_use'] == 'row_kinds' -%}
        {%- set kind_cases = [] -%}
        {%- for source_value, kind in mapping['row_kinds'].items() -%}
            {%- do kind_cases.append("when lower(trim(source." ~ spec['kind_column'] ~ ")) = '"
                                     ~ source_value | lower ~ "' then '" ~ kind ~ "'") -%}
        {%- endfor -%}
        {%- set row_use = "case " ~ kind_cases | join(' ') ~ " else 'not_read' end" -%}
    {%- elif spec['row_use'] == 'seeds' -%}
        {%- set row_use = "case when site_codes.site is not null then 'metastatic_site'"
                          ~ " when ae_terms.ae_term is not null then 'adverse_event' else 'not_read' end" -%}
    {%- else -%}
        {%- set row_use = "'" ~ spec['row_use'] ~ "'" -%}
    {%- endif -%}

    {#- the patient: person's own key, else the key of the row's person_id -#}
    {%- if table == 'person' -%}
        {%- set key_expression = "nullif(trim(source.person_source_value), '')" -%}
        {%- set key_column = 'person_source_value' -%}
        {%- do rules['missing_required_value'].append(('person_source_value', 'center_patient_key is null')) -%}
    {%- else -%}
        {%- set key_expression = 'person_keys.center_patient_key' -%}
        {%- set key_column = 'person_id' -%}
    {%- endif -%}
    {%- do rules['missing_required_value'].append(('person_id', "nullif(trim(source_person_id), '') is null")) -%}

    {#- dates: every column the mapping gives a layout; required ones below -#}
    {%- set required_dates = {
        'observation_period': ['observation_period_end_date'],
        'drug_exposure': ['drug_exposure_start_date'],
        'condition_occurrence': ['condition_start_date'],
        'measurement': ['measurement_date'],
        'observation': ['observation_date'],
        'procedure_occurrence': ['procedure_date'],
        'death': ['death_date'],
    }.get(table, []) -%}
    {%- for column, layout in layouts.items() -%}
        {%- do reads.append(parse_date('source.' ~ column, layout) ~ ' as ' ~ column) -%}
        {%- do reads.append('source.' ~ column ~ ' as ' ~ column ~ '__text') -%}
        {%- set filled = "nullif(trim(" ~ column ~ "__text), '') is not null" -%}
        {%- if column in required_dates -%}
            {%- do rules['missing_required_value'].append((column, "not (" ~ filled ~ ")")) -%}
        {%- endif -%}
        {%- do rules['unparseable_date'].append((column, filled ~ " and " ~ column ~ " is null")) -%}
        {%- do rules['date_after_build_date'].append((column, column ~ " > " ~ build_date())) -%}
    {%- endfor -%}

    {%- if table == 'person' -%}
        {%- do reads.append(safe_cast_whole_number('source.year_of_birth') ~ ' as birth_year') -%}
        {%- do reads.append('sex_codes.sex') -%}
        {%- do joins.append(('sex_codes', 'terminology__sex_codes',
                             terminology_match('source.gender_source_value', 'sex_codes', {'term': 'source_term'}, center_id))) -%}
        {%- do rules['date_after_build_date'].append(('year_of_birth',
            'birth_year > extract(year from ' ~ build_date() ~ ')')) -%}
        {%- do rules['unknown_code'].append(('year_of_birth',
            "nullif(trim(source_year_of_birth), '') is not null and (birth_year is null or birth_year < 1900)")) -%}
        {%- do reads.append('source.year_of_birth as source_year_of_birth') -%}
        {%- do rules['unknown_code'].append(('gender_source_value', 'sex is null')) -%}

    {%- elif table == 'observation_period' -%}
        {%- do rules['date_order_violation'].append(('observation_period_end_date',
            'observation_period_end_date < observation_period_start_date')) -%}

    {%- elif table == 'drug_exposure' -%}
        {%- do reads.append('drug_names.generic_name as drug_generic_name') -%}
        {%- do reads.append('drug_names.drug_class') -%}
        {%- do reads.append('drug_names.is_ici') -%}
        {%- do reads.append('source.drug_source_value as drug_source_value__text') -%}
        {%- do joins.append(('drug_names', 'terminology__drug_names',
                             terminology_match('source.drug_source_value', 'drug_names', {'term': 'source_name'}, center_id))) -%}
        {%- do rules['missing_required_value'].append(('drug_source_value',
            "nullif(trim(drug_source_value__text), '') is null")) -%}
        {%- do rules['unknown_code'].append(('drug_source_value', ('unknown_drug', 'drug_generic_name is null'))) -%}
        {%- do rules['date_order_violation'].append(('drug_exposure_end_date',
            'drug_exposure_end_date < drug_exposure_start_date')) -%}

    {%- elif table == 'condition_occurrence' -%}
        {%- do reads.append("nullif(trim(source.condition_occurrence_id), '') as condition_occurrence_id") -%}
        {%- do reads.append('site_codes.site as metastatic_site') -%}
        {%- do reads.append('ae_terms.ae_term') -%}
        {%- do joins.append(('site_codes', 'terminology__metastatic_sites',
                             omop_term_match('source.condition_source_value', 'site_codes', 'source_term'))) -%}
        {%- do joins.append(('ae_terms', 'terminology__adverse_event_terms',
                             terminology_match('source.condition_source_value', 'ae_terms', {'term': 'source_term'}, center_id))) -%}

    {%- elif table == 'measurement' -%}
        {%- do reads.append('source.value_as_number as value_as_number__text') -%}
        {%- do reads.append('case when ' ~ row_use ~ " = 'ecog_ps' then "
                            ~ safe_cast_whole_number('source.value_as_number') ~ ' end as ecog_ps') -%}
        {%- do reads.append("case when " ~ row_use ~ " = 'response' then responses.response_code end as response_code") -%}
        {%- do joins.append(('responses', 'terminology__recist_responses',
                             terminology_match('source.value_source_value', 'responses', {'term': 'source_term'}, center_id))) -%}
        {%- do rules['unknown_code'].append(('value_as_number',
            "row_use = 'ecog_ps' and (ecog_ps is null or ecog_ps not between 0 and 4)")) -%}
        {%- do rules['unknown_code'].append(('value_source_value',
            "row_use = 'response' and response_code is null")) -%}

    {%- elif table == 'observation' -%}
        {%- do reads.append("case when " ~ row_use ~ " = 'is_ever_smoker' then smoking.is_yes end as is_ever_smoker") -%}
        {%- do reads.append("case when " ~ row_use ~ " = 'ctcae_grade' then grades.ctcae_grade end as ctcae_grade") -%}
        {%- do reads.append("nullif(trim(source.observation_event_id), '') as observation_event_id") -%}
        {%- do reads.append("linked_conditions.condition_occurrence_id as linked_condition_occurrence_id") -%}
        {%- do joins.append(('smoking', 'terminology__yes_no_codes',
                             terminology_match('source.value_source_value', 'smoking', {'term': 'source_term'}, center_id))) -%}
        {%- do joins.append(('grades', 'terminology__ctcae_grades',
                             terminology_match('source.value_as_number', 'grades', {'term': 'source_term'}, center_id))) -%}
        {%- do rules['missing_required_value'].append(('observation_event_id',
            "row_use = 'ctcae_grade' and observation_event_id is null")) -%}
        {%- do rules['unknown_code'].append(('value_source_value',
            "row_use = 'is_ever_smoker' and is_ever_smoker is null")) -%}
        {%- do rules['unknown_code'].append(('value_as_number',
            "row_use = 'ctcae_grade' and ctcae_grade is null")) -%}
        {#- a grade describes a condition row of the same patient -#}
        {%- do rules['unknown_code'].append(('observation_event_id',
            "row_use = 'ctcae_grade' and linked_condition_occurrence_id is null")) -%}
    {%- endif -%}

    {#- duplicates: the row id, and every other column as content. Where the
        row id is also the patient (death), it is content too. -#}
    {%- set row_id = mapping['row_id'] -%}
    {%- set content = [] -%}
    {%- for column in mapping['columns'] if column != row_id or column == 'person_id' -%}
        {%- do content.append(column) -%}
    {%- endfor -%}
    {%- set ladder = [] -%}
    {%- for step in ['missing_required_value', 'unparseable_date', 'date_after_build_date',
                     'unknown_code', 'date_order_violation'] -%}
        {%- for column, condition in rules[step] -%}
            {%- if condition is string -%}
                {%- do ladder.append((step, column, condition)) -%}
            {%- else -%}
                {%- do ladder.append((condition[0], column, condition[1])) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- do ladder.append(('conflicting_row_id', row_id, 'has_conflicting_row_id')) -%}
    {%- do ladder.append(('duplicate_row', row_id, 'copy_number > 1')) -%}
    {%- set several_files = is_several_files(mapping['files']) %}
with

source as {{ cte_not_materialized() }} (
    {{ raw_rows_numbered_per_file(source_relation, several_files) }}
),

{{ row_copies(row_id, content, ['source.source_file_name',
                                 'cast(source.source_row_number as ' ~ dbt.type_int() ~ ')']) }},
{%- if table != 'person' %}

{#- person_id -> the hospital's patient key, where person gives it exactly one -#}
person_keys as (
    select
        trim(person_id) as person_id,
        min(nullif(trim(person_source_value), '')) as center_patient_key
    from {{ person_relation }}
    group by trim(person_id)
    having count(distinct nullif(trim(person_source_value), '')) = 1
),
{%- endif %}
{%- if table == 'observation' %}

linked_conditions as (
    select distinct
        trim(condition_occurrence_id) as condition_occurrence_id,
        trim(person_id) as person_id
    from {{ condition_relation }}
),
{%- endif %}

parsed as (
    select
        source.source_file_name,
        cast(source.{{ 'row_number_in_file' if several_files else 'source_row_number' }}
            as {{ dbt.type_int() }}) as source_row_number,
        {{ key_expression }} as center_patient_key,
        source.person_id as source_person_id,
        {{ row_use }} as row_use,
        {%- for expression in reads %}
        {{ expression }},
        {%- endfor %}
        source.has_conflicting_row_id,
        source.copy_number
    from copies as source
    {%- if table != 'person' %}
    left join person_keys
        on trim(source.person_id) = person_keys.person_id
    {%- endif %}
    {%- if table == 'observation' %}
    left join linked_conditions
        on
            trim(source.observation_event_id) = linked_conditions.condition_occurrence_id
            and trim(source.person_id) = linked_conditions.person_id
    {%- endif %}
    {%- for alias, seed_name, condition in joins %}
    left join {{ seeds[seed_name] }} as {{ alias }}
        on {{ condition }}
    {%- endfor %}
),

checked as (
    {{ first_quality_failure(ladder, 'parsed') }}
),

patient_keys as (
    {{ patient_key_pseudonyms(center_id, 'checked') }}
),

final as (
    select
        ---------- keys (a person_id that names no patient key links no
        ---------- patient record: no_patient_record downstream)
        patient_keys.patient_id,
        patient_keys.folded_patient_id,
        ---------- provenance
        '{{ center_id }}' as center_id,
        '{{ table }}' as source_table,
        source_file_name,
        source_row_number,
        ---------- what the row records, and the fields read
        row_use,
        {%- for column in omop_table_output_columns(table) %}
        {{ column }},
        {%- endfor %}
        ---------- data quality
        quarantine_reason,
        failing_column,
        '{{ key_column }}' as patient_key_source_column
    from checked
    left join patient_keys
        on checked.center_patient_key is not distinct from patient_keys.center_patient_key
)

select * from final
{% endmacro %}

{#- The fields each CDM table's staging model gives (besides keys,
    provenance, row_use and the quality columns). -#}
{% macro omop_table_output_columns(table) %}
    {{ return({
        'person': ['birth_year', 'sex'],
        'observation_period': ['observation_period_start_date', 'observation_period_end_date'],
        'drug_exposure': ['drug_generic_name', 'drug_class', 'is_ici', 'drug_exposure_start_date',
                          'drug_exposure_end_date'],
        'condition_occurrence': ['condition_occurrence_id', 'condition_start_date', 'metastatic_site',
                                 'ae_term'],
        'measurement': ['measurement_date', 'ecog_ps', 'response_code'],
        'observation': ['observation_date', 'is_ever_smoker', 'ctcae_grade', 'observation_event_id'],
        'procedure_occurrence': ['procedure_date'],
        'death': ['death_date'],
    }[table]) }}
{% endmacro %}

{#- One kind of an omop_cdm center (step 2 above), assembled from its
    per-table staging models. The columns are exactly those of every
    center's stg_<center>__<kind> (docs/center-mapping.md). -#}
{% macro stage_omop_kind(center_id, kind) %}
    {%- do config(enabled=(center_id in var('centers', {}))) -%}
    {%- set tables = {
        'patients': ['person', 'observation_period', 'measurement', 'observation',
                     'condition_occurrence', 'procedure_occurrence', 'death'],
        'drug_administrations': ['drug_exposure'],
        'assessments': ['measurement'],
        'adverse_events': ['condition_occurrence', 'observation'],
        'attribute_rows': ['observation_period', 'measurement', 'observation', 'condition_occurrence',
                           'procedure_occurrence', 'death'],
    } -%}
    {%- if kind not in tables -%}
        {{ exceptions.raise_compiler_error(
            "stage_omop_kind: unknown kind '" ~ kind ~ "' (known: " ~ (tables.keys() | join(', ')) ~ ")") }}
    {%- endif -%}
    {%- set relations = {} -%}
    {%- for table in tables[kind] -%}
        {%- do relations.update({table: ref('stg_' ~ center_id ~ '__' ~ table)}) -%}
    {%- endfor -%}
    {%- if kind == 'patients' -%}
        {#- the baseline is read at the second-line start, which only the
            derived lines know -#}
        {%- do relations.update({'lined_days': ref('int_administration_days_lined')}) -%}
    {%- endif -%}
    {%- if kind == 'patients' -%}
        {{ return(_omop_patients(center_id, relations)) }}
    {%- elif kind == 'drug_administrations' -%}
        {{ return(_omop_drug_administrations(center_id, relations)) }}
    {%- elif kind == 'assessments' -%}
        {{ return(_omop_assessments(center_id, relations)) }}
    {%- elif kind == 'adverse_events' -%}
        {{ return(_omop_adverse_events(center_id, relations)) }}
    {%- else -%}
        {{ return(_omop_attribute_rows(center_id, relations)) }}
    {%- endif -%}
{% endmacro %}

{#- One row per person row. Baseline (as center_b's patient export gives
    it, docs/generator.md "center_d"): the last ECOG on or before the
    second-line start, the metastatic sites diagnosed on or before it, any
    thoracic radiotherapy or PCI before it, the smoking status; a patient
    without a second line is read at his last record. Death from death, last
    contact from the end of the observation period. Only clean rows of the
    other tables count; the person row's quality decides the row's. -#}
{% macro _omop_patients(center_id, relations) %}
with

person as (
    select * from {{ relations['person'] }}
),

second_line_starts as (
    select
        patient_id,
        min(administration_date) as second_line_start_date
    from {{ relations['lined_days'] }}
    where center_id = '{{ center_id }}' and line_number = 2
    group by patient_id
),

{#- every clean dated attribute row, with the anchor it is read at -#}
attribute_rows as (
    {%- for table, date_column, columns in [
            ('measurement', 'measurement_date', ['ecog_ps']),
            ('observation', 'observation_date', ['is_ever_smoker']),
            ('condition_occurrence', 'condition_start_date', ['metastatic_site']),
            ('procedure_occurrence', 'procedure_date', [])] %}
    select
        attributes.patient_id,
        attributes.row_use,
        attributes.source_row_number,
        attributes.{{ date_column }} as attribute_date,
        {{ 'attributes.ecog_ps' if 'ecog_ps' in columns else 'cast(null as ' ~ dbt.type_int() ~ ')' }}
            as ecog_ps,
        {{ 'attributes.is_ever_smoker' if 'is_ever_smoker' in columns
           else 'cast(null as ' ~ dbt.type_boolean() ~ ')' }} as is_ever_smoker,
        {{ 'attributes.metastatic_site' if 'metastatic_site' in columns
           else 'cast(null as ' ~ dbt.type_string() ~ ')' }} as metastatic_site
    from {{ relations[table] }} as attributes
    left join second_line_starts
        on attributes.patient_id = second_line_starts.patient_id
    where
        attributes.quarantine_reason is null
        and attributes.row_use in (
            'ecog_ps', 'is_ever_smoker', 'metastatic_site', 'had_thoracic_radiotherapy',
            'had_prophylactic_cranial_irradiation')
        and (
            second_line_starts.second_line_start_date is null
            or attributes.{{ date_column }} <= second_line_starts.second_line_start_date
        )
    {%- if not loop.last %}

    union all
    {% endif %}
    {%- endfor %}
),

latest_values as (
    select
        patient_id,
        row_use,
        ecog_ps,
        is_ever_smoker,
        row_number() over (
            partition by patient_id, row_use
            order by attribute_date desc, source_row_number desc
        ) as recency_rank
    from attribute_rows
    where row_use in ('ecog_ps', 'is_ever_smoker')
),

baselines as (
    select
        person.patient_id,
        max(case when latest_values.row_use = 'ecog_ps' then latest_values.ecog_ps end) as ecog_ps,
        max(case
            when latest_values.row_use = 'is_ever_smoker'
                then (case when latest_values.is_ever_smoker then 1 else 0 end)
        end) as ever_smoker_flag
    from person
    left join latest_values
        on person.patient_id = latest_values.patient_id and latest_values.recency_rank = 1
    group by person.patient_id
),

histories as (
    select
        person.patient_id,
        count(distinct case when attribute_rows.metastatic_site = 'liver' then 1 end) > 0
            as has_liver_metastases,
        count(distinct case when attribute_rows.metastatic_site = 'brain' then 1 end) > 0
            as has_brain_metastases,
        count(distinct case when attribute_rows.metastatic_site = 'bone' then 1 end) > 0
            as has_bone_metastases,
        count(distinct case
            when attribute_rows.metastatic_site not in ('liver', 'brain', 'bone')
                then attribute_rows.metastatic_site
        end) as other_metastatic_site_count,
        count(case when attribute_rows.row_use = 'had_thoracic_radiotherapy' then 1 end) > 0
            as had_thoracic_radiotherapy,
        count(case when attribute_rows.row_use = 'had_prophylactic_cranial_irradiation' then 1 end) > 0
            as had_prophylactic_cranial_irradiation
    from person
    left join attribute_rows
        on person.patient_id = attribute_rows.patient_id
    group by person.patient_id
),

deaths as (
    select
        patient_id,
        min(death_date) as death_date
    from {{ relations['death'] }}
    where quarantine_reason is null
    group by patient_id
),

last_contacts as (
    select
        patient_id,
        max(observation_period_end_date) as last_contact_date
    from {{ relations['observation_period'] }}
    where quarantine_reason is null
    group by patient_id
),

final as (
    select
        ---------- keys
        person.patient_id,
        person.folded_patient_id,
        {#- OMOP's person holds no national ID: no cross-center link -#}
        cast(null as {{ dbt.type_string() }}) as person_link_id,
        cast(null as {{ dbt.type_string() }}) as national_id_status,
        cast(null as {{ dbt.type_string() }}) as national_id_source_column,
        ---------- provenance
        person.center_id,
        person.source_table,
        person.source_file_name,
        person.source_row_number,
        ---------- patient attributes
        person.birth_year,
        person.sex,
        baselines.ecog_ps,
        baselines.ever_smoker_flag = 1 as is_ever_smoker,
        histories.has_liver_metastases,
        histories.has_brain_metastases,
        histories.has_bone_metastases,
        (case when histories.has_liver_metastases then 1 else 0 end)
        + (case when histories.has_brain_metastases then 1 else 0 end)
        + (case when histories.has_bone_metastases then 1 else 0 end)
        + histories.other_metastatic_site_count as metastatic_site_count,
        histories.had_thoracic_radiotherapy,
        histories.had_prophylactic_cranial_irradiation,
        ---------- dates
        deaths.death_date,
        last_contacts.last_contact_date,
        ---------- data quality
        person.quarantine_reason,
        person.failing_column
    from person
    left join baselines
        on person.patient_id = baselines.patient_id
    left join histories
        on person.patient_id = histories.patient_id
    left join deaths
        on person.patient_id = deaths.patient_id
    left join last_contacts
        on person.patient_id = last_contacts.patient_id
)

select * from final
{% endmacro %}

{#- One row per drug_exposure row: the drug on its start date (an oral
    course counts from the day it was dispensed). -#}
{% macro _omop_drug_administrations(center_id, relations) %}
with

drug_exposure as (
    select * from {{ relations['drug_exposure'] }}
),

final as (
    select
        patient_id,
        folded_patient_id,
        center_id,
        source_table,
        source_file_name,
        source_row_number,
        drug_generic_name,
        drug_class,
        is_ici,
        drug_exposure_start_date as administration_date,
        quarantine_reason,
        failing_column,
        patient_key_source_column
    from drug_exposure
)

select * from final
{% endmacro %}

{#- One row per measurement row that records a RECIST response. -#}
{% macro _omop_assessments(center_id, relations) %}
with

measurement as (
    select * from {{ relations['measurement'] }}
    where row_use = 'response'
),

final as (
    select
        patient_id,
        folded_patient_id,
        center_id,
        source_table,
        source_file_name,
        source_row_number,
        response_code,
        measurement_date as assessment_date,
        quarantine_reason,
        failing_column,
        patient_key_source_column
    from measurement
)

select * from final
{% endmacro %}

{#- One row per condition row that records an adverse event, with the
    CTCAE grade of the clean observation rows that point at it (the worst
    when two do). An event no clean grade points at has no grade: it is
    quarantined (missing_required_value, condition_occurrence_id). -#}
{% macro _omop_adverse_events(center_id, relations) %}
with

conditions as (
    select * from {{ relations['condition_occurrence'] }}
    where row_use = 'adverse_event'
),

grades as (
    select
        patient_id,
        observation_event_id,
        max(ctcae_grade) as ctcae_grade
    from {{ relations['observation'] }}
    where row_use = 'ctcae_grade' and quarantine_reason is null
    group by patient_id, observation_event_id
),

graded as (
    select
        conditions.*,
        grades.ctcae_grade
    from conditions
    left join grades
        on
            conditions.patient_id = grades.patient_id
            and conditions.condition_occurrence_id = grades.observation_event_id
),

final as (
    select
        patient_id,
        folded_patient_id,
        center_id,
        source_table,
        source_file_name,
        source_row_number,
        cast(null as {{ dbt.type_int() }}) as line_number,
        ae_term,
        ctcae_grade,
        condition_start_date as ae_onset_date,
        case
            when quarantine_reason is not null then quarantine_reason
            when ctcae_grade is null then 'missing_required_value'
        end as quarantine_reason,
        case
            when quarantine_reason is not null then failing_column
            when ctcae_grade is null then 'condition_occurrence_id'
        end as failing_column,
        patient_key_source_column
    from graded
)

select * from final
{% endmacro %}

{#- The raw rows no row of the four kinds stands for, so that row_accounting
    sees every raw row once: rows read as attributes of a patient (ECOG,
    sites, smoking, radiotherapy, death, last contact) or of an adverse event
    (its grade), which share their patient's outcome, and rows the warehouse
    does not read (a diagnosis no seed lists, a measurement the mapping's
    row_kinds do not name), excluded as record_not_read. One row per raw row,
    with the columns int_raw_rows_accounted reads. -#}
{% macro _omop_attribute_rows(center_id, relations) %}
with

attribute_rows as (
    {%- for table, relation in relations.items() %}
    select
        patient_id,
        center_id,
        source_table,
        source_file_name,
        source_row_number,
        quarantine_reason,
        failing_column,
        patient_key_source_column,
        case when row_use = 'not_read' then 'record_not_read' end as row_exclusion_reason
    from {{ relation }}
    where row_use not in ('response', 'adverse_event')
    {%- if not loop.last %}

    union all
    {% endif %}
    {%- endfor %}
)

select * from attribute_rows
{% endmacro %}
