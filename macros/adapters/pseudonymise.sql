{#-
    Engine-specific: a keyed, one-way pseudonym for a center's patient key.
    The key (the RWE_PSEUDONYM_KEY environment variable) is never committed; without it the build stops, because an
    unkeyed hash of a hospital record number can be reversed by enumeration.
-#}
{% macro pseudonymise(center_id, patient_key_column) -%}
    {{ return(pseudonymise_by_column("'" ~ center_id ~ "'", patient_key_column)) }}
{%- endmacro %}

{#- The same pseudonym with the center (namespace) read from a column or
    expression: for a table that lists several centers' patient keys (the
    generator's true lines, read only in staging). -#}
{% macro pseudonymise_by_column(center_id_expression, patient_key_column) -%}
    {{ return(adapter.dispatch('pseudonymise', 'rwe_warehouse')(center_id_expression, patient_key_column)) }}
{%- endmacro %}

{% macro _pseudonym_key() -%}
    {%- set key = env_var('RWE_PSEUDONYM_KEY', '') -%}
    {%- if execute and (key | length) < 16 -%}
        {{ exceptions.raise_compiler_error(
            "RWE_PSEUDONYM_KEY is missing or shorter than 16 characters: set that "
            ~ "environment variable (make run creates one in .secrets/)."
        ) }}
    {%- endif -%}
    {{ return(key) }}
{%- endmacro %}

{#- The key is not inlined: the rwe_warehouse.pseudonym_key plugin (profiles.yml)
    sets it as a DuckDB variable on every connection (and refuses a missing or
    short key), so it appears in no compiled SQL, log line, dbt artifact or
    stored view definition. `||`, not DuckDB's concat (which skips a null):
    a missing key identifies no one, so its pseudonym is null, as on Spark,
    not the hash of an empty key that every such row would share. -#}
{% macro duckdb__pseudonymise(center_id_expression, patient_key_column) -%}
    substr(sha256(getvariable('rwe_pseudonym_key') || '|' || {{ center_id_expression }} || '|' || trim({{ patient_key_column }})), 1, 24)
{%- endmacro %}

{#- Other engines inline the key (Spark has no session variable dbt can bind
    as a parameter): keep their target/ and logs/ private. On Databricks use a
    secret scope (secret('<scope>', '<key>')) instead; see docs/portability.md. -#}

{#- Spark's concat is null when an argument is null: a missing key gets a
    null pseudonym here too. -#}
{% macro default__pseudonymise(center_id_expression, patient_key_column) -%}
    substr(sha2(concat('{{ _pseudonym_key() }}', '|', {{ center_id_expression }}, '|', trim({{ patient_key_column }})), 256), 1, 24)
{%- endmacro %}
