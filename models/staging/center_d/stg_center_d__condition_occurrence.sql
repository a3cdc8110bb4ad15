{{ stage_omop_table('center_d', 'condition_occurrence') }}
