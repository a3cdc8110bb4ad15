{{ stage_export('center_b', 'adverse_events') }}
