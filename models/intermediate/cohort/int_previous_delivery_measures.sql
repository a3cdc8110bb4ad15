{#- The delivery measures of the last successful build, one row per check
    compared with it: audit.run_log.delivery_profile of the latest build
    whose status is success (read when this build runs, before this build's
    own row is logged). Empty before the first such build. -#}
{%- set previous = previous_delivery_profile() -%}

with

previous_values as (
    {% for check_id, value in previous.items() %}
        select
            '{{ dbt.escape_single_quotes(check_id) }}' as check_id,
            cast({{ value | float }} as {{ type_double() }}) as previous_value
        {% if not loop.last %}union all{% endif %}
    {% else %}
        select
            cast(null as {{ dbt.type_string() }}) as check_id,
            cast(null as {{ type_double() }}) as previous_value
        where 1 = 0
    {% endfor %}
)

select * from previous_values
