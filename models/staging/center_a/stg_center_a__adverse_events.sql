{{ stage_export('center_a', 'adverse_events') }}
