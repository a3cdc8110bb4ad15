"""Onboard a center: a center is a mapping file and seed rows, nothing else.

``python -m rwe_onboard profile`` shows how a sample export's columns look,
``draft`` writes the center's mapping (models/staging/<center>/_<center>__mapping.yml)
with a TODO for what it cannot infer and lists the seed rows its unknown spellings need,
``precheck`` checks exports against a mapping. dbt renders the staging models from the
mapping (docs/center-mapping.md); see docs/onboarding-a-center.md.
"""
