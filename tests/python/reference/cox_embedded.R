# The weighted and center-stratified Cox models of the embedded study, as R
# fits them. Run from this folder: Rscript cox_embedded.R (R 4.2, survival
# 3.5). data/embedded_weighted.csv holds the built cohort's treatment,
# center, PFS and OS columns and each patient's ATT and overlap weight
# (written from marts.analysis_cohort and marts.ps_weights, no ids; the test
# checks it still equals the build, so a changed generator or weight shows
# there first). Per endpoint:
# - coxph(Surv(t, e) ~ treated, weights = w, robust = TRUE) for both weights
#   (weighting_estimates: coef, robust SE, Wald CI and p on the robust SE);
# - coxph(Surv(t, e) ~ treated + strata(center)) (center_heterogeneity's
#   stratified row: coef, model-based SE, Wald CI and p).
# Efron ties (R's default, stated). Written with 17 significant digits.
library(survival)
source("_write.R")

data <- read.csv("data/embedded_weighted.csv")
z <- qnorm(0.975)
row <- function(fit, endpoint, model) {
  s <- summary(fit)$coefficients
  se <- if ("robust se" %in% colnames(s)) s["treated", "robust se"] else s["treated", "se(coef)"]
  coef <- s["treated", "coef"]
  data.frame(endpoint = endpoint, model = model, coef = coef, se = se, hr = exp(coef),
             ci_lower = exp(coef - z * se), ci_upper = exp(coef + z * se),
             p_value = 2 * pnorm(-abs(coef / se)), n = fit$n, events = fit$nevent,
             row.names = NULL)
}
rows <- list()
for (endpoint in c("pfs", "os")) {
  data$time <- data[[paste0(endpoint, "_months")]]
  data$status <- data[[paste0(endpoint, "_event")]]
  label <- toupper(endpoint)
  for (scheme in c("att_weight", "overlap_weight")) {
    fit <- coxph(Surv(time, status) ~ treated, data = data, weights = data[[scheme]],
                 robust = TRUE, ties = "efron")
    rows[[length(rows) + 1]] <- row(fit, label, scheme)
  }
  fit <- coxph(Surv(time, status) ~ treated + strata(center), data = data, ties = "efron")
  rows[[length(rows) + 1]] <- row(fit, label, "strata_center")
}
write_full(do.call(rbind, rows), "cox_embedded.csv")
