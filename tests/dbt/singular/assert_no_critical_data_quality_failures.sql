{#- The data-quality gate: returns every critical expectation that failed (or
    could not be evaluated) in dq_results. Any row fails `dbt build`, and the
    statistics models downstream of dq_results are skipped. Warnings are left
    to dq_results. -#}
with

results as (
    select * from {{ ref('dq_results') }}
),

critical_failures as (
    select
        table_name,
        expectation_type,
        column_name,
        unexpected_count,
        reason
    from results
    where
        severity = 'critical'
        and not success
)

select * from critical_failures
