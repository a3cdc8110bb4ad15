{#-
    The raw rows of an export (the CTE `source`) with the two columns the
    last rules of a staging model's data-quality ladder need:
    copy_number: 1 for the first of rows equal in every content column (the
    row id left out), in `order_by` order; 2, 3, ... for its copies, which
    are duplicate_row;
    has_conflicting_row_id (only with a row id): another row has the same
    (trimmed) row id and different content, so no copy can be preferred
    (conflicting_row_id).
    For an export of one row per patient, the row id is the patient key and
    the content includes it.
    Computed on the raw columns, before any column is parsed or joined: the
    window sorts then carry only the export's own columns.
-#}
{% macro row_copies(row_id, content_columns, order_by) -%}
    select
        source.*,
        row_number() over (
            partition by {{ content_columns | join(', ') }}
            order by {{ order_by | join(', ') }}
        ) as copy_number
        {%- if row_id %},
        coalesce(
            nullif(trim({{ row_id }}), '') is not null
            and count(*) over (partition by trim({{ row_id }}))
            > count(*) over (partition by trim({{ row_id }}), {{ content_columns | join(', ') }}),
            false
        ) as has_conflicting_row_id
        {%- endif %}
    from source
{%- endmacro %}
