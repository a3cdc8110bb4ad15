{#-
    Reading and checking a center's mapping (docs/center-mapping.md): the
    meta of the source named after the center in
    models/staging/<center>/_<center>__mapping.yml. Every mistake stops the
    build at compile time with the mapping file and the key named.
-#}

{#- The source node of a center's export table `kind`, or an error naming
    what is missing. -#}
{% macro center_source_node(center_id, kind) %}
    {%- if graph.get('sources') is none -%}
        {#- a dbt unit test compiles without the project's graph -#}
        {{ return(_center_source_node_from_file(center_id, kind)) }}
    {%- endif -%}
    {%- set node = graph.sources.get('source.' ~ project_name ~ '.' ~ center_id ~ '.' ~ kind) -%}
    {%- if node is none -%}
        {{ exceptions.raise_compiler_error(
            "Center '" ~ center_id ~ "': no table '" ~ kind ~ "' in its mapping (models/staging/"
            ~ center_id ~ "/_" ~ center_id ~ "__mapping.yml, sources: " ~ center_id
            ~ ", tables): the table feeding stg_" ~ center_id ~ "__" ~ kind ~ " must be named "
            ~ kind) }}
    {%- endif -%}
    {{ return(node) }}
{% endmacro %}

{#- A mapping problem: stops the build naming the file and the key. -#}
{% macro mapping_error(node, key, problem) %}
    {{ exceptions.raise_compiler_error(
        "Center mapping " ~ node.original_file_path ~ ", key " ~ key ~ ": " ~ problem) }}
{% endmacro %}

{#- The center-level mapping of a source node, checked: shape known and as
    registered, identifier columns listed, line_derivation keys known. -#}
{% macro center_mapping(node) %}
    {#- dbt merges the source's config.meta into each table's meta -#}
    {%- set meta = node.meta -%}
    {%- set where = 'sources.' ~ node.source_name ~ '.config.meta' -%}
    {%- set shapes = center_shape_kinds() -%}
    {%- if meta.get('center_id') != node.source_name -%}
        {{ mapping_error(node, where ~ '.center_id', "must equal the source name '" ~ node.source_name
                         ~ "', got '" ~ meta.get('center_id') ~ "'") }}
    {%- endif -%}
    {%- if meta.get('shape') not in shapes -%}
        {{ mapping_error(node, where ~ '.shape', "unknown shape '" ~ meta.get('shape') ~ "' (known: "
                         ~ (shapes.keys() | sort | join(', ')) ~ ")") }}
    {%- endif -%}
    {%- set registered = var('centers', {}).get(node.source_name) -%}
    {%- if registered and registered != meta['shape'] -%}
        {{ mapping_error(node, where ~ '.shape', "shape '" ~ meta['shape'] ~ "' but vars centers registers "
                         ~ node.source_name ~ " as '" ~ registered ~ "'") }}
    {%- endif -%}
    {%- if meta.get('identifier_columns') is none -%}
        {{ mapping_error(node, where ~ '.identifier_columns', "missing: list the raw columns that are"
                         ~ " direct identifiers (names, national IDs, birth dates, record numbers)") }}
    {%- endif -%}
    {%- for key in meta.get('line_derivation', {}) -%}
        {%- if key not in ('line_gap_days', 'line_restart_after_progression_days') -%}
            {{ mapping_error(node, where ~ '.line_derivation.' ~ key, "unknown parameter (known:"
                             ~ " line_gap_days, line_restart_after_progression_days)") }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(meta) }}
{% endmacro %}

{#- The table-level mapping of a center's export table `kind`, checked
    against the contract: {'columns': {raw column: {'field': f or none,
    options...}}, 'by_field': {field: entry with 'column'}, 'row_id',
    'export' (the export's name, source_table), 'files'}. -#}
{% macro center_table_mapping(center_id, kind) %}
    {%- set node = center_source_node(center_id, kind) -%}
    {%- set center = center_mapping(node) -%}
    {%- set meta = node.meta -%}
    {%- set where = 'sources.' ~ center_id ~ '.tables.' ~ kind ~ '.config.meta' -%}
    {%- if kind not in center_shape_kinds()[center['shape']] -%}
        {{ mapping_error(node, 'sources.' ~ center_id ~ '.tables.' ~ kind, "a center of shape '"
                         ~ center['shape'] ~ "' has no table of kind '" ~ kind ~ "' (its kinds: "
                         ~ center_shape_kinds()[center['shape']] | join(', ') ~ ")") }}
    {%- endif -%}
    {%- set contract = export_contracts()[kind] -%}
    {%- set fields = {} -%}
    {%- for field in contract['fields'] -%}
        {%- do fields.update({field['name']: field}) -%}
    {%- endfor -%}
    {%- if not meta.get('columns') -%}
        {{ mapping_error(node, where ~ '.columns', "missing: map every raw column of the export") }}
    {%- endif -%}
    {%- set columns = {} -%}
    {%- set by_field = {} -%}
    {%- for column, spec in meta['columns'].items() -%}
        {%- set key = where ~ '.columns.' ~ column -%}
        {%- set entry = dict(spec) if spec is mapping else {'field': spec} -%}
        {%- do entry.update({'column': column}) -%}
        {%- set field = entry.get('field') -%}
        {%- if field is not none -%}
            {%- if field not in fields -%}
                {{ mapping_error(node, key, "unknown field '" ~ field ~ "' for kind " ~ kind ~ " (fields: "
                                 ~ fields.keys() | join(', ') ~ ")") }}
            {%- endif -%}
            {%- if field in by_field -%}
                {{ mapping_error(node, key, "field '" ~ field ~ "' is already mapped from column '"
                                 ~ by_field[field]['column'] ~ "'") }}
            {%- endif -%}
            {%- if fields[field]['type'] == 'date' -%}
                {%- if entry.get('layout') not in _date_layouts() -%}
                    {{ mapping_error(node, key ~ '.layout', "unknown date layout '" ~ entry.get('layout')
                                     ~ "' (known: " ~ _date_layouts().keys() | join(', ') ~ ")") }}
                {%- endif -%}
            {%- endif -%}
            {%- if fields[field]['type'] == 'relative_time' and entry.get('unit', 'days') not in ('days', 'months') -%}
                {{ mapping_error(node, key ~ '.unit', "unknown unit '" ~ entry.get('unit') ~ "' (known: days, months)") }}
            {%- endif -%}
            {%- do by_field.update({field: entry}) -%}
        {%- endif -%}
        {%- do columns.update({column: entry}) -%}
    {%- endfor -%}
    {%- for field in contract['fields'] if field['mapping'] == 'required' and field['name'] not in by_field -%}
        {{ mapping_error(node, where ~ '.columns', "required field '" ~ field['name'] ~ "' is not mapped:"
                         ~ " map the raw column that holds it") }}
    {%- endfor -%}
    {%- for group in contract.get('one_of', []) -%}
        {%- set mapped = group | select('in', by_field) | list -%}
        {%- if mapped | length != 1 -%}
            {{ mapping_error(node, where ~ '.columns', "map exactly one of the fields " ~ group | join(', ')
                             ~ " (mapped: " ~ (mapped | join(', ') or 'none') ~ ")") }}
        {%- endif -%}
    {%- endfor -%}
    {%- for field in contract['fields'] if field['type'] == 'relative_time' and field['name'] in by_field
                                         and field['observed'] not in by_field -%}
        {{ mapping_error(node, where ~ '.columns', "field '" ~ field['name'] ~ "' needs '" ~ field['observed']
                         ~ "' (the yes/no column saying whether the time ends in the event)") }}
    {%- endfor -%}
    {%- set row_id = meta.get('row_id') -%}
    {%- if row_id and row_id not in columns -%}
        {{ mapping_error(node, where ~ '.row_id', "'" ~ row_id ~ "' is not a column of the mapping") }}
    {%- endif -%}
    {{ return({'columns': columns, 'by_field': by_field, 'row_id': row_id,
               'export': export_name(node), 'files': node.identifier}) }}
{% endmacro %}

{#- The name of an export table (source_table in the warehouse): meta
    `export`, else the source identifier (its file name). -#}
{% macro export_name(node) %}
    {{ return(node.meta.get('export') or node.identifier) }}
{% endmacro %}

{#- What dbt's graph holds of a mapping table (meta with the source's meta
    merged in, identifier, file path), read from the mapping file itself:
    dbt compiles a unit test without the project's graph. -#}
{% macro _center_source_node_from_file(center_id, kind) %}
    {%- set path = 'models/staging/' ~ center_id ~ '/_' ~ center_id ~ '__mapping.yml' -%}
    {%- set document = fromyaml(read_project_text_file(path)) -%}
    {%- for src in document.get('sources', []) if src['name'] == center_id -%}
        {%- for table in src.get('tables', []) if table['name'] == kind -%}
            {%- set meta = {} -%}
            {%- do meta.update(src.get('config', {}).get('meta', {})) -%}
            {%- do meta.update(table.get('config', {}).get('meta', {})) -%}
            {{ return({'meta': meta, 'identifier': table.get('identifier', kind), 'name': kind,
                       'source_name': center_id, 'original_file_path': path}) }}
        {%- endfor -%}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error("Center '" ~ center_id ~ "': no table '" ~ kind ~ "' in " ~ path) }}
{% endmacro %}
