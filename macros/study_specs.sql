{#-
    Study specifications: one YAML file per study, studies/<study_id>.yml, each
    a dbt exposure whose meta.study holds the spec (format: README "Add a
    study"). dbt parses the files with the project (a malformed exposure fails
    there); study_specs() validates each spec and returns them, and every
    cohort and statistics table holds one block of rows per spec, keyed by
    study_id (the exposure name). A bad spec stops the build before any model
    runs (on-run-start: validate_study_specs), and `dbt run-operation
    validate_study_specs` checks the specs alone; each error names the file
    and the key. The graph holds the exposures only once parsing is done, so
    the check runs when the build starts, not inside `dbt parse`.
-#}

{#- The drug classes an arm or prior-line rule may name: the drug_class values
    of seeds/terminology/terminology__drug_names.csv (a singular test,
    tests/dbt/singular/assert_study_drug_classes_match_terminology.sql, keeps
    them equal), plus 'ici': the line's is_ici_regimen (an immune checkpoint
    inhibitor of any class). -#}
{% macro study_drug_classes() %}
    {{ return(['anti_angiogenic_tki', 'etoposide', 'pd_1_inhibitor', 'pd_l1_inhibitor',
               'platinum', 'supportive', 'taxane', 'topoisomerase_inhibitor']) }}
{% endmacro %}

{% macro study_rule_classes() %}
    {{ return(study_drug_classes() + ['ici']) }}
{% endmacro %}

{#- The keys of a spec (meta.study) and of its blocks; anything else is an
    error (a misspelt key must not fall back to a default). -#}
{% macro _study_spec_keys() %}
    {{ return({
        'study': ['title', 'reference', 'index_line', 'eligibility', 'exposure', 'comparator',
                  'baseline_covariates', 'endpoints', 'matching', 'alpha', 'landmark_months',
                  'cox_terms', 'subgroups', 'min_cell_count', 'diagnostics', 'published'],
        'eligibility': ['study_window_start_date', 'study_window_end_date', 'data_cutoff_date',
                        'centers', 'prior_line', 'requires_follow_up'],
        'prior_line': ['requires_progression', 'all_of', 'any_of', 'none_of'],
        'arm': ['label', 'index_line'],
        'rule': ['all_of', 'any_of', 'none_of'],
        'endpoints': ['primary', 'secondary'],
        'matching': ['method', 'caliper_sd', 'random_seed'],
        'diagnostics': ['thresholds', 'power', 'primary_cohort', 'rmst_taus_months',
                        'rare_outcome_threshold', 'lost_to_follow_up_days',
                        'censoring_interval_months', 'weight_methods'],
    }) }}
{% endmacro %}

{% macro _study_spec_error(file, key, problem) %}
    {{ exceptions.raise_compiler_error('Study spec ' ~ file ~ ', key ' ~ key ~ ': ' ~ problem) }}
{% endmacro %}

{% macro _check_keys(file, key, block, allowed, required=[]) %}
    {%- if block is not mapping -%}
        {{ _study_spec_error(file, key, 'must be a mapping') }}
    {%- endif -%}
    {%- for name in block if name not in allowed -%}
        {{ _study_spec_error(file, key ~ '.' ~ name, 'unknown key (known: ' ~ allowed | join(', ') ~ ')') }}
    {%- endfor -%}
    {%- for name in required if name not in block -%}
        {{ _study_spec_error(file, key ~ '.' ~ name, 'missing') }}
    {%- endfor -%}
{% endmacro %}

{% macro _check_list(file, key, values, known=none, what='value', allow_empty=false) %}
    {%- if values is string or values is mapping or values is not iterable -%}
        {{ _study_spec_error(file, key, 'must be a list') }}
    {%- endif -%}
    {%- if not allow_empty and values | length == 0 -%}
        {{ _study_spec_error(file, key, 'must not be empty') }}
    {%- endif -%}
    {%- for value in values if known is not none and value not in known -%}
        {{ _study_spec_error(file, key, 'unknown ' ~ what ~ ' ' ~ tojson(value) ~ ' (known: ' ~ known | join(', ') ~ ')') }}
    {%- endfor -%}
{% endmacro %}

{% macro _check_date(file, key, value) %}
    {%- if value is not string or not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value) -%}
        {{ _study_spec_error(file, key, 'must be a date written YYYY-MM-DD in quotes') }}
    {%- endif -%}
{% endmacro %}

{% macro _check_number(file, key, value, low=none, high=none) %}
    {%- if value is string or value is not number or value is sameas true or value is sameas false -%}
        {{ _study_spec_error(file, key, 'must be a number') }}
    {%- endif -%}
    {%- if (low is not none and value <= low) or (high is not none and value >= high) -%}
        {{ _study_spec_error(file, key, 'must be in (' ~ low ~ ', ' ~ high ~ ')') }}
    {%- endif -%}
{% endmacro %}

{#- A drug-class rule (all_of / any_of / none_of): known classes, and no class
    both required and forbidden (the rule could match no line). -#}
{% macro _check_rule(file, key, rule, allowed_keys) %}
    {{ _check_keys(file, key, rule, allowed_keys) }}
    {%- for part in ['all_of', 'any_of', 'none_of'] if part in rule -%}
        {{ _check_list(file, key ~ '.' ~ part, rule[part], study_rule_classes(), 'drug class') }}
    {%- endfor -%}
    {%- set forbidden = rule.get('none_of', []) -%}
    {%- for drug_class in rule.get('all_of', []) if drug_class in forbidden -%}
        {{ _study_spec_error(file, key, 'contradictory rules: ' ~ drug_class ~ ' is in all_of and none_of') }}
    {%- endfor -%}
    {%- if rule.get('any_of') and rule['any_of'] | reject('in', forbidden) | list | length == 0 -%}
        {{ _study_spec_error(file, key, 'contradictory rules: every class of any_of is in none_of') }}
    {%- endif -%}
{% endmacro %}

{#- True when no line can satisfy both rules: one requires a class the other forbids. -#}
{% macro _rules_exclusive(first, second) %}
    {%- set ns = namespace(exclusive=false) -%}
    {%- for a, b in [(first, second), (second, first)] -%}
        {%- for drug_class in a.get('all_of', []) if drug_class in b.get('none_of', []) -%}
            {%- set ns.exclusive = true -%}
        {%- endfor -%}
        {%- if a.get('any_of') and a['any_of'] | reject('in', b.get('none_of', [])) | list | length == 0 -%}
            {%- set ns.exclusive = true -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(ns.exclusive) }}
{% endmacro %}

{% macro _validated_study_spec(exposure) %}
    {%- set file = exposure.original_file_path -%}
    {%- set keys = _study_spec_keys() -%}
    {%- if not modules.re.match('^[a-z][a-z0-9_]*$', exposure.name) -%}
        {{ _study_spec_error(file, 'name', 'a study_id is lower-case letters, digits and _') }}
    {%- endif -%}
    {%- if 'study' not in exposure.meta -%}
        {{ _study_spec_error(file, 'meta.study', 'missing (a file in studies/ holds one study spec)') }}
    {%- endif -%}
    {%- set spec = exposure.meta['study'] -%}
    {%- set k = 'meta.study' -%}
    {{ _check_keys(file, k, spec, keys['study'], keys['study'] | reject('equalto', 'reference') | list) }}
    {%- if spec['index_line'] != 2 -%}
        {#- the harmonised checks of the lines that place an index
            (int_treatment_histories_checked) cover lines 1 and 2 -#}
        {{ _study_spec_error(file, k ~ '.index_line', 'only 2 (second line) is supported') }}
    {%- endif -%}
    {#- eligibility -#}
    {%- set eligibility = spec['eligibility'] -%}
    {{ _check_keys(file, k ~ '.eligibility', eligibility, keys['eligibility'],
                   ['study_window_start_date', 'study_window_end_date', 'data_cutoff_date',
                    'centers', 'prior_line', 'requires_follow_up']) }}
    {%- for date_key in ['study_window_start_date', 'study_window_end_date', 'data_cutoff_date'] -%}
        {{ _check_date(file, k ~ '.eligibility.' ~ date_key, eligibility[date_key]) }}
    {%- endfor -%}
    {%- if eligibility['study_window_start_date'] > eligibility['study_window_end_date'] -%}
        {{ _study_spec_error(file, k ~ '.eligibility.study_window_end_date', 'contradictory rules: the window ends before it starts') }}
    {%- endif -%}
    {#- a cut-off before the window's end is allowed: the follow-up tests
        (non_negative) name the patients it leaves without follow-up -#}
    {%- if eligibility['centers'] != 'all' -%}
        {{ _check_list(file, k ~ '.eligibility.centers', eligibility['centers'], none, 'center') }}
    {%- endif -%}
    {{ _check_rule(file, k ~ '.eligibility.prior_line', eligibility['prior_line'], keys['prior_line']) }}
    {%- for flag_key, block in [('requires_progression', eligibility['prior_line']),
                                ('requires_follow_up', eligibility)] -%}
        {%- if flag_key in block and block[flag_key] is not sameas true and block[flag_key] is not sameas false -%}
            {{ _study_spec_error(file, k ~ '.eligibility.' ~ ('prior_line.' if block is not sameas eligibility else '') ~ flag_key, 'must be true or false') }}
        {%- endif -%}
    {%- endfor -%}
    {#- arms -#}
    {%- for arm in ['exposure', 'comparator'] -%}
        {{ _check_keys(file, k ~ '.' ~ arm, spec[arm], keys['arm'], keys['arm']) }}
        {%- set rule = spec[arm]['index_line'] -%}
        {%- if rule is not mapping or not (rule.get('all_of') or rule.get('any_of') or rule.get('none_of')) -%}
            {{ _study_spec_error(file, k ~ '.' ~ arm ~ '.index_line', 'empty arm: give all_of, any_of or none_of drug classes') }}
        {%- endif -%}
        {{ _check_rule(file, k ~ '.' ~ arm ~ '.index_line', rule, keys['rule']) }}
    {%- endfor -%}
    {%- if spec['exposure']['label'] == spec['comparator']['label'] -%}
        {{ _study_spec_error(file, k ~ '.comparator.label', 'the two arms need different labels') }}
    {%- endif -%}
    {%- if not _rules_exclusive(spec['exposure']['index_line'], spec['comparator']['index_line']) -%}
        {{ _study_spec_error(file, k ~ '.comparator.index_line', 'contradictory rules: a line can be in both arms (one arm must require a class the other forbids)') }}
    {%- endif -%}
    {#- columns of analysis_cohort -#}
    {%- set cohort = graph.nodes.get('model.' ~ project_name ~ '.analysis_cohort') -%}
    {%- set columns = cohort.columns.keys() | list if cohort else [] -%}
    {{ _check_list(file, k ~ '.baseline_covariates', spec['baseline_covariates'], columns, 'analysis_cohort column') }}
    {{ _check_list(file, k ~ '.cox_terms', spec['cox_terms'], columns, 'analysis_cohort column') }}
    {%- if spec['cox_terms'][0] != 'is_ici' -%}
        {{ _study_spec_error(file, k ~ '.cox_terms', 'the first term is the treatment, is_ici (true in the exposure arm)') }}
    {%- endif -%}
    {{ _check_keys(file, k ~ '.subgroups', spec['subgroups'], spec['subgroups'].keys() | list) }}
    {{ _check_list(file, k ~ '.subgroups', spec['subgroups'].values() | list, columns, 'analysis_cohort column') }}
    {#- endpoints, matching, numbers -#}
    {{ _check_keys(file, k ~ '.endpoints', spec['endpoints'], keys['endpoints'], ['primary']) }}
    {{ _check_list(file, k ~ '.endpoints.primary', [spec['endpoints']['primary']], ['PFS', 'OS'], 'endpoint') }}
    {{ _check_list(file, k ~ '.endpoints.secondary', spec['endpoints'].get('secondary', []),
                   ['PFS', 'OS', 'ORR', 'DCR', 'safety'], 'endpoint', allow_empty=true) }}
    {{ _check_keys(file, k ~ '.matching', spec['matching'], keys['matching'], keys['matching']) }}
    {{ _check_list(file, k ~ '.matching.method', [spec['matching']['method']], ['nearest_neighbour_1_to_1'], 'method') }}
    {{ _check_number(file, k ~ '.matching.caliper_sd', spec['matching']['caliper_sd'], 0) }}
    {%- if spec['matching']['random_seed'] is not integer -%}
        {{ _study_spec_error(file, k ~ '.matching.random_seed', 'must be a whole number') }}
    {%- endif -%}
    {{ _check_number(file, k ~ '.alpha', spec['alpha'], 0, 1) }}
    {{ _check_list(file, k ~ '.landmark_months', spec['landmark_months']) }}
    {%- for landmark in spec['landmark_months'] -%}
        {{ _check_number(file, k ~ '.landmark_months', landmark, 0) }}
    {%- endfor -%}
    {%- if spec['min_cell_count'] is not integer or spec['min_cell_count'] < 1 -%}
        {{ _study_spec_error(file, k ~ '.min_cell_count', 'must be a whole number >= 1') }}
    {%- endif -%}
    {{ _check_keys(file, k ~ '.diagnostics', spec['diagnostics'], keys['diagnostics'], keys['diagnostics']) }}
    {{ _check_list(file, k ~ '.diagnostics.primary_cohort', [spec['diagnostics']['primary_cohort']], ['all', 'matched'], 'cohort') }}
    {{ _check_keys(file, k ~ '.published', spec['published'], spec['published'].keys() | list, ['citation']) }}
    {{ return(spec) }}
{% endmacro %}

{#- Every study spec, validated, in study_id order: a list of mappings with
    study_id, spec_file and the spec's keys. Empty while dbt parses (the graph
    is filled later); raises when there is none at run time. -#}
{% macro study_specs() %}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set specs = [] -%}
    {%- for exposure in graph.exposures.values() | sort(attribute='name')
            if exposure.original_file_path.startswith('studies/') -%}
        {%- set spec = {'study_id': exposure.name, 'spec_file': exposure.original_file_path} -%}
        {%- do spec.update(_validated_study_spec(exposure)) -%}
        {%- do specs.append(spec) -%}
    {%- endfor -%}
    {%- if specs | length == 0 -%}
        {{ exceptions.raise_compiler_error('No study spec: add studies/<study_id>.yml (README "Add a study")') }}
    {%- endif -%}
    {{ return(specs) }}
{% endmacro %}

{#- on-run-start (before the raw-export gate) and `dbt run-operation
    validate_study_specs`: fail before any model runs. -#}
{% macro validate_study_specs() %}
    {%- if execute -%}
        {%- set specs = study_specs() -%}
        {{ log(specs | length ~ ' study spec(s) valid: ' ~ specs | map(attribute='study_id') | join(', '), info=(flags.WHICH == 'run-operation')) }}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}

{#- SQL: true when the drug-class flags of a line (columns has_<class> of
    int_treatment_line_drug_classes, table alias `alias`; named
    <column_prefix>has_<class> where a relation carries two lines' flags)
    satisfy `rule`. -#}
{% macro study_rule_sql(rule, alias, column_prefix='') %}
    {%- set terms = [] -%}
    {%- for drug_class in rule.get('all_of', []) -%}
        {%- do terms.append(alias ~ '.' ~ column_prefix ~ 'has_' ~ drug_class) -%}
    {%- endfor -%}
    {%- if rule.get('any_of') -%}
        {%- set any = [] -%}
        {%- for drug_class in rule['any_of'] -%}
            {%- do any.append(alias ~ '.' ~ column_prefix ~ 'has_' ~ drug_class) -%}
        {%- endfor -%}
        {%- do terms.append('(' ~ any | join(' or ') ~ ')') -%}
    {%- endif -%}
    {%- for drug_class in rule.get('none_of', []) -%}
        {%- do terms.append('not ' ~ alias ~ '.' ~ column_prefix ~ 'has_' ~ drug_class) -%}
    {%- endfor -%}
    {{ return('(' ~ (terms | join(' and ') if terms else 'true') ~ ')') }}
{% endmacro %}

{#- A spec's text as an SQL string literal (quotes doubled). -#}
{% macro study_spec_text(value) %}
    {%- if value is none -%}
        {{ return('cast(null as ' ~ dbt.type_string() ~ ')') }}
    {%- endif -%}
    {{ return("cast('" ~ (value | string | replace("'", "''")) ~ "' as " ~ dbt.type_string() ~ ")") }}
{% endmacro %}
