{#-
    on-run-start gate: every raw export declared in a center's sources YAML
    (tables whose meta lists required_columns) must exist, be readable as the
    documented CSV (raw_export_structure_problem), have data rows,
    carry every required column, and have each declared date column readable
    in its declared layout. Any breach stops the build before a model runs,
    with an error naming center, table, file and column. Single bad values in
    a readable column are not errors: staging quarantines those rows.
-#}
{% macro check_raw_exports() %}
    {%- if execute and flags.WHICH in ('build', 'run') -%}
        {%- for src in graph.sources.values()
              if src.package_name == project_name and src.meta.get('required_columns') -%}
            {{ _check_one_raw_export(src) }}
        {%- endfor -%}
    {%- endif -%}
    select 1 as raw_exports_checked
{% endmacro %}

{% macro _check_one_raw_export(src) %}
    {%- set center_id = src.meta.get('center_id', src.source_name) -%}
    {%- set relation_sql = raw_export_relation_sql(src) -%}
    {%- set where = "center '" ~ center_id ~ "', table '" ~ src.name ~ "' ("
        ~ raw_export_location(src) ~ ")" -%}

    {%- set problem = raw_export_missing(src) -%}
    {%- if problem -%}
        {{ exceptions.raise_compiler_error("Raw export check failed for " ~ where ~ ": " ~ problem) }}
    {%- endif -%}

    {%- set problem = raw_export_structure_problem(src) -%}
    {%- if problem -%}
        {{ exceptions.raise_compiler_error("Raw export check failed for " ~ where ~ ": " ~ problem) }}
    {%- endif -%}

    {%- set row_count = run_query(
        'select count(*) as row_count from ' ~ relation_sql ~ ' as export').rows[0]['row_count'] -%}
    {%- if row_count == 0 -%}
        {{ exceptions.raise_compiler_error(
            "Raw export check failed for " ~ where ~ ": the export is empty (no data rows)") }}
    {%- endif -%}

    {%- set columns = run_query('select * from ' ~ relation_sql ~ ' as export where 1 = 0').column_names -%}
    {%- set missing = [] -%}
    {%- for column in src.meta['required_columns'] if column not in columns -%}
        {%- do missing.append(column) -%}
    {%- endfor -%}
    {%- if missing -%}
        {{ exceptions.raise_compiler_error(
            "Raw export check failed for " ~ where ~ ": missing required column(s) "
            ~ (missing | join(', ')) ~ "; the file has " ~ (columns | join(', '))
        ) }}
    {%- endif -%}

    {%- set date_columns = src.meta.get('date_columns', {}) -%}
    {%- set measures = ['count(*) as row_count'] -%}
    {#- one scan per export: filled and parseable values of every date column -#}
    {%- for column, layout in date_columns.items() -%}
        {%- do measures.append(
            "count(nullif(trim(" ~ column ~ "), '')) as " ~ column ~ "__filled") -%}
        {%- do measures.append(
            "count(" ~ parse_date(column, layout) ~ ") as " ~ column ~ "__parsed") -%}
    {%- endfor -%}
    {%- set profile = run_query(
        'select ' ~ (measures | join(', ')) ~ ' from ' ~ relation_sql ~ ' as export').rows[0] -%}
    {%- for column, layout in date_columns.items() -%}
        {%- set filled = profile[column ~ '__filled'] -%}
        {%- if filled > 0 and profile[column ~ '__parsed'] == 0 -%}
            {{ exceptions.raise_compiler_error(
                "Raw export check failed for " ~ where ~ ": column '" ~ column
                ~ "' is unreadable as a date: none of its " ~ filled
                ~ " values matches the declared layout " ~ layout) }}
        {%- endif -%}
    {%- endfor -%}
{% endmacro %}
