{#-
    The CTEs that follow a staging model's `source` CTE (an export's raw
    rows, with source_file_name and a source_row_number unique in it) and end
    in `copies`: the raw rows with the two columns the last rules of the
    data-quality ladder need.
    copy_number: 1 for the first of rows equal in every content column (the
    row id left out), in `order_by` order; 2, 3, ... for its copies, which
    are duplicate_row;
    has_conflicting_row_id (only with a row id): another row has the same
    (trimmed) row id and different content, so no copy can be preferred
    (conflicting_row_id).
    For an export of one row per patient, the row id is the patient key and
    the content includes it.

    Copies are rare, so the work over every raw row is grouping on a hash of
    the raw columns (row_hash, where the engine has one); only the rows of a
    repeated hash are grouped on the raw columns, and only the rows of
    repeated contents or repeated row ids are numbered or compared, and
    joined back (a window over every row would sort every row with its whole
    payload).
    row_id and content_columns are raw column names.
-#}
{% macro row_copies(row_id, content_columns, order_by) -%}
    {%- set content = [] -%}
    {%- set same_content = [] -%}
    {%- for column in content_columns -%}
        {%- do content.append('source.' ~ column) -%}
        {%- do same_content.append('source.' ~ column ~ ' is not distinct from repeated_contents.' ~ column) -%}
    {%- endfor -%}
{%- set content_hash = row_hash(content) %}
{%- if content_hash %}
repeated_content_hashes as (
    select {{ content_hash }} as content_hash
    from source
    group by {{ content_hash }}
    having count(*) > 1
),

{% endif -%}
repeated_contents as (
    select {{ content | join(', ') }}
    from source
    {%- if content_hash %}
    inner join repeated_content_hashes
        on {{ content_hash }} = repeated_content_hashes.content_hash
    {%- endif %}
    group by {{ content | join(', ') }}
    having count(*) > 1
),

numbered_copies as (
    select
        source.source_file_name,
        source.source_row_number,
        row_number() over (
            partition by {{ content | join(', ') }}
            order by {{ order_by | join(', ') }}
        ) as copy_number
    from source
    inner join repeated_contents
        on {{ same_content | join('\n        and ') }}
),
{%- if row_id %}

{%- set row_id_hash = row_hash(['trim(source.' ~ row_id ~ ')']) %}
{%- if row_id_hash %}

repeated_row_id_hashes as (
    select {{ row_id_hash }} as row_id_hash
    from source
    where nullif(trim(source.{{ row_id }}), '') is not null
    group by {{ row_id_hash }}
    having count(*) > 1
),
{%- endif %}

repeated_row_ids as (
    select trim(source.{{ row_id }}) as row_id
    from source
    {%- if row_id_hash %}
    inner join repeated_row_id_hashes
        on {{ row_id_hash }} = repeated_row_id_hashes.row_id_hash
    {%- endif %}
    where nullif(trim(source.{{ row_id }}), '') is not null
    group by trim(source.{{ row_id }})
    having count(*) > 1
),

conflicting_row_ids as (
    select row_id
    from (
        select distinct
            repeated_row_ids.row_id,
            {{ content | join(', ') }}
        from source
        inner join repeated_row_ids
            on trim(source.{{ row_id }}) = repeated_row_ids.row_id
    ) as row_id_contents
    group by row_id
    having count(*) > 1
),
{%- endif %}

copies as (
    select
        source.*,
        coalesce(numbered_copies.copy_number, 1) as copy_number
        {%- if row_id %},
        conflicting_row_ids.row_id is not null as has_conflicting_row_id
        {%- endif %}
    from source
    left join numbered_copies
        on
            source.source_file_name is not distinct from numbered_copies.source_file_name
            and source.source_row_number = numbered_copies.source_row_number
    {%- if row_id %}
    left join conflicting_row_ids
        on trim(source.{{ row_id }}) = conflicting_row_ids.row_id
    {%- endif %}
)
{%- endmacro %}
