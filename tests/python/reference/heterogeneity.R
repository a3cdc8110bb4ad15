# Center heterogeneity references. Run from this folder:
#   Rscript heterogeneity.R   (R 4.2, metafor 3.8-1: apt-get install r-cran-metafor)
#
# Inputs: the per-center Cox log-HRs and SEs of cox_per_center.csv (made by
# cox_weighted_stratified.R) and two hand-made sets (homogeneous: Q < k - 1,
# so tau^2 is truncated at 0; two centers).
# metafor::rma(yi, sei = se, method = "DL") gives Q, its p, tau^2
# (DerSimonian-Laird), I^2 and the random-effects pooled log-HR (z CI);
# confint() its Q-profile CIs for tau^2 and I^2 (Viechtbauer 2007);
# rma(method = "FE") the inverse-variance fixed-effect pool. The same
# closed forms are written out in base R below and must agree.
library(metafor)

per_center <- read.csv("cox_per_center.csv")
sets <- list(
  synthetic_centers = data.frame(yi = per_center$coef, se = per_center$se),
  homogeneous = data.frame(yi = c(-0.30, -0.25, -0.35), se = c(0.20, 0.25, 0.30)),
  two_centers = data.frame(yi = c(-0.60, 0.10), se = c(0.25, 0.30)))

out <- list()
for (name in names(sets)) {
  s <- sets[[name]]
  k <- nrow(s)
  random <- rma(yi = s$yi, sei = s$se, method = "DL")
  fixed <- rma(yi = s$yi, sei = s$se, method = "FE")
  # tau2.max raised from its default 100 (with two centers the upper limit
  # lies beyond it and metafor would report the search bound) and the root
  # finder tolerance tightened from its default (eps^0.25, about 1e-4)
  ci <- confint(random, control = list(tau2.max = 1e6, tol = 1e-13, maxiter = 10000))$random
  # base R closed forms (the same quantities, written out independently)
  w <- 1 / s$se^2
  fixed_mean <- sum(w * s$yi) / sum(w)
  q <- sum(w * (s$yi - fixed_mean)^2)
  tau2 <- max(0, (q - (k - 1)) / (sum(w) - sum(w^2) / sum(w)))
  w_star <- 1 / (s$se^2 + tau2)
  random_mean <- sum(w_star * s$yi) / sum(w_star)
  i2 <- if (q > 0) max(0, (q - (k - 1)) / q) else 0
  stopifnot(isTRUE(all.equal(q, random$QE, tolerance = 1e-12)),
            isTRUE(all.equal(tau2, random$tau2, tolerance = 1e-12)),
            isTRUE(all.equal(100 * i2, random$I2, tolerance = 1e-12)),
            isTRUE(all.equal(random_mean, as.numeric(random$beta), tolerance = 1e-12)),
            isTRUE(all.equal(1 / sqrt(sum(w_star)), random$se, tolerance = 1e-12)),
            isTRUE(all.equal(fixed_mean, as.numeric(fixed$beta), tolerance = 1e-12)))
  out[[name]] <- list(
    k = k, yi = s$yi, se = s$se,
    q = random$QE, q_df = k - 1, q_p_value = random$QEp,
    tau2 = random$tau2, tau2_ci_lower = ci["tau^2", "ci.lb"], tau2_ci_upper = ci["tau^2", "ci.ub"],
    i2_percent = random$I2, i2_ci_lower_percent = ci["I^2(%)", "ci.lb"],
    i2_ci_upper_percent = ci["I^2(%)", "ci.ub"],
    random_log_hr = as.numeric(random$beta), random_se = random$se,
    random_ci_lower = random$ci.lb, random_ci_upper = random$ci.ub, random_p_value = random$pval,
    fixed_log_hr = as.numeric(fixed$beta), fixed_se = fixed$se,
    fixed_ci_lower = fixed$ci.lb, fixed_ci_upper = fixed$ci.ub, fixed_p_value = fixed$pval)
}
# JSON by hand (no jsonlite in the Debian R base install), 17 significant digits
number <- function(x) if (is.na(x)) "null" else sprintf("%.17g", x)
value <- function(x) if (length(x) > 1) paste0("[", paste(sapply(x, number), collapse = ", "), "]") else number(x)
entries <- sapply(names(out), function(name) {
  fields <- sapply(names(out[[name]]), function(f) sprintf('    "%s": %s', f, value(out[[name]][[f]])))
  sprintf('  "%s": {\n%s\n  }', name, paste(fields, collapse = ",\n"))
})
writeLines(c("{", paste(entries, collapse = ",\n"), "}"), "heterogeneity.json")
