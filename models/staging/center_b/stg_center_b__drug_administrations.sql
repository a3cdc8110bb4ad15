{{ stage_export('center_b', 'drug_administrations') }}
