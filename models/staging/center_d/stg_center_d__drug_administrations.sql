{{ stage_omop_kind('center_d', 'drug_administrations') }}
