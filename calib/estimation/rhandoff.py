"""Hand replicate weights to R: the data columns beside ``rep_1 .. rep_R`` and an R script.

:func:`handoff_frame` lays out the table ``calib estimate --replicates-out`` writes (``id``,
the full-sample ``weight``, the outcome, by, strata and cluster columns, then the replicate
weights) and :func:`r_script` the ``<path>.R`` written beside it: base R and the survey
package only, building ``svrepdesign(type="other", scale=, rscales=, mse=)`` with the values
written in, and printing the estimate and SE calib printed.

Examples
--------
>>> import pandas as pd
>>> from calib import Sample
>>> from calib.estimation import EstimateRequest, replicate_weights
>>> s = Sample(pd.DataFrame({"y": [1.0, 2.0, 4.0]}))
>>> rw = replicate_weights(s, "jackknife")
>>> handoff_frame(s, rw, EstimateRequest("y")).columns.tolist()
['id', 'weight', 'y', 'rep_1', 'rep_2', 'rep_3']
>>> "svrepdesign(" in r_script("reps.csv", rw.attrs, EstimateRequest("y"), categorical=False)
True
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from calib.core.errors import DataError
from calib.core.sample import Sample
from calib.estimation.request import EstimateRequest

#: The columns calib names itself in the hand-off file.
FIXED = ("id", "weight")


def handoff_frame(sample: Sample, rw: pd.DataFrame, request: EstimateRequest,
                  id: str | None = None) -> pd.DataFrame:  # noqa: A002 - the CLI's --id
    """The hand-off table: ``id``, ``weight``, outcome, by, strata, cluster, ``rep_1 .. rep_R``.

    Parameters
    ----------
    sample : the weighted sample the replicates ``rw`` belong to (same rows, same order).
    rw : :func:`calib.estimation.replicate_weights` of ``sample``.
    request : names the outcome and the by column.
    id : column of ``sample.frame`` written as ``id``; default the 1-based row number.

    Returns
    -------
    pandas.DataFrame
        One row per sample row, in sample order, with a fresh RangeIndex.

    Raises
    ------
    DataError
        When ``id`` is not a column, or a data column is named ``id``, ``weight`` or
        ``rep_<k>`` (it would be read back as another column).

    Examples
    --------
    >>> import pandas as pd
    >>> from calib import Sample
    >>> from calib.estimation import EstimateRequest, replicate_weights
    >>> s = Sample(pd.DataFrame({"k": ["a", "b"], "y": [1.0, 0.0]}))
    >>> f = handoff_frame(s, replicate_weights(s, "jackknife"), EstimateRequest("y"), id="k")
    >>> f[["id", "weight", "y"]].values.tolist()
    [['a', 1.0, 1.0], ['b', 1.0, 0.0]]
    """
    frame = sample.frame
    if id is not None and id not in frame.columns:
        raise DataError(f"--id {id!r}: no such column in the sample; give one of "
                        f"{list(map(str, frame.columns))[:12]}")
    data = [c for c in (request.outcome, request.by, sample.strata, sample.cluster)
            if c is not None]
    data = list(dict.fromkeys(data))  # the by column may also be the strata, say
    bad = [c for c in data if c in FIXED or str(c).startswith("rep_")]
    if bad:
        raise DataError(f"column(s) {bad} clash with the replicate file's own columns (id, "
                        "weight, rep_1 ..): rename them before --replicates-out")
    ids = (frame[id].to_numpy() if id is not None else np.arange(1, sample.n + 1))
    out = pd.DataFrame({"id": ids, "weight": sample.weight_array})
    for c in data:
        out[c] = frame[c].to_numpy()
    reps = pd.DataFrame(rw.to_numpy(), columns=[str(c) for c in rw.columns])
    return pd.concat([out, reps], axis=1)


def _num(v: float) -> str:
    """A double R reads back to the same bits (17 significant digits)."""
    return format(float(v), ".17g")


def _vector(values: list[float]) -> str:
    if values and all(v == values[0] for v in values):
        return f"rep({_num(values[0])}, {len(values)})"
    parts = [_num(v) for v in values]
    lines = [", ".join(parts[i:i + 6]) for i in range(0, len(parts), 6)]
    return "c(" + ",\n    ".join(lines) + ")"


def r_script(path: str | Path, attrs: Mapping[str, Any], request: EstimateRequest, *,
             categorical: bool) -> str:
    """An R script (base R + survey) that rebuilds the replicate design and prints the estimate.

    Parameters
    ----------
    path : the replicate file; the script reads it from its own folder (or the working
        directory when sourced).
    attrs : ``replicate_weights(...).attrs`` (``type``, ``scale``, ``rscales``, ``mse``).
    request : the outcome and by column of the estimate.
    categorical : the outcome is categorical (shares per level), as calib decided.

    Returns
    -------
    str
        The script. ``Rscript FILE.R [OUT.csv]`` prints a table of ``outcome, level, by,
        domain, estimate, se`` and, given ``OUT.csv``, also writes it there.

    Examples
    --------
    >>> from calib.estimation import EstimateRequest
    >>> s = r_script("r.parquet", {"type": "JK1", "scale": 0.5, "rscales": [1.0, 1.0],
    ...              "mse": False}, EstimateRequest("y"), categorical=False)
    >>> "arrow" in s, "mse = FALSE" in s
    (True, True)
    """
    name = Path(path).name
    parquet = Path(path).suffix.lower() in (".parquet", ".pq")
    read = (f'arrow::read_parquet(file.path(here, "{name}"))  # needs the arrow package; '
            'write --replicates-out as .csv for base R'
            if parquet else
            f'read.csv(file.path(here, "{name}"), check.names = FALSE, na.strings = "")')
    y = request.outcome
    by = request.by
    term = f"factor(`{y}`)" if categorical else f"`{y}`"
    mse = "TRUE" if attrs.get("mse") else "FALSE"
    return f"""# Replicate weights written by calib ({attrs.get("type")}); R survey rebuilds the design.
