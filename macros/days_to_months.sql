{#- Days to months with the average month length (365.25 / 12 = 30.4375 days),
    the convention of the reference study and of center C's export. -#}
{% macro days_to_months(days) -%}
    (cast({{ days }} as {{ type_double() }}) / 30.4375)
{%- endmacro %}
