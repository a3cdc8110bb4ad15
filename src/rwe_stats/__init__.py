"""Statistical methods of the study, as pure functions on pandas DataFrames.

One module per method family, in the spirit of lifelines: each function names
its method in the docstring (CI type, ties handling, variance estimator,
caliper), validates its inputs with actionable errors and is deterministic
given its arguments. No dbt import: dbt Python models call these through
:mod:`rwe_study.tables`, and pytest checks them against independent
computations and published reference values.
"""
