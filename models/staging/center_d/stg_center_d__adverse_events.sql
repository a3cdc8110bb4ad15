{{ stage_omop_kind('center_d', 'adverse_events') }}
