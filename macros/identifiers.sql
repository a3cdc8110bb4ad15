{#-
    Identifiers a staging model turns into link keys. Each center calls
    person_link_columns once (on its national ID) and folded_patient_id once
    (on its patient key), so a center rendered from a declarative mapping
    needs only the column names and the ID scheme.
-#}

{#- The national ID schemes a center can declare, and how each is checked
    after normalisation (trimmed, upper case, spaces and hyphens removed):
    - prc_resident_id: the 18-character PRC resident ID (GB 11643-1999):
      17 digits, the 8 digits from position 7 a real calendar date not after
      the build date, and an ISO 7064 MOD 11-2 check character (0-9 or X).
      A spreadsheet's 6.40105E+17, 640105195808224000 (digits past the 15th
      zeroed) or a 15- or 17-digit number fails.
    - generic: a scheme without a check digit. 5 to 32 characters and no
      decimal point, exponent sign or thousands separator, which is what
      spreadsheet software makes of a long number. -#}
{% macro national_id_is_valid(national_id, scheme) -%}
    {%- if scheme == 'prc_resident_id' -%}
        {{ _prc_resident_id_is_valid(national_id) }}
    {%- elif scheme == 'generic' -%}
        (
            {{ dbt.length(national_id) }} between 5 and 32
            and {{ national_id }} not like '%.%'
            and {{ national_id }} not like '%+%'
            and {{ national_id }} not like '%,%'
        )
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "Unknown national ID scheme '" ~ scheme ~ "'. Known schemes: prc_resident_id, generic"
            ~ " (macros/identifiers.sql).") }}
    {%- endif -%}
{%- endmacro %}

{% macro _prc_resident_id_is_valid(national_id) -%}
    {%- set weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] -%}
    {%- set weighted_digits = [] -%}
    {%- for weight in weights -%}
        {%- do weighted_digits.append(
            dbt.safe_cast("substr(" ~ national_id ~ ", " ~ loop.index ~ ", 1)", dbt.type_int())
            ~ " * " ~ weight) -%}
    {%- endfor -%}
    (
        {{ dbt.length(national_id) }} = 18
        {%- for position in range(1, 18) %}
        and substr({{ national_id }}, {{ position }}, 1) between '0' and '9'
        {%- endfor %}
        and {{ parse_date("substr(" ~ national_id ~ ", 7, 8)", 'YYYYMMDD') }} <= {{ build_date() }}
        and substr('10X98765432', mod({{ weighted_digits | join(' + ') }}, 11) + 1, 1)
        = substr({{ national_id }}, 18, 1)
    )
{%- endmacro %}

{#- Three columns from a center's normalised national ID:
    person_link_id, a keyed pseudonym the same at every center (namespace
    'person'), null unless the ID is valid in its scheme: an invalid ID never
    links records, however many rows share it;
    national_id_status, valid / invalid / missing, counted per export by the
    delivery checks (a mangled export stops the build there);
    national_id_source_column, the raw column, for those checks' messages. -#}
{% macro person_link_columns(national_id, scheme, source_column) -%}
    {{ person_link_id(national_id, scheme) }} as person_link_id,
    {{ national_id_status(national_id, scheme) }} as national_id_status,
    '{{ source_column }}' as national_id_source_column
{%- endmacro %}

{% macro person_link_id(national_id, scheme) -%}
    case
        when {{ national_id_is_valid(national_id, scheme) }}
            then {{ pseudonymise('person', national_id) }}
    end
{%- endmacro %}

{% macro national_id_status(national_id, scheme) -%}
    case
        when {{ national_id }} is null then 'missing'
        when {{ national_id_is_valid(national_id, scheme) }} then 'valid'
        else 'invalid'
    end
{%- endmacro %}

{#- A keyed pseudonym of the patient key after folding case and removing
    spaces: two spellings of one key ('TJ-10246', 'tj-10246 ') share it, so a
    record filed under another spelling can be found. For a key already in
    its folded form it is the patient_id itself (the same expression, which
    the engine computes once). Null for a missing key. -#}
{% macro folded_patient_id(center_id, patient_key) -%}
    {%- set folded = "upper(replace(" ~ patient_key ~ ", ' ', ''))" -%}
    case
        when {{ patient_key }} is null then null
        when {{ patient_key }} = {{ folded }} then {{ pseudonymise(center_id, patient_key) }}
        else {{ pseudonymise(center_id, folded) }}
    end
{%- endmacro %}

{#- The day the build runs (UTC), the upper bound of every date an export
    may hold: a later date is a typing or export error, not information. -#}
{% macro build_date() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d") }}' as date)
{%- endmacro %}

{#- One row per distinct patient key of `relation` (a CTE with a
    center_patient_key column, null included) with its patient_id and
    folded_patient_id: a keyed hash is computed once per patient, not once per
    raw row. Join it back with `is not distinct from`, so that rows without a
    key keep their row (with null pseudonyms). -#}
{% macro patient_key_pseudonyms(center_id, relation) -%}
    select
        center_patient_key,
        {{ pseudonymise(center_id, 'center_patient_key') }} as patient_id,
        {{ folded_patient_id(center_id, 'center_patient_key') }} as folded_patient_id
    from (select distinct center_patient_key from {{ relation }}) as patient_keys
{%- endmacro %}

{#- One row per distinct normalised national ID of `relation` (null
    included) with its person_link_id and national_id_status, computed once
    per ID. -#}
{% macro national_id_links(relation, scheme) -%}
    select
        national_id_normalised,
        {{ person_link_id('national_id_normalised', scheme) }} as person_link_id,
        {{ national_id_status('national_id_normalised', scheme) }} as national_id_status
    from (select distinct national_id_normalised from {{ relation }}) as national_ids
{%- endmacro %}
