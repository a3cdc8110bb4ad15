# Restricted mean survival time and milestone survival references.
# Run from this folder: Rscript rmst.R   (R 4.2, survival 3.5)
#
# Per arm: R survival's own restricted mean and its standard error,
#   summary(survfit(...), rmean = tau)$table[, c("rmean", "se(rmean)")]
# (survival:::survmean; the SE is sum over the KM steps before tau of
# (area after the step)^2 * d / (n (n - d)), no n / (n - 1) factor).
# Contrasts: written out here the way survRM2::rmst2 forms them (survRM2 is
# not packaged for Debian; its per-arm estimate and SE are the same
# quantities): difference with SE sqrt(se1^2 + se0^2), normal CI and p;
# ratio on the log scale with SE sqrt(se1^2 / rmst1^2 + se0^2 / rmst0^2).
# Default tau: survRM2's rule, written out here (largest_tau below).
# Milestones: summary(survfit(...), times = )$surv and $std.err (Greenwood
# SE of S), difference treated - control with SE sqrt(se1^2 + se0^2).
library(survival)
source("_write.R")

lung <- read.csv("data/lung.csv")
rossi <- read.csv("data/rossi.csv")
synthetic <- read.csv("data/synthetic_weighted.csv")
sets <- list(
  lung = data.frame(time = lung$time, status = lung$status, arm = as.integer(lung$sex == 2)),
  rossi = data.frame(time = rossi$week, status = rossi$arrest, arm = rossi$fin),
  synthetic = data.frame(time = synthetic$months, status = synthetic$event,
                         arm = synthetic$treated))
taus <- list(lung = c(90, 365, 500), rossi = c(26, 52), synthetic = c(12, 24))
landmarks <- list(lung = c(180, 365, 730), rossi = c(26, 52), synthetic = c(6, 12, 24))

largest_tau <- function(data) {
  # survRM2::rmst2: tau may reach the longer arm's last time only when the
  # arm that ends first ends on events (its curve is 0 from there on)
  last <- sapply(0:1, function(a) max(data$time[data$arm == a]))
  ends_on_event <- sapply(0:1, function(a) {
    all(data$status[data$arm == a & data$time == last[a + 1]] == 1)
  })
  shorter <- if (last[1] >= last[2]) 2 else 1   # survRM2 breaks ties this way
  if (ends_on_event[shorter]) max(last) else min(last)
}

z <- qnorm(0.975)
arm_rows <- list(); contrast_rows <- list(); milestone_rows <- list()
for (name in names(sets)) {
  data <- sets[[name]]
  fit <- survfit(Surv(time, status) ~ arm, data = data)
  default_tau <- largest_tau(data)
  for (tau in unique(c(taus[[name]], default_tau))) {
    table <- summary(fit, rmean = tau)$table
    rmst <- table[, "rmean"]; se <- table[, "se(rmean)"]
    arm_rows[[length(arm_rows) + 1]] <- data.frame(
      dataset = name, tau = tau, is_default_tau = tau == default_tau & !(tau %in% taus[[name]]),
      arm = c(0, 1), n = table[, "records"], events = table[, "events"],
      rmean = unname(rmst), se_rmean = unname(se))
    difference <- rmst[2] - rmst[1]
    difference_se <- sqrt(se[1]^2 + se[2]^2)
    log_ratio <- log(rmst[2]) - log(rmst[1])
    log_ratio_se <- sqrt(se[2]^2 / rmst[2]^2 + se[1]^2 / rmst[1]^2)
    contrast_rows[[length(contrast_rows) + 1]] <- data.frame(
      dataset = name, tau = tau, measure = c("difference", "ratio"),
      estimate = unname(c(difference, exp(log_ratio))),
      ci_lower = unname(c(difference - z * difference_se, exp(log_ratio - z * log_ratio_se))),
      ci_upper = unname(c(difference + z * difference_se, exp(log_ratio + z * log_ratio_se))),
      p_value = unname(2 * pnorm(-abs(c(difference / difference_se, log_ratio / log_ratio_se)))))
  }
  marks <- summary(fit, times = landmarks[[name]], extend = FALSE)
  per_arm <- data.frame(arm = as.integer(sub("arm=", "", marks$strata)), time = marks$time,
                        surv = marks$surv, std_err = marks$std.err)
  for (time in landmarks[[name]]) {
    control <- per_arm[per_arm$arm == 0 & per_arm$time == time, ]
    treated <- per_arm[per_arm$arm == 1 & per_arm$time == time, ]
    if (nrow(control) == 0 || nrow(treated) == 0) next
    difference <- treated$surv - control$surv
    difference_se <- sqrt(treated$std_err^2 + control$std_err^2)
    milestone_rows[[length(milestone_rows) + 1]] <- data.frame(
      dataset = name, time = time, surv_treated = treated$surv, surv_control = control$surv,
      se_treated = treated$std_err, se_control = control$std_err, difference = difference,
      ci_lower = difference - z * difference_se, ci_upper = difference + z * difference_se,
      p_value = 2 * pnorm(-abs(difference / difference_se)))
  }
}
write_full(do.call(rbind, arm_rows), "rmst_by_arm.csv")
write_full(do.call(rbind, contrast_rows), "rmst_contrast.csv")
write_full(do.call(rbind, milestone_rows), "milestone_difference.csv")
