# RMST of the embedded study (the build's analysis_cohort, no ids), as R
# computes it. Run from this folder: Rscript rmst_embedded.R (R 4.2,
# survival 3.5). data/embedded_survival.csv holds the built cohort's
# treatment, PFS and OS columns (written from marts.analysis_cohort; the test
# checks it still equals the build, so a changed generator shows here).
# Per arm and tau: summary(survfit(...), rmean = tau)$table rmean and
# se(rmean); the difference as survRM2::rmst2 forms it (SE sqrt(se1^2 +
# se0^2), normal CI).
library(survival)
source("_write.R")

data <- read.csv("data/embedded_survival.csv")
z <- qnorm(0.975)
rows <- list()
for (endpoint in c("pfs", "os")) {
  time <- data[[paste0(endpoint, "_months")]]
  status <- data[[paste0(endpoint, "_event")]]
  for (tau in c(12, 24)) {
    fit <- survfit(Surv(time, status) ~ data$treated)
    table <- summary(fit, rmean = tau)$table
    rmean <- table[, "rmean"]
    se <- table[, "se(rmean)"]
    # strata order: treated = 0 then 1
    difference <- rmean[2] - rmean[1]
    se_difference <- sqrt(se[1]^2 + se[2]^2)
    rows[[length(rows) + 1]] <- data.frame(
      endpoint = toupper(endpoint), tau = tau, rmst_treated = rmean[2], se_treated = se[2],
      rmst_control = rmean[1], se_control = se[1], difference = difference,
      difference_ci_lower = difference - z * se_difference,
      difference_ci_upper = difference + z * se_difference, row.names = NULL)
  }
}
write_full(do.call(rbind, rows), "rmst_embedded.csv")
