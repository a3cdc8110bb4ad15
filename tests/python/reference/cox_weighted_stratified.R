# Cox references for the weighted, stratified and per-center models (to be
# used once the Cox core takes case weights and strata). On
# data/synthetic_weighted.csv; run from this folder:
#   Rscript cox_weighted_stratified.R   (R 4.2, survival 3.5; Efron ties)
#
# - cox_weighted_robust.csv: coxph(Surv(months, event) ~ treated,
#   weights = w, robust = TRUE) for the ATT and overlap weights: coef,
#   robust SE (the Lin-Wei sandwich with weighted dfbetas, each patient its
#   own cluster), the naive (model) SE, Wald CI on the robust SE.
# - cox_strata_center.csv: coxph(Surv(months, event) ~ treated +
#   strata(center)), model-based SE, and the same with age, ecog2, male.
# - cox_per_center.csv: coxph(Surv(months, event) ~ treated) within each
#   center, model-based SE (the input of the center heterogeneity analysis).
library(survival)
source("_write.R")

data <- read.csv("data/synthetic_weighted.csv")
z <- qnorm(0.975)
rows <- function(fit, label) {
  s <- summary(fit)$coefficients
  robust <- "robust se" %in% colnames(s)
  se <- if (robust) s[, "robust se"] else s[, "se(coef)"]
  data.frame(model = label, term = rownames(s), coef = s[, "coef"], se = se,
             naive_se = s[, "se(coef)"], hr = exp(s[, "coef"]),
             ci_lower = exp(s[, "coef"] - z * se), ci_upper = exp(s[, "coef"] + z * se),
             p_value = 2 * pnorm(-abs(s[, "coef"] / se)), n = fit$n, events = fit$nevent,
             loglik = fit$loglik[2], row.names = NULL)
}

weighted <- list()
for (scheme in c("att_weight", "overlap_weight")) {
  fit <- coxph(Surv(months, event) ~ treated, data = data, weights = data[[scheme]],
               robust = TRUE, ties = "efron")
  weighted[[scheme]] <- rows(fit, scheme)
}
write_full(do.call(rbind, weighted), "cox_weighted_robust.csv")

stratified <- rbind(
  rows(coxph(Surv(months, event) ~ treated + strata(center), data = data), "treated"),
  rows(coxph(Surv(months, event) ~ treated + age + ecog2 + male + strata(center), data = data),
       "treated_age_ecog2_male"))
write_full(stratified, "cox_strata_center.csv")

per_center <- do.call(rbind, lapply(sort(unique(data$center)), function(center) {
  fit <- coxph(Surv(months, event) ~ treated, data = data[data$center == center, ])
  cbind(center = center, rows(fit, "treated"))
}))
write_full(per_center, "cox_per_center.csv")
