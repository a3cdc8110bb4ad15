{#-
    The export contract: for each kind of staging model, the fields a center
    maps its raw columns to (docs/center-mapping.md). The ONE definition:
    stage_export renders staging from it, the mapping checks read it, and
    rwe_onboard reads it through `dbt run-operation print_export_contracts`.

    A field:
      name      the field a mapping column names
      type      key, national_id, date, code, yes_no, whole_number, list,
                relative_time, text (how the value is read)
      mapping   required (every mapping of the kind maps it) or optional;
                a field in a `one_of` group is required as one of its forms
      value     required: an empty value is missing_required_value;
                known: an empty value is an unknown code (unknown_code);
                optional: an empty value is allowed (null)
      seed      for code and yes_no: the terminology seed, its spelling
                column and the columns it gives; per_center: true when
                the seed has a center_id column (spellings two centers
                use differently; none today)
      range     for whole_number and relative_time: the accepted values
      reason    for code: the quarantine reason of an unknown value
      after     for dates: the field it must not precede (date_order_violation)
      items_seed for list: the seed each item is decoded with downstream
                (int_line_records_classified); read by rwe_onboard's draft
                and precheck, not by staging
    The order of the fields is the order of the rules inside each step of
    the quality ladder (quality_ladder_steps).
-#}
{% macro export_contracts() %}
    {%- set sex = {'seed': 'terminology__sex_codes', 'term': 'source_term', 'gives': ['sex']} -%}
    {%- set yes_no = {'seed': 'terminology__yes_no_codes', 'term': 'source_term', 'gives': ['is_yes']} -%}
    {%- set responses = {'seed': 'terminology__recist_responses', 'term': 'source_term',
                         'gives': ['response_code']} -%}
    {%- set ecog = {'seed': 'terminology__karnofsky_to_ecog', 'term': 'karnofsky_score',
                    'gives': ['ecog_ps']} -%}
    {%- set key = {'name': 'patient_key', 'type': 'key', 'mapping': 'required', 'value': 'required'} -%}
    {%- set national_id = {'name': 'national_id', 'type': 'national_id', 'mapping': 'optional',
                           'value': 'optional'} -%}
    {{ return({
        'line_records': {
            'description': 'one row per patient per treatment line',
            'one_of': [['progression_date', 'progression_time'], ['death_date', 'death_time']],
            'fields': [
                key,
                {'name': 'line_start_date', 'type': 'date', 'mapping': 'required', 'value': 'required'},
                {'name': 'line_number', 'type': 'whole_number', 'mapping': 'required', 'value': 'required',
                 'range': [1, none]},
                {'name': 'birth_date', 'type': 'date', 'mapping': 'optional', 'value': 'optional',
                 'year_only': true},
                {'name': 'progression_date', 'type': 'date', 'mapping': 'one_of', 'value': 'optional',
                 'after': 'line_start_date'},
                {'name': 'death_date', 'type': 'date', 'mapping': 'one_of', 'value': 'optional',
                 'after': 'line_start_date'},
                {'name': 'last_contact_date', 'type': 'date', 'mapping': 'optional', 'value': 'optional',
                 'after': 'line_start_date'},
                {'name': 'sex', 'type': 'code', 'mapping': 'required', 'value': 'known', 'seed': sex},
                {'name': 'ecog_ps', 'type': 'whole_number', 'mapping': 'optional', 'value': 'optional',
                 'range': [0, 4]},
                {'name': 'best_response', 'type': 'code', 'mapping': 'optional', 'value': 'optional',
                 'seed': responses},
                {'name': 'is_ever_smoker', 'type': 'yes_no', 'mapping': 'optional', 'value': 'optional',
                 'seed': yes_no},
                {'name': 'had_thoracic_radiotherapy', 'type': 'yes_no', 'mapping': 'optional',
                 'value': 'optional', 'seed': yes_no},
                {'name': 'had_prophylactic_cranial_irradiation', 'type': 'yes_no', 'mapping': 'optional',
                 'value': 'optional', 'seed': yes_no},
                {'name': 'progression_observed', 'type': 'yes_no', 'mapping': 'optional', 'value': 'known',
                 'seed': yes_no},
                {'name': 'death_observed', 'type': 'yes_no', 'mapping': 'optional', 'value': 'known',
                 'seed': yes_no},
                {'name': 'progression_time', 'type': 'relative_time', 'mapping': 'one_of', 'value': 'required',
                 'observed': 'progression_observed', 'unit_ranges': {'days': [-36525, 36525], 'months': [-1200, 1200]}},
                {'name': 'death_time', 'type': 'relative_time', 'mapping': 'one_of', 'value': 'required',
                 'observed': 'death_observed', 'unit_ranges': {'days': [-36525, 36525], 'months': [-1200, 1200]}},
                {'name': 'regimen', 'type': 'list', 'mapping': 'required', 'value': 'optional',
                 'items_seed': {'seed': 'terminology__drug_names', 'term': 'source_name',
                                'gives': ['generic_name', 'drug_class', 'is_ici']}},
                {'name': 'metastatic_sites', 'type': 'list', 'mapping': 'optional', 'value': 'optional',
                 'items_seed': {'seed': 'terminology__metastatic_sites', 'term': 'source_term',
                                'gives': ['site']}},
                national_id,
            ],
        },
        'patients': {
            'description': 'one row per patient: baseline attributes and vital status',
            'fields': [
                key,
                {'name': 'birth_date', 'type': 'date', 'mapping': 'optional', 'value': 'optional',
                 'year_only': true},
                {'name': 'death_date', 'type': 'date', 'mapping': 'optional', 'value': 'optional',
                 'after': 'birth_date'},
                {'name': 'last_contact_date', 'type': 'date', 'mapping': 'required', 'value': 'required'},
                {'name': 'sex', 'type': 'code', 'mapping': 'required', 'value': 'known', 'seed': sex},
                {'name': 'ecog_ps', 'type': 'whole_number', 'mapping': 'optional', 'value': 'optional',
                 'range': [0, 4], 'karnofsky_seed': ecog},
                {'name': 'is_ever_smoker', 'type': 'yes_no', 'mapping': 'required', 'value': 'known',
                 'seed': yes_no},
                {'name': 'has_liver_metastases', 'type': 'yes_no', 'mapping': 'required', 'value': 'known',
                 'seed': yes_no},
                {'name': 'has_brain_metastases', 'type': 'yes_no', 'mapping': 'required', 'value': 'known',
                 'seed': yes_no},
                {'name': 'has_bone_metastases', 'type': 'yes_no', 'mapping': 'required', 'value': 'known',
                 'seed': yes_no},
                {'name': 'had_thoracic_radiotherapy', 'type': 'yes_no', 'mapping': 'required',
                 'value': 'known', 'seed': yes_no},
                {'name': 'had_prophylactic_cranial_irradiation', 'type': 'yes_no', 'mapping': 'required',
                 'value': 'known', 'seed': yes_no},
                {'name': 'other_metastatic_site_count', 'type': 'whole_number', 'mapping': 'required',
                 'value': 'known', 'range': [0, 10]},
                national_id,
            ],
        },
        'drug_administrations': {
            'description': 'one row per drug given on a day',
            'fields': [
                key,
                {'name': 'administration_date', 'type': 'date', 'mapping': 'required', 'value': 'required'},
                {'name': 'drug_name', 'type': 'code', 'mapping': 'required', 'value': 'required',
                 'reason': 'unknown_drug',
                 'seed': {'seed': 'terminology__drug_names', 'term': 'source_name',
                          'gives': ['generic_name', 'drug_class', 'is_ici'],
                          'as': ['drug_generic_name', 'drug_class', 'is_ici']}},
                {'name': 'dose', 'type': 'text', 'mapping': 'optional', 'value': 'optional'},
            ],
        },
        'assessments': {
            'description': 'one row per tumour response assessment',
            'fields': [
                key,
                {'name': 'assessment_date', 'type': 'date', 'mapping': 'required', 'value': 'required'},
                {'name': 'response', 'type': 'code', 'mapping': 'required', 'value': 'known',
                 'seed': responses},
            ],
        },
        'adverse_events': {
            'description': 'one row per adverse event',
            'fields': [
                key,
                {'name': 'ae_onset_date', 'type': 'date', 'mapping': 'optional', 'value': 'optional'},
                {'name': 'line_number', 'type': 'whole_number', 'mapping': 'optional', 'value': 'known',
                 'range': [1, none]},
                {'name': 'ae_term', 'type': 'code', 'mapping': 'required', 'value': 'known',
                 'seed': {'seed': 'terminology__adverse_event_terms', 'term': 'source_term',
                          'gives': ['ae_term']}},
                {'name': 'ctcae_grade', 'type': 'code', 'mapping': 'required', 'value': 'known',
                 'seed': {'seed': 'terminology__ctcae_grades', 'term': 'source_term',
                          'gives': ['ctcae_grade']}},
            ],
        },
    }) }}
{% endmacro %}

{#- The steps of the quality ladder, in the order a row is checked. Within a
    step, the fields in contract order; conflicting_row_id and duplicate_row
    come last (a copy of a bad row is reported as bad, not as a copy). -#}
{% macro quality_ladder_steps() %}
    {{ return(['missing_required_value', 'unparseable_date', 'date_after_build_date', 'unknown_code',
               'date_order_violation', 'conflicting_row_id', 'duplicate_row']) }}
{% endmacro %}

{#- `dbt run-operation print_export_contracts --quiet`: as JSON on stdout
    (nothing else), for rwe_onboard: the contracts per kind, the ladder's
    steps, the kinds of each shape (macros/centers.sql) and the date layouts
    (macros/adapters/parse_date.sql). -#}
{% macro print_export_contracts() %}
    {%- set contracts = {} -%}
    {%- for kind, contract in export_contracts().items() -%}
        {%- do contracts.update({kind: contract}) -%}
    {%- endfor -%}
    {{ print(tojson({'contracts': contracts, 'ladder': quality_ladder_steps(),
                     'shapes': center_shape_kinds(), 'date_layouts': _date_layouts()},
                    sort_keys=true)) }}
{% endmacro %}
