"""The study's result tables, assembled from :mod:`rwe_stats` methods.

Each function takes the analysis cohort (and the matched cohort where the
table compares cohorts) as pandas DataFrames plus the study parameters, and
returns one tidy DataFrame whose columns are the public contract of a mart
table. dbt Python models in ``python_models/statistics`` are thin wrappers
around these functions, so the same code runs under pytest.
"""
