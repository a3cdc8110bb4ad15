{#-
    Engine-specific: the generator's true lines of therapy
    (<raw_data_dir>_truth/true_lines.<raw_file_format>, or var
    line_truth_path), validation data beside the exports, never a delivery:
    the raw-export gate does not read it and no source declares it. Real
    data has no such file; then this is an empty relation of the same
    columns, so line_derivation_agreement is empty and the build goes on.
-#}
{% macro true_lines_relation() -%}
    {{ return(adapter.dispatch('true_lines_relation', 'rwe_warehouse')()) }}
{%- endmacro %}

{% macro true_lines_path() -%}
    {%- set default_path = (var('raw_data_dir', 'data/raw') | string).rstrip('/')
        ~ '_truth/true_lines.' ~ var('raw_file_format', 'csv') -%}
    {{ return(var('line_truth_path', default_path)) }}
{%- endmacro %}

{% macro duckdb__true_lines_relation() -%}
    {%- set path = true_lines_path() | replace("'", "''") -%}
    {%- set found = 0 -%}
    {%- if execute -%}
        {%- set found = run_query("select count(*) from glob('" ~ path ~ "')").columns[0].values()[0] -%}
    {%- endif -%}
    {%- if found == 0 -%}
        {{ return(default__true_lines_relation()) }}
    {%- elif path.endswith('.parquet') -%}
        {{ return("(select center_id, patient_key, line_number, start_date, regimen from read_parquet('"
                  ~ path ~ "'))") }}
    {%- else -%}
        {{ return("(select center_id, patient_key, line_number, start_date, regimen from read_csv('"
                  ~ path ~ "', header = true, all_varchar = true))") }}
    {%- endif -%}
{%- endmacro %}

{#- Other engines: load the file as a table and point this at it; until then
    the validation table is empty. -#}
{% macro default__true_lines_relation() -%}
    {{ return("(select cast(null as " ~ dbt.type_string() ~ ") as center_id, cast(null as "
              ~ dbt.type_string() ~ ") as patient_key, cast(null as " ~ dbt.type_string()
              ~ ") as line_number, cast(null as " ~ dbt.type_string() ~ ") as start_date, cast(null as "
              ~ dbt.type_string() ~ ") as regimen where 1 = 0)") }}
{%- endmacro %}
