{{ stage_omop_table('center_d', 'measurement') }}
