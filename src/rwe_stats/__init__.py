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
- :mod:`rwe_stats.rmst` -- ``rmst_by_arm``, ``rmst_contrasts``,
  ``milestone_survival_difference``
- :mod:`rwe_stats.evalue` -- ``evalues_for_hazard_ratio``, ``evalues_for_table``
- :mod:`rwe_stats.weighting` -- ``propensity_weights``,
  ``weighted_standardized_mean_differences``, ``effective_sample_size``,
  ``weighted_kaplan_meier_table``, ``weighted_hazard_ratio``
- :mod:`rwe_stats.heterogeneity` -- ``per_center_hazard_ratios``, ``center_heterogeneity``
- :mod:`rwe_stats.diagnostics` -- ``study_diagnostics`` and its parts
- :mod:`rwe_stats.censoring` -- ``censoring_reasons_over_time``

Estimates that cannot be made come back as rows with ``estimation_status``
and ``status_reason`` (:mod:`rwe_stats._status`); invalid input raises.

Each function names its method in the docstring (CI type, ties handling,
variance estimator, caliper), validates its inputs with ``ValueError``
messages that name the column, and is deterministic given its arguments. No
dbt import: dbt Python models call these through :mod:`rwe_study.tables`.
Methods in one page: ``docs/methods-statistics.md``.
"""
