{#- Values are not negative: returns the offending rows. -#}
{% test non_negative(model, column_name) %}
    select *
    from {{ model }}
    where {{ column_name }} < 0
{% endtest %}
