{#-
    Engine-specific: a keyed, one-way pseudonym for a center's patient key.
    The key (the RWE_PSEUDONYM_KEY environment variable) is never committed; without it the build stops, because an
    unkeyed hash of a hospital record number can be reversed by enumeration.
-#}
{% macro pseudonymise(center_id, patient_key_column) -%}
    {%- set key = env_var('RWE_PSEUDONYM_KEY', '') -%}
    {%- if execute and (key | length) < 16 -%}
        {{ exceptions.raise_compiler_error(
            "RWE_PSEUDONYM_KEY is missing or shorter than 16 characters: set that "
            ~ "environment variable (make run creates one in .secrets/)."
        ) }}
    {%- endif -%}
    {{ return(adapter.dispatch('pseudonymise', 'rwe_warehouse')(center_id, patient_key_column, key)) }}
{%- endmacro %}

{% macro duckdb__pseudonymise(center_id, patient_key_column, key) -%}
    substr(sha256(concat('{{ key }}', '|', '{{ center_id }}', '|', trim({{ patient_key_column }}))), 1, 24)
{%- endmacro %}

{% macro default__pseudonymise(center_id, patient_key_column, key) -%}
    substr(sha2(concat('{{ key }}', '|', '{{ center_id }}', '|', trim({{ patient_key_column }})), 256), 1, 24)
{%- endmacro %}
