{#-
    stage_export(center_id, kind): the whole staging model of one export
    table, rendered at compile time from the center's mapping
    (models/staging/<center>/_<center>__mapping.yml, the source table named
    `kind`) and the export contract (export_contracts). Every staging model
    is one line: {{ stage_export('center_b', 'patients') }}.

    One row per raw row, nothing filtered (row_accounting counts from here):
    provenance, the fields read as the mapping says (dates in their layout,
    codes through the terminology seeds, lists normalised), direct
    identifiers turned into keyed pseudonyms, and the first rule of the
    quality ladder the row breaks (quarantine_reason, failing_column, the raw
    column). The output columns per kind are fixed (staging_output_columns).

    At parse time (no graph yet) it only declares its dependencies: the
    source table and the seeds of the kind's contract, and disables itself
    when the center is not registered (var centers).
-#}
{% macro stage_export(center_id, kind) %}
    {%- do config(enabled=(center_id in var('centers', {}))) -%}
    {%- set contract = export_contracts()[kind] -%}
    {%- set source_relation = source(center_id, kind) -%}
    {%- set seeds = {} -%}
    {%- for field in contract['fields'] if field.get('seed') or field.get('karnofsky_seed') -%}
        {%- set seed = field.get('seed') or field.get('karnofsky_seed') -%}
        {%- do seeds.update({seed['seed']: ref(seed['seed'])}) -%}
    {%- endfor -%}
    {%- if not execute -%}
        {{ return('select 1 as parsed_only') }}
    {%- endif -%}
    {%- set mapping = center_table_mapping(center_id, kind) -%}
    {{ return(_stage_export_sql(center_id, kind, contract, mapping, source_relation, seeds)) }}
{% endmacro %}

{% macro _stage_export_sql(center_id, kind, contract, mapping, source_relation, seeds) %}
    {%- set by_field = mapping['by_field'] -%}
    {%- set key_column = by_field['patient_key']['column'] -%}
    {%- set parsed_columns = [] -%}
    {%- set joins = [] -%}
    {%- set rules = {} -%}
    {%- for step in quality_ladder_steps() -%}
        {%- do rules.update({step: []}) -%}
    {%- endfor -%}
    {%- for field in contract['fields'] -%}
        {%- set entry = by_field.get(field['name']) -%}
        {%- do _stage_field(center_id, field, entry, parsed_columns, joins, rules) -%}
    {%- endfor -%}
    {%- set row_id = mapping['row_id'] -%}
    {%- set content = [] -%}
    {%- for column, entry in mapping['columns'].items()
          if column != row_id or entry['field'] is not none -%}
        {%- do content.append(column) -%}
    {%- endfor -%}
    {%- if row_id -%}
        {%- do rules['conflicting_row_id'].append((row_id, 'has_conflicting_row_id')) -%}
        {%- do rules['duplicate_row'].append((row_id, 'copy_number > 1')) -%}
    {%- else -%}
        {%- do rules['duplicate_row'].append((key_column, 'copy_number > 1')) -%}
    {%- endif -%}
    {%- set several_files = is_several_files(mapping['files']) -%}
    {%- set ladder = [] -%}
    {%- for step in quality_ladder_steps() -%}
        {%- for column, condition in rules[step] -%}
            {%- do ladder.append((condition[0] if condition is not string else step, column,
                                  condition[1] if condition is not string else condition)) -%}
        {%- endfor -%}
    {%- endfor -%}
with

source as {{ cte_not_materialized() }} (
    {{ raw_rows_numbered_per_file(source_relation, several_files) }}
),

{{ row_copies(row_id or none, content, ['source.source_file_name',
                                       'cast(source.source_row_number as ' ~ dbt.type_int() ~ ')']) }},

parsed as (
    select
        source.source_file_name,
        cast(source.{{ 'row_number_in_file' if several_files else 'source_row_number' }}
            as {{ dbt.type_int() }}) as source_row_number,
        {%- for expression in parsed_columns %}
        {{ expression }},
        {%- endfor %}
        {%- if row_id %}
        source.has_conflicting_row_id,
        {%- endif %}
        source.copy_number
    from copies as source
    {%- for alias, seed_name, condition in joins %}
    left join {{ seeds[seed_name] }} as {{ alias }}
        on {{ condition }}
    {%- endfor %}
),

dated as (
    select
        parsed.*
        {%- for field in contract['fields'] if field['type'] == 'relative_time' and field['name'] in by_field %}
        {%- set range = field['unit_ranges'][by_field[field['name']].get('unit', 'days')] %},
        {#- only times within 100 years become dates: NaN, infinity or
            2000000000 days (quarantined) would overflow the date type -#}
        case
            when parsed.{{ field['name'] }} between {{ range[0] }} and {{ range[1] }}
                then {{ dbt.dateadd('day', _relative_time_days('parsed.' ~ field['name'], by_field[field['name']].get('unit', 'days')),
                                    'parsed.line_start_date') }}
        end as {{ field['name'] }}__end_date
        {%- endfor %}
    from parsed
),

checked as (
    {{ first_quality_failure(ladder, 'dated') }}
),

{#- read from the raw rows (`hashed`, row_copies: the one read of the
    export), so `checked` is read once -#}
patient_keys as (
    {{ patient_key_pseudonyms(center_id, '(select ' ~ _patient_key_expression('source.' ~ key_column)
                                         ~ ' as center_patient_key from hashed as source) as raw_keys') }}
),
{%- if kind in ('line_records', 'patients') and by_field.get('national_id') %}

national_ids as (
    {{ national_id_links('(select ' ~ _national_id_expression('source.' ~ by_field['national_id']['column'])
                         ~ ' as national_id_normalised from hashed as source) as raw_national_ids',
                         by_field['national_id'].get('scheme', 'generic')) }}
),
{%- endif %}

final as (
    select
        {%- for column, expression in staging_output_columns(center_id, kind, mapping) %}
        {{ expression }} as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from checked
    left join patient_keys
        on checked.center_patient_key is not distinct from patient_keys.center_patient_key
    {%- if kind in ('line_records', 'patients') and by_field.get('national_id') %}
    left join national_ids
        on checked.national_id_normalised is not distinct from national_ids.national_id_normalised
    {%- endif %}
)

select * from final
{% endmacro %}

{#- A patient key as read: trimmed, empty is missing. -#}
{% macro _patient_key_expression(raw) -%}
    nullif(trim({{ raw }}), '')
{%- endmacro %}

{#- A national ID normalised: trimmed, upper case, spaces and hyphens
    removed, empty is missing. -#}
{% macro _national_id_expression(raw) -%}
    nullif(upper(replace(replace(trim({{ raw }}), ' ', ''), '-', '')), '')
{%- endmacro %}

{#- A relative time in whole days: months are exported as days / 30.4375,
    rounded to 2 decimals. -#}
{% macro _relative_time_days(column, unit) -%}
    {%- if unit == 'months' -%}
        cast(round({{ column }} * 30.4375, 0) as {{ dbt.type_int() }})
    {%- else -%}
        {{ column }}
    {%- endif -%}
{%- endmacro %}

{#- The SQL type of a field's value when the mapping leaves it out. -#}
{% macro _field_null_type(field) -%}
    {%- if field['type'] in ('date',) and not field.get('year_only') -%}date
    {%- elif field['type'] == 'whole_number' or field.get('year_only') -%}{{ dbt.type_int() }}
    {%- elif field['type'] == 'yes_no' -%}{{ dbt.type_boolean() }}
    {%- elif field['type'] == 'relative_time' -%}{{ type_double() }}
    {%- else -%}{{ dbt.type_string() }}
    {%- endif -%}
{%- endmacro %}

{#- The parsed columns of one field (appended to parsed_columns), its seed
    join (joins) and its quality rules (rules[step] as (raw column,
    condition) or (raw column, (reason, condition))). A field the mapping
    leaves out is null and breaks no rule. -#}
{% macro _stage_field(center_id, field, entry, parsed_columns, joins, rules) %}
    {%- set name = field['name'] -%}
    {%- set type = field['type'] -%}
    {%- if entry is none -%}
        {%- if type == 'code' and field['seed'].get('as') -%}
            {%- for output in field['seed']['as'] -%}
                {%- do parsed_columns.append('cast(null as ' ~ dbt.type_string() ~ ') as ' ~ output) -%}
            {%- endfor -%}
        {%- elif type == 'national_id' -%}
            {%- do parsed_columns.append('cast(null as ' ~ dbt.type_string() ~ ') as national_id_normalised') -%}
        {%- elif type != 'key' -%}
            {%- do parsed_columns.append('cast(null as ' ~ _field_null_type(field) ~ ') as ' ~ name) -%}
        {%- endif -%}
        {{ return('') }}
    {%- endif -%}
    {%- set column = entry['column'] -%}
    {%- set raw = 'source.' ~ column -%}
    {%- set text = name ~ '__text' -%}
    {%- set value_required = field['value'] == 'required' or entry.get('required') -%}
    {%- set filled = "nullif(trim(" ~ text ~ "), '') is not null" -%}
    {%- if type not in ('key', 'national_id', 'text') -%}
        {%- do parsed_columns.append(raw ~ ' as ' ~ text) -%}
    {%- endif -%}
    {%- if value_required and type != 'key' -%}
        {%- do rules['missing_required_value'].append((column, "nullif(trim(" ~ text ~ "), '') is null")) -%}
    {%- endif -%}

    {%- if type == 'key' -%}
        {%- do parsed_columns.append(_patient_key_expression(raw) ~ " as center_patient_key") -%}
        {%- do rules['missing_required_value'].append((column, 'center_patient_key is null')) -%}

    {%- elif type == 'national_id' -%}
        {%- do parsed_columns.append(_national_id_expression(raw) ~ " as national_id_normalised") -%}

    {%- elif type == 'text' -%}
        {%- do parsed_columns.append(raw ~ ' as ' ~ name) -%}

    {%- elif type == 'date' and field.get('year_only') -%}
        {%- do parsed_columns.append('cast(extract(year from ' ~ parse_date(raw, entry['layout']) ~ ') as '
                                     ~ dbt.type_int() ~ ') as ' ~ name) -%}
        {%- do rules['unparseable_date'].append((column, name ~ ' is null'
            ~ ('' if value_required else ' and ' ~ filled))) -%}
        {%- do rules['date_after_build_date'].append((column, name ~ ' > extract(year from ' ~ build_date() ~ ')')) -%}

    {%- elif type == 'date' -%}
        {%- do parsed_columns.append(parse_date(raw, entry['layout']) ~ ' as ' ~ name) -%}
        {%- do rules['unparseable_date'].append((column, name ~ ' is null'
            ~ ('' if value_required else ' and ' ~ filled))) -%}
        {%- do rules['date_after_build_date'].append((column, name ~ ' > ' ~ build_date())) -%}
        {%- if field.get('after') == 'birth_date' -%}
            {%- do rules['date_order_violation'].append((column, 'extract(year from ' ~ name ~ ') < birth_date')) -%}
        {%- elif field.get('after') -%}
            {%- do rules['date_order_violation'].append((column, name ~ ' < ' ~ field['after'])) -%}
        {%- endif -%}

    {%- elif type == 'whole_number' and entry.get('scale') == 'karnofsky' -%}
        {#- compared as a number: '70.4' matches no score instead of rounding to 70 -#}
        {%- set alias = 'code_' ~ name -%}
        {%- do joins.append((alias, field['karnofsky_seed']['seed'],
                             dbt.safe_cast(raw, type_double()) ~ ' = ' ~ alias ~ '.karnofsky_score')) -%}
        {%- do parsed_columns.append(alias ~ '.ecog_ps as ' ~ name) -%}
        {%- do rules['unknown_code'].append((column, filled ~ ' and ' ~ name ~ ' is null')) -%}

    {%- elif type == 'whole_number' -%}
        {%- set expression = raw if not entry.get('strip') else
            "replace(upper(trim(" ~ raw ~ ")), '" ~ entry['strip'] | upper ~ "', '')" -%}
        {%- do parsed_columns.append(safe_cast_whole_number(expression) ~ ' as ' ~ name) -%}
        {%- set low, high = field['range'] -%}
        {%- set out_of_range = (name ~ ' < ' ~ low) if high is none
                               else (name ~ ' not between ' ~ low ~ ' and ' ~ high) -%}
        {%- if field['value'] == 'optional' and not entry.get('required') -%}
            {%- do rules['unknown_code'].append((column, filled ~ ' and (' ~ name ~ ' is null or '
                                                 ~ out_of_range ~ ')')) -%}
        {%- else -%}
            {%- do rules['unknown_code'].append((column, name ~ ' is null or ' ~ out_of_range)) -%}
        {%- endif -%}

    {%- elif type in ('code', 'yes_no') -%}
        {%- set seed = field['seed'] -%}
        {%- set alias = 'code_' ~ name -%}
        {%- do joins.append((alias, seed['seed'], terminology_match(raw, alias, seed, center_id))) -%}
        {%- set outputs = seed.get('as') or [name] -%}
        {%- for give in seed['gives'] -%}
            {%- do parsed_columns.append(alias ~ '.' ~ give ~ ' as ' ~ outputs[loop.index0]) -%}
        {%- endfor -%}
        {%- set unknown = outputs[0] ~ ' is null' ~ ('' if field['value'] != 'optional' or entry.get('required')
                                                    else ' and ' ~ filled) -%}
        {%- do rules['unknown_code'].append((column, (field.get('reason', 'unknown_code'), unknown))) -%}

    {%- elif type == 'list' -%}
        {%- do parsed_columns.append('lower(trim(' ~ raw ~ ')) as ' ~ name) -%}

    {%- elif type == 'relative_time' -%}
        {%- set unit = entry.get('unit', 'days') -%}
        {%- set low, high = field['unit_ranges'][unit] -%}
        {%- if unit == 'days' -%}
            {%- do parsed_columns.append(safe_cast_whole_number(raw) ~ ' as ' ~ name) -%}
            {%- do rules['unknown_code'].append((column, name ~ ' is null or ' ~ name ~ ' not between '
                                                 ~ low ~ ' and ' ~ high)) -%}
        {%- else -%}
            {%- do parsed_columns.append(dbt.safe_cast(raw, type_double()) ~ ' as ' ~ name) -%}
            {#- not (between): NaN is not between the bounds -#}
            {%- do rules['unknown_code'].append((column, name ~ ' is null or not (' ~ name ~ ' between '
                                                 ~ low ~ ' and ' ~ high ~ ')')) -%}
        {%- endif -%}
        {%- do rules['date_after_build_date'].append((column, name ~ '__end_date > ' ~ build_date())) -%}
        {%- do rules['date_order_violation'].append((column, name ~ ' < 0')) -%}
    {%- endif -%}
{% endmacro %}

{#- The join condition of a raw code with a terminology seed: trimmed, case
    ignored. A seed the contract marks per_center has a center_id column
    (its last): a row with a center_id holds for that center only, an empty
    one for every center. -#}
{% macro terminology_match(raw, alias, seed, center_id) -%}
    lower(trim({{ raw }})) = lower(trim({{ alias }}.{{ seed['term'] }}))
    {%- if seed.get('per_center') %}
        and ({{ alias }}.center_id is null or {{ alias }}.center_id = '{{ center_id }}')
    {%- endif %}
{%- endmacro %}

{#- (output column, expression over `checked`) of a kind, in the fixed
    order of today's staging columns. -#}
{% macro staging_output_columns(center_id, kind, mapping) %}
    {%- set by_field = mapping['by_field'] -%}
    {%- set key_column = by_field['patient_key']['column'] -%}
    {%- set columns = [
        ('patient_id', 'patient_keys.patient_id'),
        ('folded_patient_id', 'patient_keys.folded_patient_id'),
    ] -%}
    {%- if kind in ('line_records', 'patients') -%}
        {%- set national_id = by_field.get('national_id') -%}
        {%- if national_id -%}
            {%- do columns.append(('person_link_id', 'national_ids.person_link_id')) -%}
            {%- do columns.append(('national_id_status', 'national_ids.national_id_status')) -%}
            {%- do columns.append(('national_id_source_column', "'" ~ national_id['column'] ~ "'")) -%}
        {%- else -%}
            {%- for column in ['person_link_id', 'national_id_status', 'national_id_source_column'] -%}
                {%- do columns.append((column, 'cast(null as ' ~ dbt.type_string() ~ ')')) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
    {%- do columns.extend([
        ('center_id', "'" ~ center_id ~ "'"),
        ('source_table', "'" ~ mapping['export'] ~ "'"),
        ('source_file_name', 'source_file_name'),
        ('source_row_number', 'source_row_number'),
    ]) -%}
    {%- if kind == 'line_records' -%}
        {%- set regimen = by_field['regimen'] -%}
        {%- set sites = by_field.get('metastatic_sites') -%}
        {%- do columns.extend([
            ('birth_year', 'birth_date'), ('sex', 'sex'), ('is_ever_smoker', 'is_ever_smoker'),
            ('had_thoracic_radiotherapy', 'had_thoracic_radiotherapy'),
            ('had_prophylactic_cranial_irradiation', 'had_prophylactic_cranial_irradiation'),
            ('line_number', 'line_number'), ('ecog_ps', 'ecog_ps'),
            ('regimen_drug_list', "replace(regimen, '" ~ regimen.get('delimiter', '|') ~ "', '|')"),
            ('metastatic_site_list', "replace(metastatic_sites, '" ~ sites.get('delimiter', '|') ~ "', '|')"
                                     if sites else 'metastatic_sites'),
            ('best_response', 'best_response'),
            ('line_start_date', 'line_start_date'),
        ]) -%}
        {%- for event, censored, date_field, time_field in [
                ('progression_date', 'last_progression_free_date', 'progression_date', 'progression_time'),
                ('death_date', 'last_contact_date', 'death_date', 'death_time')] -%}
            {%- if time_field in by_field -%}
                {%- set observed = time_field.replace('_time', '_observed') -%}
                {%- do columns.append((event, 'case when ' ~ observed ~ ' then cast(' ~ time_field
                                       ~ '__end_date as date) end')) -%}
                {%- do columns.append((censored, 'case when not ' ~ observed ~ ' then cast(' ~ time_field
                                       ~ '__end_date as date) end')) -%}
            {%- else -%}
                {%- do columns.append((event, date_field)) -%}
                {%- do columns.append((censored, censored if censored == 'last_contact_date'
                                       else 'cast(null as date)')) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- do columns.extend([
            ('quarantine_reason', 'quarantine_reason'), ('failing_column', 'failing_column'),
            ('regimen_source_column', "'" ~ regimen['column'] ~ "'"),
            ('metastatic_sites_source_column', ("'" ~ sites['column'] ~ "'") if sites
                                               else 'cast(null as ' ~ dbt.type_string() ~ ')'),
        ]) -%}
    {%- elif kind == 'patients' -%}
        {%- do columns.extend([
            ('birth_year', 'birth_date'), ('sex', 'sex'), ('ecog_ps', 'ecog_ps'),
            ('is_ever_smoker', 'is_ever_smoker'), ('has_liver_metastases', 'has_liver_metastases'),
            ('has_brain_metastases', 'has_brain_metastases'), ('has_bone_metastases', 'has_bone_metastases'),
            ('metastatic_site_count', '(case when has_liver_metastases then 1 else 0 end)'
                ~ ' + (case when has_brain_metastases then 1 else 0 end)'
                ~ ' + (case when has_bone_metastases then 1 else 0 end)'
                ~ ' + other_metastatic_site_count'),
            ('had_thoracic_radiotherapy', 'had_thoracic_radiotherapy'),
            ('had_prophylactic_cranial_irradiation', 'had_prophylactic_cranial_irradiation'),
            ('death_date', 'death_date'), ('last_contact_date', 'last_contact_date'),
            ('quarantine_reason', 'quarantine_reason'), ('failing_column', 'failing_column'),
        ]) -%}
    {%- elif kind == 'drug_administrations' -%}
        {%- do columns.extend([
            ('drug_generic_name', 'drug_generic_name'), ('drug_class', 'drug_class'), ('is_ici', 'is_ici'),
            ('administration_date', 'administration_date'),
            ('quarantine_reason', 'quarantine_reason'), ('failing_column', 'failing_column'),
            ('patient_key_source_column', "'" ~ key_column ~ "'"),
        ]) -%}
    {%- elif kind == 'assessments' -%}
        {%- do columns.extend([
            ('response_code', 'response'), ('assessment_date', 'assessment_date'),
            ('quarantine_reason', 'quarantine_reason'), ('failing_column', 'failing_column'),
            ('patient_key_source_column', "'" ~ key_column ~ "'"),
        ]) -%}
    {%- elif kind == 'adverse_events' -%}
        {%- do columns.extend([
            ('line_number', 'line_number'), ('ae_term', 'ae_term'), ('ctcae_grade', 'ctcae_grade'),
            ('ae_onset_date', 'ae_onset_date'),
            ('quarantine_reason', 'quarantine_reason'), ('failing_column', 'failing_column'),
            ('patient_key_source_column', "'" ~ key_column ~ "'"),
        ]) -%}
    {%- endif -%}
    {{ return(columns) }}
{% endmacro %}

{#- The raw rows of an export table. With several files (a glob identifier)
    a reader may number the rows of all files in turn (the CSV reader in
    dbt_project.yml, external_location) or per file (the Parquet reader):
    row_number_in_file numbers them per file either way. Copies are ordered
    by (file, row): the files' name order, which is their read order. Shared by
    stage_export and stage_omop_table. -#}
{% macro raw_rows_numbered_per_file(source_relation, several_files) -%}
    {%- if several_files %}
    select
        numbered.*,
        numbered.source_row_number
        - min(numbered.source_row_number) over (partition by numbered.source_file_name) + 1
            as row_number_in_file
    from {{ source_relation }} as numbered
    {%- else %}
    select * from {{ source_relation }}
    {%- endif %}
{%- endmacro %}
