# Study diagnostics references on data/synthetic_weighted.csv. Run from this
# folder: Rscript diagnostics.R   (R 4.2, base R only)
#
# - c-statistic of the propensity score: Mann-Whitney, ties count 1/2:
#   wilcox.test(ps[treated], ps[control])$statistic / (n1 * n0)
# - preference score (Walker et al. 2013): logit F = logit ps - logit P,
#   P the treated share; equipoise share = mean(0.3 <= F <= 0.7)
# - minimum detectable HR (Schoenfeld): exp(-(z_{1-a/2} + z_power) /
#   sqrt(D p (1 - p))) with D the events and p the treated share
library(stats)

data <- read.csv("data/synthetic_weighted.csv")
treated <- data$treated == 1
ps <- data$ps
w <- suppressWarnings(wilcox.test(ps[treated], ps[!treated], exact = FALSE))$statistic
c_statistic <- unname(w) / (sum(treated) * sum(!treated))
p_treated <- mean(treated)
preference <- plogis(qlogis(ps) - qlogis(p_treated))
equipoise_share <- mean(preference >= 0.3 & preference <= 0.7)
events <- sum(data$event)
mdhr <- function(d, p, alpha, power) exp(-(qnorm(1 - alpha / 2) + qnorm(power)) / sqrt(d * p * (1 - p)))
cases <- expand.grid(alpha = c(0.05, 0.01), power = c(0.8, 0.9))
cases$mdhr <- mapply(function(a, b) mdhr(events, p_treated, a, b), cases$alpha, cases$power)
# back-substitution into Schoenfeld's events formula gives the events again
stopifnot(all(abs((qnorm(1 - cases$alpha / 2) + qnorm(cases$power))^2 /
                    (p_treated * (1 - p_treated) * log(cases$mdhr)^2) - events) < 1e-9))
number <- function(x) sprintf("%.17g", x)
lines <- c("{",
           sprintf('  "n_treated": %d, "n_control": %d, "events": %d,', sum(treated), sum(!treated), events),
           sprintf('  "c_statistic": %s,', number(c_statistic)),
           sprintf('  "treated_share": %s,', number(p_treated)),
           sprintf('  "equipoise_share": %s,', number(equipoise_share)),
           sprintf('  "preference_first_five": [%s],', paste(sapply(preference[1:5], number), collapse = ", ")),
           '  "minimum_detectable_hr": [',
           paste(sprintf('    {"alpha": %s, "power": %s, "hr_below_1": %s}', cases$alpha, cases$power,
                         sapply(cases$mdhr, number)), collapse = ",\n"),
           "  ]", "}")
writeLines(lines, "diagnostics.json")
