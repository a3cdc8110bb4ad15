{#- One row per study spec (studies/<study_id>.yml), validated
    (macros/study_specs.sql): what the study is, and the whole spec as JSON,
    which the statistics models read their parameters from. Published, so a
    reader of any result table can see the rules behind its study_id. -#}
{%- set specs = study_specs() %}
{%- for spec in specs %}
    select
        '{{ spec["study_id"] }}' as study_id,
        '{{ spec["spec_file"] }}' as spec_file,
        {{ study_spec_text(spec["title"]) }} as title,
        {{ study_spec_text(spec.get("reference")) }} as reference,
        {{ study_spec_text(spec["exposure"]["label"]) }} as exposure_label,
        {{ study_spec_text(spec["comparator"]["label"]) }} as comparator_label,
        '{{ spec["endpoints"]["primary"] }}' as primary_endpoint,
        cast('{{ spec["eligibility"]["study_window_start_date"] }}' as date) as study_window_start_date,
        cast('{{ spec["eligibility"]["study_window_end_date"] }}' as date) as study_window_end_date,
        cast('{{ spec["eligibility"]["data_cutoff_date"] }}' as date) as data_cutoff_date,
        {{ study_spec_text(tojson(spec, sort_keys=true)) }} as spec_json
    {%- if not loop.last %}
        union all
    {%- endif %}
{%- endfor %}
