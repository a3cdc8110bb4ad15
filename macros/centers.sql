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
        'omop_cdm': ['patients', 'drug_administrations', 'assessments', 'adverse_events'],
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
        {%- do relations.append(ref('stg_' ~ center_id ~ '__' ~ kind)) -%}
    {%- endfor -%}
    {{ return(relations) }}
{% endmacro %}
