{{ stage_omop_kind('center_d', 'attribute_rows') }}
