# R survey contender of the weighting benchmark. Usage:
#   Rscript rsurvey_bench.R <dir> <method: rake|logit> <L> <U>
# <dir> holds data.csv (one column per variable) and targets.csv (variable, level, total,
# in level order). Writes <dir>/weights.csv and <dir>/timing.csv (seconds inside R around
# rake()/calibrate() only, and the whole script).
t_all <- proc.time()[["elapsed"]]
suppressPackageStartupMessages(library(survey))
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]; method <- args[2]; L <- as.numeric(args[3]); U <- as.numeric(args[4])
df <- read.csv(file.path(dir, "data.csv"), colClasses = "character")
tg <- read.csv(file.path(dir, "targets.csv"), colClasses = c("character", "character", "numeric"))
vars <- unique(tg$variable)
for (v in vars) df[[v]] <- factor(df[[v]], levels = tg$level[tg$variable == v])
df$w <- 1
des <- svydesign(ids = ~1, weights = ~w, data = df)
if (method == "rake") {
  pm <- lapply(vars, function(v) {
    d <- data.frame(tg$level[tg$variable == v], tg$total[tg$variable == v])
    names(d) <- c(v, "Freq")
    d$Freq <- as.numeric(d$Freq)
    d[[v]] <- factor(d[[v]], levels = d[[v]])
    d
  })
  sm <- lapply(vars, function(v) as.formula(paste0("~", v)))
  tm <- system.time(out <- rake(des, sm, pm,
                                control = list(maxit = 1000, epsilon = 1e-12, verbose = FALSE)))
} else {
  N <- sum(tg$total[tg$variable == vars[1]])
  pop <- c(`(Intercept)` = N)
  for (v in vars) {
    sel <- tg$variable == v
    tot <- tg$total[sel][-1]
    names(tot) <- paste0(v, tg$level[sel][-1])
    pop <- c(pop, tot)
  }
  f <- as.formula(paste("~", paste(vars, collapse = " + ")))
  tm <- system.time(out <- calibrate(des, f, population = pop, calfun = "logit",
                                     bounds = c(L, U), epsilon = 1e-10, maxit = 100))
}
w <- weights(out)
write.csv(data.frame(w = w), file.path(dir, "weights.csv"), row.names = FALSE)
st <- tryCatch(readLines("/proc/self/status"), error = function(e) character(0))
hwm <- sub("^VmHWM:[[:space:]]*([0-9]+).*", "\\1", grep("^VmHWM:", st, value = TRUE))
hwm <- if (length(hwm)) as.numeric(hwm) / 1024 else -1
write.csv(data.frame(inside = tm[["elapsed"]], total = proc.time()[["elapsed"]] - t_all,
                     hwm_mb = hwm),
          file.path(dir, "timing.csv"), row.names = FALSE)