# Run: Rscript {name}.R   (prints the estimate and SE calib printed)
suppressPackageStartupMessages(library(survey))
args <- commandArgs(trailingOnly = TRUE)
self <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
here <- if (length(self)) dirname(self[1]) else "."
d <- as.data.frame({read})
reps <- grep("^rep_[0-9]+$", names(d))
des <- svrepdesign(
  data = d, weights = ~weight, repweights = d[, reps], combined.weights = TRUE,
  type = "other",  # calib's {attrs.get("type")} (R type "{attrs.get("r_type")}"), values written in
  scale = {_num(attrs["scale"])},
  rscales = {_vector(list(attrs["rscales"]))},
  mse = {mse})
outcome <- "{y}"
categorical <- {"TRUE" if categorical else "FALSE"}  # calib's reading of the outcome
by <- {f'"{by}"' if by is not None else "NULL"}
f <- ~{term}
tidy <- function(est, se, domain) {{
  level <- if (categorical) sub("^.*factor\\\\(`?[^`]*`?\\\\)", "", names(est)) else ""
  data.frame(outcome = outcome, level = level, by = if (is.null(by)) "" else by,
             domain = domain, estimate = as.vector(est), se = as.vector(se))
}}
if (is.null(by)) {{
  r <- svymean(f, des, na.rm = TRUE)
  res <- tidy(coef(r), SE(r), "")
}} else {{
  r <- svyby(f, as.formula(paste0("~`", by, "`")), des, svymean, na.rm = TRUE)
  doms <- as.character(r[[by]])
  est <- coef(r); se <- as.vector(as.matrix(SE(r)))  # same (level-major) order as coef
  # svyby names a coefficient "<domain>:<term>"; calib lists level-major, then domain
  term <- if (categorical) sub("^.*:factor\\\\(", "factor(", names(est)) else rep("", length(est))
  res <- do.call(rbind, lapply(unique(term), function(t) {{
    k <- term == t
    tidy(setNames(est[k], rep(t, sum(k))), se[k], doms)
  }}))
}}
options(digits = 15)
print(res, row.names = FALSE)
if (length(args)) write.csv(res, args[1], row.names = FALSE)
"""


__all__ = ["handoff_frame", "r_script", "FIXED"]
