{#- A terminology seed gives each spelling one meaning per center: staging
    matches a raw code to the seed rows of its spelling (trimmed, case
    ignored) whose center_id is empty (every center) or the row's center.
    Two such rows for one center would give a raw row two meanings (and
    duplicate it), so the test returns every spelling and center that has
    more than one row, naming both centers' scopes. -#}
{% test one_meaning_per_spelling(model, column_name) %}
    select
        lower(trim(first_row.{{ column_name }})) as spelling,
        coalesce(first_row.center_id, '(every center)') as first_scope,
        coalesce(second_row.center_id, '(every center)') as second_scope
    from {{ model }} as first_row
    inner join {{ model }} as second_row
        on
            lower(trim(first_row.{{ column_name }})) = lower(trim(second_row.{{ column_name }}))
            and first_row.{{ column_name }} || '|' || coalesce(first_row.center_id, '')
            < second_row.{{ column_name }} || '|' || coalesce(second_row.center_id, '')
    where
        first_row.center_id is null
        or second_row.center_id is null
        or first_row.center_id = second_row.center_id
{% endtest %}
