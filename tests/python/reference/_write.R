# Shared helper of the reference scripts: CSV with every double at full
# precision (17 significant digits), so the Python tests can hold 1e-9.
write_full <- function(frame, path) {
  for (column in names(frame)) {
    if (is.double(frame[[column]])) {
      frame[[column]] <- ifelse(is.na(frame[[column]]), NA,
                                sprintf("%.17g", frame[[column]]))
    }
  }
  write.csv(frame, path, row.names = FALSE, na = "", quote = FALSE)
}
