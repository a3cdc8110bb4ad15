{{ stage_omop_table('center_d', 'observation_period') }}
