{#-
    The last two rules of a staging model's data-quality ladder need two
    columns, computed once per export from its row id and every other column:
    copy_number: 1 for the first of rows equal in every content column (the
    row id left out), 2, 3, ... for its copies, which are duplicate_row;
    has_conflicting_row_id: another row has the same (trimmed) row id and
    different content, so no copy can be preferred (conflicting_row_id).
    For an export of one row per patient, the row id is the patient key and
    the content includes it.
-#}
{% macro duplicate_row_columns(row_id, content_columns, order_by='source.source_row_number') -%}
    row_number() over (
        partition by {{ content_columns | join(', ') }}
        order by cast({{ order_by }} as {{ dbt.type_int() }})
    ) as copy_number,
    coalesce(
        nullif(trim({{ row_id }}), '') is not null
        and count(*) over (partition by trim({{ row_id }}))
        > count(*) over (partition by trim({{ row_id }}), {{ content_columns | join(', ') }}),
        false
    ) as has_conflicting_row_id
{%- endmacro %}
