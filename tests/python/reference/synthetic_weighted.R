# Makes data/synthetic_weighted.csv: 400 patients in 4 centers with a
# treatment that depends on the covariates, tied follow-up times (rounded up
# to 0.1 month), the propensity score of R glm() and its ATT and overlap
# weights. Run from this folder: Rscript synthetic_weighted.R
# (R 4.2, survival 3.5; R's default Mersenne-Twister / Inversion RNG).
source("_write.R")
set.seed(20261205)
n <- 400
center <- sample(c("center_a", "center_b", "center_c", "center_d"), n, replace = TRUE,
                 prob = c(0.35, 0.3, 0.2, 0.15))
age <- round(rnorm(n, 65, 9))
ecog2 <- rbinom(n, 1, 0.3)
male <- rbinom(n, 1, 0.6)
center_shift <- c(center_a = 0.3, center_b = 0, center_c = -0.4, center_d = 0.2)[center]
treated <- rbinom(n, 1, plogis(-0.2 + 0.04 * (age - 65) - 0.8 * ecog2 + 0.3 * male +
                                 center_shift))
# center_d has the opposite treatment effect (a heterogeneity case for later)
log_hr <- ifelse(center == "center_d", 0.5, -0.5)
rate <- exp(log(1 / 10) + log_hr * treated + 0.03 * (age - 65) + 0.6 * ecog2)
event_time <- rexp(n, rate)
censor_time <- runif(n, 2, 30)
months <- ceiling(pmin(event_time, censor_time) * 10) / 10
event <- as.integer(event_time <= censor_time)
ps_model <- glm(treated ~ age + ecog2 + male, family = binomial)
ps <- unname(fitted(ps_model))
data <- data.frame(patient_id = sprintf("p%03d", seq_len(n)), center = center,
                   age = age, ecog2 = ecog2, male = male, treated = treated,
                   months = months, event = event, ps = ps,
                   att_weight = ifelse(treated == 1, 1, ps / (1 - ps)),
                   overlap_weight = ifelse(treated == 1, 1 - ps, ps))
write_full(data, "data/synthetic_weighted.csv")
