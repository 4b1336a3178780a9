"""Joint MRP: one multilevel model of persona and human answers with a source bias term.

Persona rows (the LLM's answers) and human rows (real answers) are stacked with a ``source``
column (``"human"`` / ``"persona"``) and fitted on cells with :func:`calib.mrp.fit`::

    logit P(y = 1 | cell, source) = Intercept + sum_g b_g[cell]          (shared demography)
                                    + c[bias(cell, source)]              (source bias)

    bias(cell, source) = "human" for human rows, "persona:<bias_by level>" for persona rows

``b_g`` and ``c`` are sum-to-zero varying intercepts (``pm.ZeroSumNormal``). The bias of the
LLM in group ``r`` of ``bias_by`` (e.g. region) is ``c[persona:r] - c[human]``: its mean over
``r`` is the source-level intercept and the spread around it the partially pooled source x
region term (one scale ``sd_c`` pools them). The persona answers inform the demographic
structure ``b_g``; the bias term absorbs how the LLM differs from people in the same cell.
(A fixed ``source`` effect *plus* a ``source:region`` term is not identified under sum-to-zero
constraints - its chains do not mix - hence this parametrization.) The default is **one** bias term
(``bias_by=None``); a persona x group term is only identified apart from the domain structure
together with that group's main effect (``fixed=["region"]`` or ``region`` in ``cells``):
without it, it absorbs the group's average state effect and :func:`fit_joint` warns. The estimate is the **human-level** prediction
poststratified over the population frame (:func:`calib.mrp.poststratify` with
``set={"bias": "human"}``: the bias switched off). Human design weights are not used
(MRP is model-based; the human sample's nonresponse must run through the cell variables).

Examples
--------
>>> import pandas as pd
>>> p = pd.DataFrame({"age6": ["18-29", "70+"], "llm": [1, 1]})
>>> h = pd.DataFrame({"age6": ["70+"], "vote": [0]})
>>> stack_sources(p, h, "llm", "vote", ["age6"])[["age6", "y", "source"]].values.tolist()
[['18-29', 1, 'persona'], ['70+', 1, 'persona'], ['70+', 0, 'human']]
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from calib.core.cells import format_level
from calib.core.errors import DataError
from calib.hybrid.ppi import (
    COLUMNS,
    frame_weights,
    hajek_var,
    numeric_column,
)
from calib.mrp import Gate, Sampler, fit

#: Default cell variables (those of :func:`calib.studies.election_study.election_study`).
DEFAULT_CELLS: tuple[str, ...] = ("state", "race4", "sex", "age6", "educ5")


def stack_sources(personas: Any, human: Any, outcome: str, human_outcome: str,
                  variables: Sequence[str]) -> pd.DataFrame:
    """Persona and human rows in one frame: ``variables``, ``y`` and ``source``."""
    pframe, _ = frame_weights(personas, None if hasattr(personas, "weight_array") else None,
                               "personas")
    hframe, _ = frame_weights(human, None, "human")
    parts = []
    for fr, col, src in ((pframe, outcome, "persona"), (hframe, human_outcome, "human")):
        miss = [v for v in variables if v not in fr.columns]
        if miss:
            raise DataError(f"joint_mrp: the {src} data lack cell variables {miss}; pass cells= "
                            "variables both data sets share")
        y = numeric_column(fr, col, src)
        if not np.isin(y, (0.0, 1.0)).all():
            raise DataError(f"joint_mrp: {src} answer {col!r} must be 0/1 (binomial model); "
                            "recode it (e.g. vote_dem = 1 for the Democrat)")
        d = pd.DataFrame({v: fr[v].map(format_level).astype(str).to_numpy() for v in variables})
        d["y"] = y.astype(int)
        d["source"] = src
        parts.append(d)
    return pd.concat(parts, ignore_index=True)


#: The sampler of a joint fit without ``sampler=`` (nutpie, 2 chains x 500 + 500 draws).
JOINT_SAMPLER = Sampler(draws=500, tune=500, chains=2, backend="nutpie")


def term_variables(terms: Sequence[str]) -> list[str]:
    """The columns named by model terms (``"a:b"`` interactions split), in order.

    >>> term_variables(["state", "age6:educ5", "age6"])
    ['state', 'age6', 'educ5']
    """
    return list(dict.fromkeys(p for t in terms for p in t.split(":") if p))


def check_bias_structure(bias_by: str | None, cells: Sequence[str],
                         fixed: Sequence[str] = ()) -> bool:
    """Warn (``UserWarning``) when the persona-bias structure is confounded with the domain
    structure; return whether it is.

    A persona x ``bias_by`` term without ``bias_by``'s own main effect (a ``cells`` term or a
    ``fixed`` effect) absorbs the groups' average of the other effects (e.g. the mean state
    effect of each region: the state intercepts are shrunk to zero, so a region's mean state
    effect is partly carried by its bias level). The LLM's bias then moves with the regions'
    true levels: in ``calib demo``'s design a true shift of 2.0 everywhere was estimated at 2.30
    in the Northeast and 1.80 in the South, and state intervals covered 75%.

    >>> check_bias_structure(None, ["state", "age6"])
    False
    >>> check_bias_structure("region", ["state", "age6"], fixed=["region"])
    False
    """
    if bias_by is None or bias_by in cells or bias_by in fixed:
        return False
    warnings.warn(
        f"joint_mrp: bias_by={bias_by!r} without a {bias_by!r} main effect is confounded with "
        f"the domain structure (the persona x {bias_by} bias absorbs each {bias_by}'s average "
        f"of the other effects, e.g. its states' mean); add {bias_by!r} to fixed= (or cells=) "
        "or leave bias_by=None (one bias term, the default)", UserWarning, stacklevel=3)
    return True


def fit_joint(
    personas: Any,
    human: Any,
    outcome: str,
    human_outcome: str,
    *,
    cells: Sequence[str] = DEFAULT_CELLS,
    bias_by: str | None = None,
    fixed: Sequence[str] = (),
    sampler: Sampler | None = None,
    gate: Gate | Literal["raise", "warn"] = "raise",
) -> Any:
    """Fit the joint persona + human model (an :class:`calib.mrp.MRPFit`).

    ``cells`` are the varying intercepts (``"a:b"`` for an interaction); ``fixed`` the fixed
    effects (text -> treatment coding, numbers -> a slope). ``bias_by`` (default ``None``: a
    single persona-bias term) adds a partially pooled persona x group bias; it needs that
    group's main effect in ``cells`` or ``fixed``, otherwise it is confounded with the domain
    structure (:func:`check_bias_structure` warns). ``sampler`` (default
    :data:`JOINT_SAMPLER`) and ``gate`` are those of :func:`calib.mrp.fit`.
    """
    check_bias_structure(bias_by, cells, fixed)
    variables = term_variables([*cells, *fixed, *([bias_by] if bias_by else [])])
    data = stack_sources(personas, human, outcome, human_outcome, variables)
    if bias_by:
        data["bias"] = np.where(data["source"] == "human", "human",
                                "persona:" + data[bias_by].astype(str))
    else:
        data["bias"] = data["source"]
    for c in fixed:  # numeric fixed effects are slopes: back to numbers
        num = pd.to_numeric(data[c], errors="coerce")
        if num.notna().all():
            data[c] = num.astype(float)
    data = data[[*term_variables([*cells, *fixed]), "bias", "y"]]
    return fit(data, "y", group_effects=[*cells, "bias"], fixed_effects=list(fixed),
               sampler=JOINT_SAMPLER if sampler is None else sampler, gate=gate)


def joint_mrp(
    personas: Any,
    human: Any,
    outcome: str,
    human_outcome: str,
    frame: pd.DataFrame,
    *,
    by: str | None = "state",
    count: str = "n",
    human_weight: Any = None,
    level: float = 0.95,
    **fit_options: Any,
) -> pd.DataFrame:
    """Joint MRP estimate at the human level, poststratified over ``frame``.

    Parameters
    ----------
    personas, human : persona rows with the LLM answer ``outcome`` (0/1) and human rows with
        the real answer ``human_outcome`` (0/1), sharing the cell variables.
    frame : population cells with every cell variable and ``count`` (e.g. the CVAP frame).
    by : domain column of the frame (plus the ``Total`` row).
    human_weight : only used for ``n_effective_human`` (the design-based human-only variance
        the posterior variance is compared with).
    fit_options : :func:`fit_joint` options (``cells``, ``bias_by``, ``sampler`` (a
        :class:`calib.mrp.Sampler`: draws, seed ...), ``gate``).

    Returns
    -------
    DataFrame with :data:`calib.hybrid.COLUMNS`: posterior mean and sd, central interval,
    ``n`` = rows used, ``ess`` = ``p(1-p)/sd^2`` (simple-random humans with that variance),
    ``deff = n_human / ess``, ``n_effective_human`` (NA where fewer than 2 humans) and
    ``lambda`` NA (no tuning weight in MRP). ``attrs["fit"]`` holds the MRPFit.
    """
    fit = fit_joint(personas, human, outcome, human_outcome, **fit_options)
    est = fit.poststratify(frame, by=by, count=count, level=level, set={"bias": "human"})
    hframe, v = frame_weights(human, human_weight, "human")
    y = numeric_column(hframe, human_outcome, "human")
    n_p = len(personas.frame if hasattr(personas, "weight_array") else personas)
    rows = []
    for _, r in est.table.iterrows():
        dom = r["domain"]
        if by is not None and not pd.isna(r["by"]):
            m = (hframe[by].map(format_level).astype(str) == dom).to_numpy()
        else:
            m = np.ones(len(hframe), bool)
        nh = int(m.sum())
        var = float(r["se"]) ** 2
        p = float(r["estimate"])
        ess = p * (1 - p) / var if var > 0 else float("inf")
        neff = nh * hajek_var(y[m], v[m]) / var if nh >= 2 and var > 0 else pd.NA
        rows.append({"outcome": outcome, "level": pd.NA, "by": r["by"], "domain": dom,
                     "estimate": p, "se": float(r["se"]), "ci_low": float(r["ci_low"]),
                     "ci_high": float(r["ci_high"]), "n": n_p + len(hframe), "ess": ess,
                     "deff": nh / ess if ess > 0 else pd.NA, "n_human": float(nh),
                     "n_effective_human": neff, "lambda": pd.NA})
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    out.attrs["fit"] = fit
    return out


def source_bias(fit: Any, level: float = 0.95) -> pd.DataFrame:
    """Posterior of the persona-minus-human bias (logit scale): overall and per group."""
    t = fit.spec.term("bias")
    c = fit.draws("b_bias")
    labels = list(t.levels)
    h = c[:, labels.index("human")]
    per = [(lab.split(":", 1)[-1], c[:, labels.index(lab)] - h) for lab in labels
           if lab != "human"]
    rows = [("overall", np.mean([d for _, d in per], axis=0)), *per]
    a = (1 - level) / 2
    return pd.DataFrame([{"group": g, "mean": float(d.mean()), "sd": float(d.std(ddof=1)),
                          "ci_low": float(np.quantile(d, a)), "ci_high": float(np.quantile(d, 1 - a))}
                         for g, d in rows])


__all__ = ["joint_mrp", "fit_joint", "check_bias_structure", "term_variables", "stack_sources", "source_bias", "DEFAULT_CELLS",
           "JOINT_SAMPLER"]
