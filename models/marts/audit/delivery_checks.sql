{#- One row per delivery check: a measure of this delivery (per center and
    export) against its limit in var delivery_limits and against the last
    successful build (audit.run_log.delivery_profile). A check beyond its
    limit stops the build in delivery_gate, before anything is published,
    unless the operator accepts it for this run (var accept_delivery_changes).
    Limits and how they were chosen: docs/data-quality.md. -#}
{#- Schema audit, beside run_log, not marts: published_results refs the gate,
    and every table it refs in marts counts as published. -#}
{{ config(schema='audit') }}
{#- as SQL string lists; '' (matching no check id or reason) when empty -#}
{%- set accepted = [] -%}
{%- for check_id in accepted_delivery_changes() -%}
    {%- do accepted.append("'" ~ dbt.escape_single_quotes(check_id) ~ "'") -%}
{%- endfor -%}
{%- set exempt_reasons = [] -%}
{%- for reason in exclusion_share_exempt_reasons() -%}
    {%- do exempt_reasons.append("'" ~ dbt.escape_single_quotes(reason) ~ "'") -%}
{%- endfor -%}

with

measures as (
    select * from {{ ref('int_delivery_measures') }}
),

previous_values as (
    select * from {{ ref('int_previous_delivery_measures') }}
),

limited as (
    select
        measures.*,
        previous_values.previous_value,
        case
            when measures.check_name = 'quarantined_row_share'
                then {{ delivery_limit('quarantined_row_share') }}
            when measures.check_name = 'invalid_national_id_share'
                then {{ delivery_limit('invalid_national_id_share') }}
            when
                measures.check_name = 'excluded_patient_share'
                and measures.reason not in ({{ exempt_reasons | join(', ') or "''" }})
                then {{ delivery_limit('excluded_patient_share') }}
        end as limit_value,
        case
            when measures.check_name = 'excluded_patient_share'
                then {{ delivery_limit('excluded_patient_share_rise') }}
            when measures.check_name = 'eligible_patients'
                then {{ delivery_limit('eligible_patient_drop') }}
            when measures.check_name = 'ici_share'
                then {{ delivery_limit('ici_share_change') }}
        end as change_limit,
        {#- eligible patients: the relative drop; shares: the change in points -#}
        case
            when measures.check_name != 'eligible_patients'
                then measures.observed_value - previous_values.previous_value
            when previous_values.previous_value > 0
                then
                    (previous_values.previous_value - measures.observed_value)
                    / previous_values.previous_value
        end as change_from_previous
    from measures
    left join previous_values
        on measures.check_id = previous_values.check_id
),

checked as (
    {#- rounded to 9 decimals: 0.4 - 0.3 is 0.10000000000000003 in floating
        point, and a change exactly at its limit holds -#}
    select
        limited.*,
        coalesce(round(limited.observed_value, 9) <= limited.limit_value, true)
        and coalesce(
            case
                when limited.check_name = 'ici_share'
                    then round(abs(limited.change_from_previous), 9) <= limited.change_limit
                else round(limited.change_from_previous, 9) <= limited.change_limit
            end,
            true
        ) as is_within_limits,
        limited.check_id in ({{ accepted | join(', ') or "''" }}) as is_accepted
    from limited
),

{%- set percent = "cast(round(100 * {}, 1) as " ~ dbt.type_string() ~ ")" -%}
{%- set count = "cast({} as " ~ dbt.type_string() ~ ")" %}

described as (
    select
        checked.*,
        case
            when checked.check_name = 'quarantined_row_share' then {{ dbt.concat([
                "'center '''", 'checked.center_id', "''', export '''", 'checked.source_table',
                "''', column '''", 'checked.column_name', "''': '",
                percent.format('checked.observed_value'), "'% of rows quarantined as '",
                'checked.reason', "' ('", count.format('checked.observed_count'), "' of '",
                count.format('checked.denominator'), "'; limit '",
                percent.format('checked.limit_value'), "'%)'"]) }}
            when checked.check_name = 'invalid_national_id_share' then {{ dbt.concat([
                "'center '''", 'checked.center_id', "''', export '''", 'checked.source_table',
                "''', column '''", 'checked.column_name', "''': '",
                percent.format('checked.observed_value'),
                "'% of rows have a missing or invalid national ID, which links no records ('",
                count.format('checked.observed_count'), "' of '",
                count.format('checked.denominator'), "'; limit '",
                percent.format('checked.limit_value'), "'%)'"]) }}
            when checked.check_name = 'excluded_patient_share' then {{ dbt.concat([
                "'center '''", 'checked.center_id', "''': '",
                percent.format('checked.observed_value'), "'% of patients excluded as '",
                'checked.reason', "' ('", count.format('checked.observed_count'), "' of '",
                count.format('checked.denominator'), "'; limit '",
                "case when checked.limit_value is null then 'none (an eligibility rule)' else "
                ~ dbt.concat([percent.format('checked.limit_value'), "'%'"]) ~ " end",
                "'; last successful build '",
                "case when checked.previous_value is null then 'none' else "
                ~ dbt.concat([percent.format('checked.previous_value'), "'%'"]) ~ " end",
                "', a rise of at most '", percent.format('checked.change_limit'), "' points)'"]) }}
            when checked.check_name = 'eligible_patients' then {{ dbt.concat([
                "'center '''", 'checked.center_id', "''': '",
                count.format('checked.observed_count'), "' eligible patients'",
                "case when checked.change_from_previous is null"
                ~ " then ' (no earlier successful build to compare with)' else "
                ~ dbt.concat([
                    "', '", percent.format('checked.change_from_previous'),
                    "'% fewer than the last successful build''s '",
                    count.format('cast(checked.previous_value as ' ~ dbt.type_int() ~ ')'),
                    "' (limit '", percent.format('checked.change_limit'), "'%)'"])
                ~ " end"]) }}
            when checked.check_name = 'ici_share' then {{ dbt.concat([
                "'center '''", 'checked.center_id', "''': ICI arm '",
                "case when checked.observed_value is null then 'undefined (no eligible patient)' else "
                ~ dbt.concat([percent.format('checked.observed_value'), "'%'"]) ~ " end",
                "' of eligible patients'",
                "case when checked.previous_value is null"
                ~ " then ' (no earlier successful build to compare with)' else "
                ~ dbt.concat([
                    "', last successful build '", percent.format('checked.previous_value'),
                    "'% (limit a change of '", percent.format('checked.change_limit'),
                    "' points)'"])
                ~ " end"]) }}
        end as description
    from checked
),

final as (
    select
        ---------- keys
        check_id,
        check_name,
        ---------- where
        center_id,
        source_table,
        column_name,
        reason,
        ---------- measure
        observed_count,
        denominator,
        cast(observed_value as {{ type_double() }}) as observed_value,
        ---------- limits
        cast(limit_value as {{ type_double() }}) as limit_value,
        cast(previous_value as {{ type_double() }}) as previous_value,
        cast(change_from_previous as {{ type_double() }}) as change_from_previous,
        cast(change_limit as {{ type_double() }}) as change_limit,
        ---------- outcome
        is_within_limits,
        is_accepted,
        {{ dbt.concat(['description', "' [check '", 'check_id', "']'"]) }} as message
    from described
)

select * from final
