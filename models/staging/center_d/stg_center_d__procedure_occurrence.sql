{{ stage_omop_table('center_d', 'procedure_occurrence') }}
