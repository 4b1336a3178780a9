"""The demo job behind ``calib demo`` / ``make demo``: shipped data, end to end.

A list of steps (:data:`STEPS`), each a function of a shared context dictionary that adds its
results and returns the text it prints; later stages (MRP, forecasts, the report) plug in by
appending a :class:`DemoStep`. The default job:

1. ``load``: the ANES 2020 respondents (shipped, harmonized), **unweighted** - a stand-in for a
   persona set whose demographic mix is off;
2. ``targets``: census margins for sex, age6, race4, educ5 (citizens 18+, the ACS 2014-2018
   CVAP frame of the MRP Case Studies, 50 states);
3. ``rake``: raking on cells (rows with a missing weighting variable are dropped and counted);
4. ``diagnostics``: Kish n_eff, design effect, weight summary, margins, ASMD;
5. ``estimate``: the 2020 vote (Democrat / Republican / Other / Did not vote, shares of
   citizens 18+) unweighted, raked and with ANES's own design weights, with linearized
   standard errors using the ANES strata and PSUs, next to the certified result (votes cast
   in the 50 states divided by the CVAP total; the frame has no DC).

Examples
--------
>>> [s.name for s in STEPS]
['load', 'targets', 'rake', 'diagnostics', 'estimate', 'study', 'report']
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from calib.core.errors import DataError
from calib.core.sample import Sample
from calib.data.datasets import anes2020, census_targets, election_results
from calib.studies.demo_study import OUT, check_demo_outputs, report_step, study_step

VARIABLES = ("sex", "age6", "race4", "educ5")
OUTCOME = "vote2020"


@dataclass(frozen=True)
class DemoStep:
    """One step of the demo: ``run(context) -> text``; it stores its results in ``context``."""

    name: str
    title: str
    run: Callable[[dict], str]


def _load(ctx: dict) -> str:
    frame = anes2020()
    ctx["frame"] = frame
    ctx["results"]["rows"] = len(frame)
    return (f"ANES 2020 Time Series: {len(frame):,} respondents, taken unweighted as a biased "
            "sample (composition bias only; a persona set is handled the same way)")


def _targets(ctx: dict) -> str:
    t = census_targets(list(VARIABLES))
    assert t.population is not None  # census targets carry their population
    ctx["targets"] = t
    ctx["results"]["population"] = float(t.population)
    return (f"CVAP margins (citizens 18+, ACS 2014-2018, 50 states) {', '.join(VARIABLES)}: population {t.population:,.0f} "
            f"citizens 18+ ({len(t.to_frame())} target cells)")


def _rake(ctx: dict) -> str:
    frame = ctx["frame"]
    sample = Sample(frame, strata="Stratum", cluster="VarUnit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the drop is reported below
        raked = sample.rake(ctx["targets"], missing="drop")
    ctx["sample"], ctx["raked"] = sample, raked
    step = raked.history[-1]
    dropped = len(frame) - raked.n
    ctx["results"]["rake"] = {"converged": step.converged, "iterations": step.iterations,
                              "max_error": step.max_error, "dropped_rows": dropped}
    return (f"raked {raked.n:,} rows in {step.iterations} sweeps (largest margin error "
            f"{step.max_error:.1e}); {dropped} rows with a missing {'/'.join(VARIABLES)} "
            "dropped: " + ", ".join(f"{k} {v}" for k, v in dict(step.dropped).items()))


def _diagnostics(ctx: dict) -> str:
    diag = ctx["raked"].diagnostics()
    ctx["results"]["diagnostics"] = diag.to_dict()
    return str(diag)


def _certified(population: float) -> dict[str, float]:
    e = election_results(2020)
    e = e[e["state_po"] != "DC"]  # the CVAP frame covers the 50 states
    dem, rep = float(e["dem_votes"].sum()), float(e["rep_votes"].sum())
    total = float(e["total_votes"].sum())
    return {"Democrat": dem / population, "Republican": rep / population,
            "Other": (total - dem - rep) / population, "Did not vote": 1 - total / population}


def _estimate(ctx: dict) -> str:
    raked, frame = ctx["raked"], ctx["frame"]
    kept = raked.frame
    opts = {"variance": "linearization"}
    versions = {
        "unweighted": Sample(kept, strata="Stratum", cluster="VarUnit"),
        "raked": raked,
        "ANES weights": Sample(frame, weight="weight", strata="Stratum", cluster="VarUnit"),
    }
    tables = {}
    for name, s in versions.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # missing outcome counts shown in n
            tables[name] = s.estimate(OUTCOME, **opts).set_index("level")
    cert = _certified(ctx["results"]["population"])
    rows = []
    for level in cert:
        row: dict[str, Any] = {"vote2020": level}
        for name, t in tables.items():
            row[name] = f"{t.at[level, 'estimate']:.3f} ({t.at[level, 'se']:.3f})"
        row["certified"] = f"{cert[level]:.3f}"
        rows.append(row)
    ctx["results"]["estimate"] = {
        name: {lv: {"estimate": float(t.at[lv, "estimate"]), "se": float(t.at[lv, "se"])}
               for lv in cert} for name, t in tables.items()
    }
    ctx["results"]["estimate"]["certified"] = cert
    ctx["results"]["n_outcome"] = int(tables["raked"]["n"].iloc[0])
    text = pd.DataFrame(rows).to_string(index=False)
    return ("2020 vote as shares of citizens 18+, estimate (linearized SE, ANES strata/PSUs; "
            "the raked SE includes the calibration):\n" + text +
            "\ncertified = 2020 votes cast in the 50 states / CVAP total (no SE). Raking fixes the demographic mix; "
            "the turnout gap left (survey respondents vote more) is response/selection bias "
            "that weighting on demographics cannot remove.")


def _study(ctx: dict) -> str:
    return study_step(ctx)


def _report(ctx: dict) -> str:
    return report_step(ctx)


#: The demo's steps, in order; append a DemoStep to extend it.
STEPS: list[DemoStep] = [
    DemoStep("load", "Load a shipped sample", _load),
    DemoStep("targets", "Census targets", _targets),
    DemoStep("rake", "Rake to the targets", _rake),
    DemoStep("diagnostics", "Weight diagnostics", _diagnostics),
    DemoStep("estimate", "Weighted estimates with standard errors", _estimate),
    DemoStep("study", "Persona study 2024: raw / raking / calibration / MRP / hybrid -> "
             "electoral college -> backtest", _study),
    DemoStep("report", "HTML report", _report),
]


def run(steps: Sequence[str] | None = None, *, as_json: bool = False,
        echo: Callable[[str], Any] | None = print, out_dir: str | Path | None = None,
        overwrite: bool = False) -> dict:
    """Run the demo steps (all, or the named ones plus the steps they need before them).

    Parameters
    ----------
    steps : names from :data:`STEPS`; a step runs with every step before it (they feed it).
    as_json : print no text per step (``calib demo --json`` prints the returned results as
        one JSON document: output formats belong to the CLI layer).
    echo : where text goes (``None``: silent).
    out_dir : the folder of the written files (default ``out/``).
    overwrite : replace existing files there; without it only the files the demo's manifest
        (``<out_dir>/.calib-demo.json``) lists are replaced, any other is refused before any
        work.

    Returns
    -------
    dict of results (rows, population, rake, diagnostics, estimate, seconds per step).
    """
    names = [s.name for s in STEPS]
    if steps:
        unknown = [s for s in steps if s not in names]
        if unknown:
            raise DataError(f"demo --step {unknown}: unknown; choose from {names}")
        last = max(names.index(s) for s in steps)
        todo = STEPS[: last + 1]
    else:
        todo = STEPS
    ctx: dict = {"results": {"seconds": {}}, "out_dir": out_dir, "overwrite": overwrite}
    if any(s.name == "report" for s in todo):  # before the work, not after it
        check_demo_outputs(Path(out_dir) if out_dir is not None else OUT, overwrite=overwrite)
    for i, step in enumerate(todo, 1):
        t0 = time.perf_counter()
        text = step.run(ctx)
        ctx["results"]["seconds"][step.name] = round(time.perf_counter() - t0, 3)
        if echo is not None and not as_json:
            echo(f"\n[{i}/{len(todo)}] {step.title}\n{text}")
    return ctx["results"]


__all__ = ["DemoStep", "STEPS", "run"]
