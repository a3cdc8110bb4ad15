{#- A terminology seed gives each spelling one meaning (per center): staging
    matches a raw code to the seed rows of its spelling, trimmed and case
    ignored, so two rows of one spelling would give a raw row two meanings
    (and duplicate it). A seed with a center column (center_column, for
    spellings two centers use differently; empty = every center) may repeat
    a spelling for different centers only. Returns every spelling with more
    than one row for some center, naming the scopes. -#}
{% test one_meaning_per_spelling(model, column_name, center_column=none) %}
    {%- set first_scope = 'first_row.' ~ center_column if center_column else 'cast(null as ' ~ dbt.type_string() ~ ')' -%}
    {%- set second_scope = 'second_row.' ~ center_column if center_column else 'cast(null as ' ~ dbt.type_string() ~ ')' -%}
    select
        lower(trim(first_row.{{ column_name }})) as spelling,
        coalesce({{ first_scope }}, '(every center)') as first_scope,
        coalesce({{ second_scope }}, '(every center)') as second_scope
    from {{ model }} as first_row
    inner join {{ model }} as second_row
        on
            lower(trim(first_row.{{ column_name }})) = lower(trim(second_row.{{ column_name }}))
            and first_row.{{ column_name }} || '|' || coalesce({{ first_scope }}, '')
            < second_row.{{ column_name }} || '|' || coalesce({{ second_scope }}, '')
    where
        {{ first_scope }} is null
        or {{ second_scope }} is null
        or {{ first_scope }} = {{ second_scope }}
{% endtest %}
