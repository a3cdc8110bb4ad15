{{ stage_export('center_c', 'adverse_events') }}
