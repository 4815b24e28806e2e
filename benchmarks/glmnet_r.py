"""R's glmnet through ``Rscript``: one call fits a multinomial path from data in files.

Used by ``benchmarks.sparse_models`` and by the glmnet agreement tests. The data go to R as
files (X in MatrixMarket, y, weights, penalty factors and lambdas as text); R times
``glmnet()`` alone (``proc.time`` around the call, reading and writing excluded) and writes
the coefficients back as one MatrixMarket file per class (intercept in row 1).

glmnet's problem with ``standardize=FALSE`` is softreg's J with alpha = lambda and
l1_ratio = glmnet's alpha, the weights normalised to sum to 1, except that glmnet rescales
``penalty.factor`` to sum to n_features: :func:`run_glmnet` passes factors already so
rescaled and returns them, so both sides solve the same problem.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io
import scipy.sparse as sp

R_SCRIPT = r"""
suppressMessages({library(Matrix); library(glmnet)})
fit_dir <- function(dir) {
  cfg <- read.table(file.path(dir, "config.txt"), header = TRUE, stringsAsFactors = FALSE)
  x <- as(readMM(file.path(dir, "x.mtx")), "CsparseMatrix")
  if (cfg$dense == 1) x <- as.matrix(x)
  y <- factor(scan(file.path(dir, "y.txt"), quiet = TRUE))
  w <- scan(file.path(dir, "w.txt"), quiet = TRUE)
  pf <- scan(file.path(dir, "pf.txt"), quiet = TRUE)
  lam <- scan(file.path(dir, "lambda.txt"), quiet = TRUE)
  type <- if (cfg$grouped == 1) "grouped" else "ungrouped"
  run <- function() glmnet(x, y, family = "multinomial", weights = w, alpha = cfg$alpha,
                           lambda = if (length(lam)) lam else NULL, nlambda = cfg$nlambda,
                           lambda.min.ratio = cfg$lmr, standardize = FALSE,
                           intercept = cfg$intercept == 1, thresh = cfg$thresh,
                           penalty.factor = pf, type.multinomial = type, maxit = 1e7)
  if (cfg$warmup == 1) invisible(run())
  t0 <- proc.time()
  fit <- run()
  t1 <- proc.time()
  cpu <- (t1[["user.self"]] - t0[["user.self"]]) + (t1[["sys.self"]] - t0[["sys.self"]])
  writeLines(sprintf("%.6f %.6f", t1[["elapsed"]] - t0[["elapsed"]], cpu),
             file.path(dir, "time.txt"))
  writeLines(sprintf("%.17g", fit$lambda), file.path(dir, "lambda_out.txt"))
  writeLines(as.character(fit$npasses), file.path(dir, "npasses.txt"))
  cf <- coef(fit)
  for (k in seq_along(cf)) writeMM(as(cf[[k]], "CsparseMatrix"),
                                   file.path(dir, sprintf("coef_%d.mtx", k)))
}
for (dir in commandArgs(trailingOnly = TRUE)) fit_dir(dir)
"""


def glmnet_available() -> str | None:
    """None when Rscript with glmnet runs here, else the reason it does not."""
    if shutil.which("Rscript") is None:
        return "Rscript is not installed (R's glmnet is the reference)"
    try:
        done = subprocess.run(["Rscript", "-e", "suppressMessages(library(glmnet))"],
                              capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:  # pragma: no cover
        return f"Rscript failed to start: {exc}"
    if done.returncode != 0:
        return "R package glmnet is not installed (Debian: r-cran-glmnet)"
    return None


@dataclass
class GlmnetFit:
    """glmnet's path: lambdas (m,), coefs (m, K, d), intercepts (m, K), wall and CPU seconds
    of the glmnet() call."""

    lambdas: np.ndarray
    coefs: np.ndarray
    intercepts: np.ndarray
    seconds: float
    cpu_seconds: float
    penalty_factor: np.ndarray
    npasses: int


def glmnet_penalty_factor(penalty_factor, d: int) -> np.ndarray:
    """Penalty factors as glmnet uses them: rescaled to sum to d."""
    pf = np.ones(d) if penalty_factor is None else np.asarray(penalty_factor, float)
    return pf * d / pf.sum()


def _write_job(folder: Path, X, y, *, alpha, lambdas, nlambda, lambda_min_ratio,
               sample_weight, penalty_factor, grouped, fit_intercept, thresh, warmup):
    n, d = X.shape
    folder.mkdir(parents=True)
    pf = glmnet_penalty_factor(penalty_factor, d)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    scipy.io.mmwrite(folder / "x.mtx", sp.coo_matrix(X, dtype=np.float64), precision=17)
    np.savetxt(folder / "y.txt", np.asarray(y, dtype=np.int64), fmt="%d")
    np.savetxt(folder / "w.txt", w, fmt="%.17g")
    np.savetxt(folder / "pf.txt", pf, fmt="%.17g")
    lam = np.zeros(0) if lambdas is None else np.asarray(lambdas, float)
    np.savetxt(folder / "lambda.txt", lam, fmt="%.17g")
    (folder / "config.txt").write_text(
        "dense grouped alpha nlambda lmr intercept thresh warmup\n"
        f"{int(not sp.issparse(X))} {int(grouped)} {alpha!r} {nlambda} "
        f"{lambda_min_ratio!r} {int(fit_intercept)} {thresh!r} {int(warmup)}\n")
    return pf


def _read_job(folder: Path, d: int, pf) -> GlmnetFit:
    lambdas_out = np.loadtxt(folder / "lambda_out.txt", ndmin=1)
    K = len(list(folder.glob("coef_*.mtx")))
    m = lambdas_out.size
    coefs = np.zeros((m, K, d))
    intercepts = np.zeros((m, K))
    for k in range(K):
        C = scipy.io.mmread(folder / f"coef_{k + 1}.mtx").toarray()  # (d + 1, m)
        intercepts[:, k] = C[0]
        coefs[:, k, :] = C[1:].T
    seconds, cpu_seconds = map(float, (folder / "time.txt").read_text().split())
    npasses = int((folder / "npasses.txt").read_text().split()[0])
    return GlmnetFit(lambdas_out, coefs, intercepts, seconds, cpu_seconds, pf, npasses)


def run_glmnet_batch(jobs: list[dict], timeout: float = 1800) -> list[GlmnetFit]:
    """Several :func:`run_glmnet` fits in one ``Rscript`` call (R starts once).

    Each job is a dict of :func:`run_glmnet`'s arguments (``X`` and ``y`` included).
    """
    defaults = dict(lambdas=None, nlambda=100, lambda_min_ratio=1e-2, sample_weight=None,
                    penalty_factor=None, grouped=False, fit_intercept=True, thresh=1e-7,
                    warmup=False)
    with tempfile.TemporaryDirectory(prefix="softreg-glmnet-") as tmp:
        root = Path(tmp)
        folders, pfs = [], []
        for t, job in enumerate(jobs):
            job = {**defaults, **job}
            folder = root / f"job{t}"
            pfs.append(_write_job(folder, **job))
            folders.append(folder)
        (root / "fit.R").write_text(R_SCRIPT)
        done = subprocess.run(["Rscript", str(root / "fit.R"), *map(str, folders)],
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"Rscript/glmnet failed:\n{done.stderr[-2000:]}")
        return [_read_job(f, job["X"].shape[1], pf)
                for f, job, pf in zip(folders, jobs, pfs, strict=True)]


def run_glmnet(X, y, *, alpha: float, lambdas=None, nlambda: int = 100,
               lambda_min_ratio: float = 1e-2, sample_weight=None, penalty_factor=None,
               grouped: bool = False, fit_intercept: bool = True, thresh: float = 1e-7,
               warmup: bool = False, timeout: float = 1800) -> GlmnetFit:
    """Fit glmnet(family="multinomial", standardize=FALSE) in R; see the module docstring.

    ``y`` are int codes 0..K-1 (every class present). Returns the fit with
    ``penalty_factor`` the factors glmnet used (summing to d).
    """
    job = dict(X=X, y=y, alpha=alpha, lambdas=lambdas, nlambda=nlambda,
               lambda_min_ratio=lambda_min_ratio, sample_weight=sample_weight,
               penalty_factor=penalty_factor, grouped=grouped, fit_intercept=fit_intercept,
               thresh=thresh, warmup=warmup)
    return run_glmnet_batch([job], timeout=timeout)[0]
