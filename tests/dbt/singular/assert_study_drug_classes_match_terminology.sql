{#- The drug classes a study spec may name (macros/study_specs.sql,
    study_drug_classes) are the drug_class values of the drug terminology:
    a class added to the seed must be added there (or a spec could not name
    it), and a class listed there must exist (or a spec's rule on it would
    match no line). Returns the classes on one side only. -#}
with

seeded as (
    select distinct drug_class
    from {{ ref('terminology__drug_names') }}
),

listed as (
    {%- for drug_class in study_drug_classes() %}
        select '{{ drug_class }}' as drug_class
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

final as (
    select
        coalesce(seeded.drug_class, listed.drug_class) as drug_class,
        case
            when listed.drug_class is null then 'in the seed, not in study_drug_classes()'
            else 'in study_drug_classes(), not in the seed'
        end as problem
    from seeded
    full outer join listed
        on seeded.drug_class = listed.drug_class
    where seeded.drug_class is null or listed.drug_class is null
)

select * from final
