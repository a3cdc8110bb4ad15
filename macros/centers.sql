{#- The registered centers and what the shared layer reads from each.

    A center is registered by one line in dbt_project.yml vars:
        centers:
          <center_id>: <shape>
    Its shape says which kinds of staging model it provides: a center of shape
    S has one model stg_<center_id>__<kind> for every kind of S, with the
    columns every center of that kind has (docs/center-mapping.md). The
    shared layer (models/intermediate, models/marts) names no center: it
    reads each kind through center_refs(kind).

    Everything here is driven by var('centers'), not by the graph, so the
    refs are captured when dbt parses (the graph is empty then). -#}

{#- Shape -> the kinds of staging model a center of that shape provides.
    The one definition of the shapes. -#}
{% macro center_shape_kinds() %}
    {{ return({
        'line_records': ['line_records', 'adverse_events'],
        'administrations': ['patients', 'drug_administrations', 'assessments', 'adverse_events'],
        'omop_cdm': ['patients', 'drug_administrations', 'assessments', 'adverse_events',
                     'attribute_rows'],
    }) }}
{% endmacro %}

{#- The registered centers as {center_id: shape}; an unknown shape stops
    the build naming the registration key. -#}
{% macro registered_centers() %}
    {%- set centers = var('centers', {}) -%}
    {%- if centers is not mapping -%}
        {{ exceptions.raise_compiler_error(
            "dbt_project.yml vars 'centers' must map each center id to its shape"
            ~ " (one of " ~ (center_shape_kinds().keys() | sort | join(', ')) ~ ")") }}
    {%- endif -%}
    {%- for center_id, shape in centers.items() -%}
        {%- if shape not in center_shape_kinds() -%}
            {{ exceptions.raise_compiler_error(
                "dbt_project.yml vars 'centers', key '" ~ center_id ~ "': unknown shape '"
                ~ shape ~ "' (known: " ~ (center_shape_kinds().keys() | sort | join(', ')) ~ ")") }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(centers) }}
{% endmacro %}

{#- The ids of the registered centers whose shape yields `kind`, sorted (so
    unions read the centers in one fixed order). -#}
{% macro centers_with_kind(kind) %}
    {%- set all_kinds = [] -%}
    {%- for kinds in center_shape_kinds().values() -%}
        {%- do all_kinds.extend(kinds) -%}
    {%- endfor -%}
    {%- if kind not in all_kinds -%}
        {{ exceptions.raise_compiler_error(
            "centers_with_kind: unknown kind '" ~ kind ~ "' (known: "
            ~ (all_kinds | unique | sort | join(', ')) ~ ")") }}
    {%- endif -%}
    {%- set center_ids = [] -%}
    {%- for center_id, shape in registered_centers().items() | sort -%}
        {%- if kind in center_shape_kinds()[shape] -%}
            {%- do center_ids.append(center_id) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(center_ids) }}
{% endmacro %}

{#- The relations of stg_<center_id>__<kind> for every registered center
    whose shape yields `kind`, in center-id order. -#}
{% macro center_refs(kind) %}
    {%- set relations = [] -%}
    {%- for center_id in centers_with_kind(kind) -%}
        {%- do relations.append(center_ref(center_id, kind)) -%}
    {%- endfor -%}
    {{ return(relations) }}
{% endmacro %}

{#- The relation of one center's staging model of one kind (the naming rule
    stg_<center_id>__<kind> lives only here). -#}
{% macro center_ref(center_id, kind) %}
    {{ return(ref('stg_' ~ center_id ~ '__' ~ kind)) }}
{% endmacro %}

{#- The rows of every registered center's stg_<center_id>__<kind>, as one
    query (for a CTE: `name as ({{ union_center_models('kind') }})`). The
    staging models of one kind have the same columns in the same order (one
    contract renders them), so `select *` unions them. A model that reads a
    kind no registered center yields cannot be built: it stops naming the
    kind rather than returning an empty relation of unknown columns. -#}
{% macro union_center_models(kind) %}
    {%- set relations = center_refs(kind) -%}
    {%- if relations | length == 0 -%}
        {%- set shapes = [] -%}
        {%- for shape, kinds in center_shape_kinds().items() if kind in kinds -%}
            {%- do shapes.append(shape) -%}
        {%- endfor -%}
        {{ exceptions.raise_compiler_error(
            "No center registered in dbt_project.yml vars 'centers' yields staging models of kind '"
            ~ kind ~ "' (shapes yielding it: " ~ (shapes | sort | join(', ')) ~ ")") }}
    {%- endif -%}
    {%- for relation in relations %}
    select * from {{ relation }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{% endmacro %}

{#- The line-of-therapy derivation parameters of one center (a center whose
    lines are derived from administrations): the `line_derivation:` block of
    its mapping (config.meta of source <center_id> in
    models/staging/<center_id>/_<center_id>__mapping.yml), each key left out
    taking the var of the same name. The rule: docs/line-of-therapy.md.
    Read from the graph, which is filled only when dbt executes; while it
    parses the vars stand in (the values do not change the refs), and in a
    unit test, whose graph has no sources, the vars it sets do. -#}
{% macro center_line_derivation(center_id) %}
    {%- set parameter_names = ['line_gap_days', 'line_restart_after_progression_days'] -%}
    {%- set parameters = {} -%}
    {%- for name in parameter_names -%}
        {%- do parameters.update({name: var(name)}) -%}
    {%- endfor -%}
    {%- if execute -%}
        {#- A unit test's graph has no sources: its vars (overrides) stand in. -#}
        {%- set mapping_tables = (graph.get('sources') or {}).values()
            | selectattr('source_name', 'equalto', center_id) | list -%}
        {%- if mapping_tables -%}
            {%- set mapping_file = mapping_tables[0].original_file_path -%}
            {%- set overrides = (mapping_tables[0].source_meta or {}).get('line_derivation') or {} -%}
            {%- if overrides is not mapping -%}
                {{ exceptions.raise_compiler_error(
                    mapping_file ~ ", key 'line_derivation': must map parameter names ("
                    ~ (parameter_names | join(', ')) ~ ") to whole numbers of days") }}
            {%- endif -%}
            {%- for name, value in overrides.items() -%}
                {%- if name not in parameter_names -%}
                    {{ exceptions.raise_compiler_error(
                        mapping_file ~ ", key 'line_derivation." ~ name ~ "': unknown parameter (known: "
                        ~ (parameter_names | join(', ')) ~ ")") }}
                {%- endif -%}
                {%- if value is not number or value is boolean or value != (value | int) or value < 0 -%}
                    {{ exceptions.raise_compiler_error(
                        mapping_file ~ ", key 'line_derivation." ~ name
                        ~ "': must be a whole number of days, 0 or more") }}
                {%- endif -%}
                {%- do parameters.update({name: value | int}) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(parameters) }}
{% endmacro %}

{#- A mapping's `identifier` names several files when it is a glob (one
    export table delivered in parts, docs/center-mapping.md section 5). -#}
{% macro is_several_files(identifier) %}
    {{ return(identifier is string and ('*' in identifier or '?' in identifier)) }}
{% endmacro %}

{#- The registered centers whose line source (exported lines or the drug
    administrations lines are derived from) is delivered as several files,
    as the mappings say: their rows are numbered per file, so a line record
    is keyed by its file as well (int_study_patients_indexed). Decided by
    the mapping, not by counting files found, so a delivery that happens to
    hold one file matching the glob keys its records as the next, larger
    one will. -#}
{% macro centers_with_split_line_source() %}
    {#- the mapping table a center's lines come from, by shape -#}
    {%- set line_source_table = {'line_records': 'line_records',
                                 'administrations': 'drug_administrations',
                                 'omop_cdm': 'drug_exposure'} -%}
    {%- set center_ids = [] -%}
    {%- for center_id, shape in registered_centers().items()
          if is_several_files(center_source_node(center_id, line_source_table[shape]).identifier) -%}
        {%- do center_ids.append(center_id) -%}
    {%- endfor -%}
    {{ return(center_ids | sort) }}
{% endmacro %}
