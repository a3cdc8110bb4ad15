{#-
    The delivery checks' configuration and memory (docs/data-quality.md,
    "Delivery checks"): the limits (var delivery_limits), the changes an
    operator accepts for one run (var accept_delivery_changes), the profile
    of the last successful build (audit.run_log.delivery_profile), the stop
    before publication (model delivery_gate) and what run_log records.
-#}

{#- The limits of var delivery_limits that are shares (a number from 0 to 1);
    the others (the raw-export gate's header bounds) are positive counts. -#}
{% macro _delivery_share_limit_names() %}
    {{ return(['date_column_unreadable_share', 'quarantined_row_share',
               'invalid_national_id_share', 'excluded_patient_share',
               'excluded_patient_share_rise', 'eligible_patient_drop', 'ici_share_change']) }}
{% endmacro %}

{#- One limit of var delivery_limits (dbt_project.yml, docs/data-quality.md),
    read by the raw-export gate and the delivery checks. A missing or
    malformed limit stops the build; there is no default. -#}
{% macro delivery_limit(name) %}
    {%- set limits = var('delivery_limits', none) -%}
    {%- if limits is not mapping or name not in limits -%}
        {{ exceptions.raise_compiler_error(
            "var delivery_limits (dbt_project.yml) has no limit '" ~ name
            ~ "' (docs/data-quality.md, Delivery limits)") }}
    {%- endif -%}
    {%- set value = limits[name] -%}
    {%- set is_share = name in _delivery_share_limit_names() -%}
    {%- if value is not number or value is sameas true or value is sameas false
          or value < 0 or (is_share and value > 1) or (not is_share and value < 1) -%}
        {{ exceptions.raise_compiler_error(
            "var delivery_limits." ~ name ~ " must be "
            ~ ("a number from 0 to 1 (a share)" if is_share else "a positive whole number")
            ~ ", got " ~ tojson(value)) }}
    {%- endif -%}
    {{ return(value) }}
{% endmacro %}

{#- Exclusion reasons that are the study's eligibility rules: how many
    patients they exclude depends on a center's case mix, so only their rise
    from the last successful build is limited. -#}
{% macro exclusion_share_exempt_reasons() %}
    {%- set reasons = var('delivery_limits', {}).get('exclusion_share_exempt_reasons') -%}
    {%- if reasons is string or reasons is not iterable -%}
        {{ exceptions.raise_compiler_error(
            "var delivery_limits.exclusion_share_exempt_reasons must be a list of reason codes") }}
    {%- endif -%}
    {{ return(reasons | list) }}
{% endmacro %}

{#- The check ids an operator accepts for this run only, from
    --vars '{accept_delivery_changes: [<check id>, ...]}'. Empty by default. -#}
{% macro accepted_delivery_changes() %}
    {%- set accepted = var('accept_delivery_changes', []) or [] -%}
    {%- if accepted is string or accepted is mapping or accepted is not iterable -%}
        {{ exceptions.raise_compiler_error(
            "var accept_delivery_changes must be a list of check ids (as the delivery check "
            ~ "message names them), got " ~ tojson(accepted)) }}
    {%- endif -%}
    {%- for check_id in accepted if check_id is not string -%}
        {{ exceptions.raise_compiler_error(
            "var accept_delivery_changes must list check ids as text, got " ~ tojson(check_id)) }}
    {%- endfor -%}
    {{ return(accepted | list) }}
{% endmacro %}

{#- check id -> value of the last successful build that recorded a delivery
    profile in audit.run_log; empty before the first one (or while parsing). -#}
{% macro previous_delivery_profile() %}
    {%- if not execute -%}
        {{ return({}) }}
    {%- endif -%}
    {%- set log_relation = adapter.get_relation(database=target.get('database'), schema='audit',
                                                identifier='run_log') -%}
    {%- if log_relation is none -%}
        {{ return({}) }}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(log_relation) | map(attribute='name')
                      | map('lower') | list -%}
    {%- if 'delivery_profile' not in columns -%}
        {{ return({}) }}
    {%- endif -%}
    {%- set rows = run_query(
        "select delivery_profile from " ~ log_relation
        ~ " where status = 'success' and delivery_profile is not null"
        ~ " order by run_started_at desc limit 1").rows -%}
    {{ return(fromjson(rows[0][0]) if rows else {}) }}
{% endmacro %}

{#- Run by model delivery_gate: stop the build, before anything is
    published, when a delivery check is beyond its limit and not accepted
    for this run. The message lists every such check. -#}
{% macro stop_on_delivery_breaches(checks_relation) %}
    {%- set breaches = run_query(
        "select message from " ~ checks_relation
        ~ " where not is_within_limits and not is_accepted order by check_id").rows -%}
    {%- if breaches -%}
        {%- set lines = [] -%}
        {%- for breach in breaches -%}
            {%- do lines.append('- ' ~ breach[0]) -%}
        {%- endfor -%}
        {{ exceptions.raise_compiler_error(
            "Delivery check failed: " ~ (breaches | length) ~ " check(s) beyond their limits, so"
            ~ " nothing is published (published/current stays as it was):\n"
            ~ (lines | join('\n'))
            ~ "\nLimits: var delivery_limits in dbt_project.yml (docs/data-quality.md). To accept a"
            ~ " known change for this run only, name its check: --vars"
            ~ " '{accept_delivery_changes: [<check id>, ...]}'.") }}
    {%- endif -%}
{% endmacro %}

{#- The run_log columns of the delivery checks, as SQL expressions:
    delivery_profile: check id -> value of the checks compared with the
    previous build, only when this build succeeded and ran the checks (the
    next build compares with it); delivery_breaches: every check beyond its
    limit, accepted or not, with its message; accepted_delivery_changes: the
    var as given. -#}
{% macro delivery_run_log_values(status, built) %}
    {%- set accepted = var('accept_delivery_changes', []) or [] -%}
    {%- set values = {
        'delivery_profile': _run_log_text(none),
        'delivery_breaches': _run_log_text(none),
        'accepted_delivery_changes': _run_log_text(tojson(accepted) if accepted else none),
    } -%}
    {%- if 'delivery_checks' in built -%}
        {%- set checks = adapter.get_relation(database=target.get('database'), schema='audit',
                                              identifier='delivery_checks') -%}
        {%- set rows = run_query(
            "select check_id, observed_value, change_limit, is_within_limits, is_accepted, message"
            ~ " from " ~ checks ~ " order by check_id").rows -%}
        {%- set profile = {} -%}
        {%- set breaches = [] -%}
        {%- for row in rows -%}
            {%- if row['change_limit'] is not none and row['observed_value'] is not none -%}
                {%- do profile.update({row['check_id']: row['observed_value'] | float}) -%}
            {%- endif -%}
            {%- if not row['is_within_limits'] -%}
                {%- do breaches.append({'check_id': row['check_id'],
                                        'accepted': true if row['is_accepted'] else false,
                                        'message': row['message']}) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if status == 'success' -%}
            {%- do values.update({'delivery_profile': _run_log_text(tojson(profile, sort_keys=true))}) -%}
        {%- endif -%}
        {%- do values.update({'delivery_breaches': _run_log_text(tojson(breaches) if breaches else none)}) -%}
    {%- endif -%}
    {{ return(values) }}
{% endmacro %}
