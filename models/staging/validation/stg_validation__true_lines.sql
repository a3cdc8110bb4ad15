{#- The generator's true lines of therapy of the administration-level
    centers, to validate the line derivation against (never a delivery, never
    part of the study). Patient keys become the same keyed pseudonyms the
    center's staging models give, so the key stops here. Empty when there is
    no truth file (real data). -#}
with

source as (
    select * from {{ true_lines_relation() }}
),

final as (
    select
        {{ pseudonymise_by_column('trim(source.center_id)', 'source.patient_key') }} as patient_id,
        trim(source.center_id) as center_id,
        cast(source.line_number as {{ dbt.type_int() }}) as line_number,
        cast(source.start_date as date) as line_start_date,
        source.regimen as regimen_name
    from source
)

select * from final
