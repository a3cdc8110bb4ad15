{{ stage_omop_kind('center_d', 'patients') }}
