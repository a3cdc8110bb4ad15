{{ stage_export('center_a', 'line_records') }}
