{{ stage_export('center_c', 'line_records') }}
