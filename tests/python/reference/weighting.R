# Weighting references on data/synthetic_weighted.csv (made by
# synthetic_weighted.R). Run from this folder: Rscript weighting.R
# (R 4.2, survival 3.5)
#
# - weighted_km.csv: survfit(Surv(months, event) ~ treated, weights = w,
#   conf.type = "log-log") for the ATT and the overlap weights, with R's
#   default variance for non-integer case weights (robust = TRUE: the
#   infinitesimal-jackknife variance, each patient its own cluster) and with
#   robust = FALSE (Greenwood's formula on the weighted counts).
# - weighted_balance.csv: weighted means per arm (weighted.mean), variances
#   of numeric covariates by cov.wt(method = "unbiased") (reliability
#   weights: sum w (x - m)^2 / (sum w - sum w^2 / sum w)), of binary ones
#   p (1 - p); SMD = (m_t - m_c) / sqrt((v_t + v_c) / 2) (Austin and Stuart
#   2015), levels of center as binary indicators.
# - effective_sample_size.csv: Kish (sum w)^2 / sum w^2 per arm.
library(survival)
source("_write.R")

data <- read.csv("data/synthetic_weighted.csv")
schemes <- c(att = "att_weight", overlap = "overlap_weight")

km_rows <- list()
for (scheme in names(schemes)) {
  w <- data[[schemes[[scheme]]]]
  for (robust in c(TRUE, FALSE)) {
    fit <- survfit(Surv(months, event) ~ treated, data = data, weights = w,
                   conf.type = "log-log", robust = robust)
    km_rows[[length(km_rows) + 1]] <- data.frame(
      weight_scheme = scheme, variance = if (robust) "robust" else "greenwood",
      treated = rep(c(0, 1), fit$strata), time = fit$time, n_risk = fit$n.risk,
      n_event = fit$n.event, n_censor = fit$n.censor, surv = fit$surv,
      std_err = fit$std.err, lower = fit$lower, upper = fit$upper)
  }
}
# R's default for non-integer weights is the robust variance: check that the
# rows labelled "robust" are what a call without robust = gives
default_fit <- survfit(Surv(months, event) ~ treated, data = data, weights = att_weight,
                       conf.type = "log-log")
stopifnot(isTRUE(all.equal(default_fit$std.err, km_rows[[1]]$std_err)))
write_full(do.call(rbind, km_rows), "weighted_km.csv")

indicators <- data.frame(age = data$age, ecog2 = data$ecog2, male = data$male)
for (level in sort(unique(data$center))) {
  indicators[[paste0("center=", level)]] <- as.integer(data$center == level)
}
binary <- c(age = FALSE, ecog2 = TRUE, male = TRUE)
balance_rows <- list(); ess_rows <- list()
for (scheme in c("none", names(schemes))) {
  w <- if (scheme == "none") rep(1, nrow(data)) else data[[schemes[[scheme]]]]
  treated <- data$treated == 1
  for (name in names(indicators)) {
    x <- indicators[[name]]
    is_binary <- if (name %in% names(binary)) binary[[name]] else TRUE
    arm_stats <- sapply(list(treated, !treated), function(arm) {
      m <- weighted.mean(x[arm], w[arm])
      v <- if (is_binary) m * (1 - m) else
        cov.wt(matrix(x[arm]), wt = w[arm] / sum(w[arm]), method = "unbiased")$cov[1, 1]
      c(m, v)
    })
    balance_rows[[length(balance_rows) + 1]] <- data.frame(
      weight_scheme = scheme, covariate = name, mean_treated = arm_stats[1, 1],
      mean_control = arm_stats[1, 2],
      smd = (arm_stats[1, 1] - arm_stats[1, 2]) / sqrt((arm_stats[2, 1] + arm_stats[2, 2]) / 2))
  }
  ess_rows[[length(ess_rows) + 1]] <- data.frame(
    weight_scheme = scheme, treated = c(1, 0),
    ess = c(sum(w[treated])^2 / sum(w[treated]^2), sum(w[!treated])^2 / sum(w[!treated]^2)))
}
write_full(do.call(rbind, balance_rows), "weighted_balance.csv")
write_full(do.call(rbind, ess_rows), "effective_sample_size.csv")
