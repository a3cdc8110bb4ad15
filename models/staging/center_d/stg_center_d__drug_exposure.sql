{{ stage_omop_table('center_d', 'drug_exposure') }}
