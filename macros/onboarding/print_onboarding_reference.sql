{#- `dbt run-operation print_onboarding_reference --quiet`: what rwe_onboard
    reads of the project, one JSON line each, so Python keeps no copy: the
    export contracts, ladder and shapes (print_export_contracts), and the
    date layouts parse_date reads (their shape and strptime format). -#}
{% macro print_onboarding_reference() %}
    {%- do print_export_contracts() -%}
    {%- set layouts = {} -%}
    {%- for name, layout in _date_layouts().items() -%}
        {%- do layouts.update({name: {'shape': layout['shape'], 'strftime': layout['strftime']}}) -%}
    {%- endfor -%}
    {{ print(tojson({'date_layouts': layouts}, sort_keys=true)) }}
{% endmacro %}
