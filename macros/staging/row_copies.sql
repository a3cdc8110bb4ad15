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

    `hashed` is the one pass over every raw row: the raw columns with a hash
    of the content and of the trimmed row id (row_hash, where the engine has
    one), and the trimmed row id; every later CTE reads it, so each is
    computed once per row. Copies are rare: the rows whose hash repeats are
    the candidates, and only they are numbered or compared (a window over
    every row would sort every row with its whole payload). A hash is only
    a filter: rows of one hash that differ in content fall into different
    partitions and stay first copies, and row ids are compared as text.
    Where the engine has no hash, the rows of repeated contents or row ids
    are found by grouping on the raw columns instead.
    The model's later CTEs read the raw rows from `hashed` (a superset of
    `source`), so the export is read once.
    row_id and content_columns are raw column names.
-#}
{% macro row_copies(row_id, content_columns, order_by) -%}
    {%- set content = [] -%}
    {%- set same_content = [] -%}
    {%- for column in content_columns -%}
        {%- do content.append('source.' ~ column) -%}
        {%- do same_content.append('source.' ~ column ~ ' is not distinct from repeated_contents.' ~ column) -%}
    {%- endfor -%}
    {%- set content_hash = row_hash(content) -%}
    {%- set row_id_hash = row_hash(['trim(source.' ~ row_id ~ ')']) if row_id else '' %}
hashed as (
    select
        source.*
        {%- if content_hash %},
        {{ content_hash }} as copies__content_hash
        {%- endif %}
        {%- if row_id %},
        nullif(trim(source.{{ row_id }}), '') as copies__row_id
        {%- if row_id_hash %},
        {{ row_id_hash }} as copies__row_id_hash
        {%- endif %}
        {%- endif %}
    from source
),

{% if content_hash -%}
repeated_content_rows as (
    select source.*
    from hashed as source
    inner join (
        select copies__content_hash
        from hashed
        group by copies__content_hash
        having count(*) > 1
    ) as repeated_content_hashes
        on source.copies__content_hash = repeated_content_hashes.copies__content_hash
),
{%- else -%}
repeated_contents as (
    select {{ content | join(', ') }}
    from hashed as source
    group by {{ content | join(', ') }}
    having count(*) > 1
),

repeated_content_rows as (
    select source.*
    from hashed as source
    inner join repeated_contents
        on {{ same_content | join('\n        and ') }}
),
{%- endif %}

numbered_copies as (
    select
        source.source_file_name,
        source.source_row_number,
        row_number() over (
            partition by {{ content | join(', ') }}
            order by {{ order_by | join(', ') }}
        ) as copy_number
    from repeated_content_rows as source
),
{%- if row_id %}

repeated_row_id_rows as (
    select hashed.*
    from hashed
    inner join (
        select {{ 'copies__row_id_hash' if row_id_hash else 'copies__row_id' }} as repeated_key
        from hashed
        where copies__row_id is not null
        group by {{ 'copies__row_id_hash' if row_id_hash else 'copies__row_id' }}
        having count(*) > 1
    ) as repeated_row_id_keys
        on hashed.{{ 'copies__row_id_hash' if row_id_hash else 'copies__row_id' }}
        = repeated_row_id_keys.repeated_key
    where hashed.copies__row_id is not null
),

conflicting_row_ids as (
    select copies__row_id
    from (
        select distinct
            source.copies__row_id,
            {{ content | join(', ') }}
        from repeated_row_id_rows as source
    ) as row_id_contents
    group by copies__row_id
    having count(*) > 1
),
{%- endif %}

copies as (
    select
        hashed.*,
        coalesce(numbered_copies.copy_number, 1) as copy_number
        {%- if row_id %},
        conflicting_row_ids.copies__row_id is not null as has_conflicting_row_id
        {%- endif %}
    from hashed
    left join numbered_copies
        on
            hashed.source_file_name is not distinct from numbered_copies.source_file_name
            and hashed.source_row_number = numbered_copies.source_row_number
    {%- if row_id %}
    left join conflicting_row_ids
        on hashed.copies__row_id = conflicting_row_ids.copies__row_id
    {%- endif %}
)
{%- endmacro %}
