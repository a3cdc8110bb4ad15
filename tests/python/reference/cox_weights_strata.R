# Reference output of R's survival package for Cox models with case weights,
# strata and clusters (tests/python/test_stats_regression.py reads the two CSVs
# this writes; the tests run without R).
#
# Run from the repository root:  Rscript tests/python/reference/cox_weights_strata.R
# Written with R 4.2 and survival 3.5-3 (the versions are recorded in the output).
#
# The data: 400 patients in 3 centers and 200 pairs, follow-up rounded to half
# months (so many tied event times: Efron's correction matters), a treatment
# flag, age and a binary covariate; non-integer weights as inverse-probability
# weights from a logistic model, and integer (frequency) weights 1-3.
suppressMessages(library(survival))
set.seed(20251205)
n <- 400
center <- sample(c("center_a", "center_b", "center_c"), n, replace = TRUE,
                 prob = c(0.5, 0.3, 0.2))
pair_id <- sprintf("pair_%03d", rep(seq_len(n / 2), each = 2))
age <- round(rnorm(n, 62, 9))
liver <- as.integer(runif(n) < 0.3)
treated <- as.integer(runif(n) < plogis(-0.5 + 0.03 * (age - 62) + 0.8 * liver))
hazard <- exp(-0.4 * treated + 0.02 * (age - 62) + 0.5 * liver +
                c(center_a = 0, center_b = 0.4, center_c = -0.3)[center]) / 8
event_time <- rexp(n, hazard)
censor_time <- runif(n, 2, 24)
months <- ceiling(pmin(event_time, censor_time) * 2) / 2
event <- as.integer(event_time <= censor_time)
score <- plogis(-0.5 + 0.03 * (age - 62) + 0.8 * liver)
ipw <- ifelse(treated == 1, 1 / score, 1 / (1 - score))
count <- as.numeric(sample(1:3, n, replace = TRUE))  # cox.zph needs double weights
data <- data.frame(months, event, treated, age, liver, center, pair_id, ipw, count)
stopifnot(sum(duplicated(months[event == 1])) > 100)

out <- "tests/python/reference"
write.csv(transform(data, months = sprintf("%.17g", months), ipw = sprintf("%.17g", ipw)),
          file.path(out, "cox_weights_strata_data.csv"), row.names = FALSE, quote = FALSE)

# iterate to machine precision, so the reference is R's exact MLE
control <- coxph.control(eps = 1e-14, toler.chol = 1e-15, iter.max = 100)
surv <- Surv(months, event)
models <- list(
  weighted = coxph(surv ~ treated + age + liver, data, weights = ipw, control = control),
  frequency = coxph(surv ~ treated + age + liver, data, weights = count, control = control),
  robust = coxph(surv ~ treated + age + liver, data, robust = TRUE, control = control),
  stratified = coxph(surv ~ treated + age + liver + strata(center), data, control = control),
  weighted_stratified_clustered = coxph(surv ~ treated + age + liver + strata(center), data,
                                        weights = ipw, cluster = pair_id, control = control),
  weighted_univariate = coxph(surv ~ treated, data, weights = ipw, control = control)
)
rows <- list()
add <- function(model, quantity, values) {
  values <- as.matrix(values)
  rows[[length(rows) + 1]] <<- data.frame(
    model = model, quantity = quantity, row = as.vector(row(values)) - 1L,
    col = as.vector(col(values)) - 1L, value = sprintf("%.17g", as.vector(values)))
}
for (name in names(models)) {
  fit <- models[[name]]
  add(name, "coefficients", coef(fit))
  add(name, "variance", fit$var)
  add(name, "model_variance", if (is.null(fit$naive.var)) fit$var else fit$naive.var)
  add(name, "log_likelihood", fit$loglik[2])
  for (transform in c("km", "identity", "rank", "log")) {
    zph <- cox.zph(fit, transform = transform, terms = FALSE)$table
    add(name, paste0("zph_", transform), zph[, "chisq"])
  }
}
add("versions", paste("R", getRversion(), "survival", packageVersion("survival")), 0)
write.csv(do.call(rbind, rows), file.path(out, "cox_weights_strata.csv"), row.names = FALSE,
          quote = FALSE)
