{{ stage_export('center_b', 'assessments') }}
