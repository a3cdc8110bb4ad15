"""Statistical methods of the study, as pure functions on pandas DataFrames.

One module per method family, in the spirit of lifelines:

- :mod:`rwe_stats.propensity` -- ``estimate_propensity_scores``
- :mod:`rwe_stats.matching` -- ``match_nearest_neighbour``
- :mod:`rwe_stats.balance` -- ``standardized_mean_differences``
- :mod:`rwe_stats.survival` -- ``kaplan_meier_table``, ``median_survival``,
  ``survival_at``, ``logrank``, ``hazard_ratio``
- :mod:`rwe_stats.regression` -- ``cox_table``, ``survival_times`` (the rows sorted once,
  passed to every estimate of them)
- :mod:`rwe_stats.response` -- ``response_summary``
- :mod:`rwe_stats.safety` -- ``safety_summary``
- :mod:`rwe_stats.subgroups` -- ``subgroup_hazard_ratios``
- :mod:`rwe_stats.disclosure` -- ``protect_counts`` (small-cell and
  complementary suppression) and its application to the study's BI tables

Each function names its method in the docstring (CI type, ties handling,
variance estimator, caliper), validates its inputs with ``ValueError``
messages that name the column, and is deterministic given its arguments. No
dbt import: dbt Python models call these through :mod:`rwe_study.tables`.
Methods in one page: ``docs/methods-statistics.md``.
"""
