{{ stage_export('center_b', 'patients') }}
