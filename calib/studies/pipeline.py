"""A forecasting pipeline or comparison study as one reproducible run (``calib run study.toml``).

A study file names the personas (a file with a codebook, or a simulated study with a seed),
the optional human benchmark, the outcome, the methods, the benchmark (certified results of a
year, or a truth file), the forecast settings and the outputs. :func:`run_study` runs every
method through :func:`calib.studies.comparison.compare`, turns each method's state estimates into an
electoral-college forecast, backtests it against the certified results, and writes the
comparison table, the forecasts, the metrics and (optionally) the HTML report.

Study file (TOML)::

    [personas]
    simulate = { year = 2024, per_state = 1000, human_n = 1500, seed = 1 }
    # or: path = "personas.parquet", codebook = "personas", human = "human.csv"
    persona_type = "descriptive"          # keep one persona type (optional)

    [analysis]
    outcome = "vote_dem"                  # 1 = Democratic vote
    human_outcome = "vote_dem"            # the human's real answer (hybrid methods)
    llm_outcome = "llm_vote_dem"          # the LLM's answer for each human
    methods = ["raw", "rake", "calibrate-logit", "mrp", "ppi"]
    variables = ["age6", "sex", "race4", "educ5"]
    level = 0.95
    seed = 1

    [benchmark]
    certified = 2024                      # or: path = "truth.csv" (state, dem_two_party_share)

    [forecast]
    year = 2024
    fill_missing = "previous"             # the CVAP frame has no DC
    national_sd = 0.02

    [outputs]
    dir = "out/study"
    report = true
    overwrite = false

Examples
--------
>>> cfg = {"personas": {"simulate": {"year": 2024, "per_state": 60, "human_n": 0, "seed": 1},
...                     "persona_type": "meta"},
...        "analysis": {"outcome": "vote_dem", "methods": ["raw"], "variables": ["age6"]},
...        "forecast": {"year": 2024, "fill_missing": "previous", "draws": 500}}
>>> res = run_study(cfg)
>>> list(res.metrics)
['raw']
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from calib.core.errors import DataError
from calib.core.util import check_output
from calib.data.datasets import election_results, poststrat_frame
from calib.data.readers import read_personas
from calib.data.tables import read_table, to_numeric
from calib.election import backtest, forecast
from calib.studies.comparison import compare
from calib.studies.election_study import election_study
from calib.studies.report_study import study_report
from calib.studies.study_schema import check_study

SECTIONS = ("personas", "analysis", "benchmark", "forecast", "outputs")


@dataclass
class StudyResult:
    """What a study run produced (also written to the output folder)."""

    comparison: Any
    forecasts: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    study: Any = None
    outputs: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """The comparison summary joined with the backtest metrics per method."""
        s = self.comparison.summary.copy()
        if self.metrics:
            m = pd.DataFrame(self.metrics).T.add_prefix("bt_")
            s = s.merge(m, left_on="method", right_index=True, how="left")
        return s


def load_study(path: str | Path) -> dict:
    """Read and check a study TOML."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"study file {str(p)!r} does not exist or is not a file")
    try:
        cfg = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as e:
        raise DataError(f"study file {str(p)!r} is not valid TOML: {e}") from e
    check_study(cfg, f"study file {str(p)!r}")
    return cfg


def _personas(cfg: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame | None, Any]:
    pc = dict(cfg.get("personas", {}))
    study = None
    personas: pd.DataFrame
    if "simulate" in pc:
        study = election_study(**pc["simulate"])
        personas, human = study.personas, study.human
        if human is None or not len(human):
            human = None
    elif "path" in pc:
        book = pc.get("codebook")
        if book is None:
            personas = read_personas(pc["path"])
        else:
            personas, _ = read_personas(pc["path"], codebook=book)
        human = read_table(pc["human"], "[personas] human") if "human" in pc else None
        # CSV is read as text: the answer columns become numbers, as `calib compare` does
        ac = dict(cfg.get("analysis", {}))
        outcome = ac.get("outcome", "vote_dem")
        personas = _numbers(personas, [outcome], "[personas] path")
        if human is not None:
            cols = [ac.get("human_outcome", "vote_dem"), ac.get("llm_outcome") or outcome, "weight"]
            human = _numbers(human, cols, "[personas] human")
    else:
        raise DataError("[personas] needs simulate = {...} or path = '...'")
    if "persona_type" in pc:
        t: str = pc["persona_type"]
        if "persona_type" not in personas.columns:
            raise DataError("persona_type given but the personas have no persona_type column")
        personas = personas[personas["persona_type"].astype(str) == t]
        if personas.empty:
            raise DataError(f"no personas of type {t!r}")
    return personas, human, study


def _numbers(frame: pd.DataFrame, columns: list[str], what: str) -> pd.DataFrame:
    """``frame`` with those of ``columns`` it has as floats (text that is no number raises)."""
    have = [c for c in dict.fromkeys(columns) if c in frame.columns]
    if not have:
        return frame
    frame = frame.copy()
    for c in have:
        frame[c] = to_numeric(frame, c, what)
    return frame


def _benchmark(cfg: Mapping[str, Any], study: Any) -> pd.Series:
    bc = dict(cfg.get("benchmark", {}))
    if "path" in bc:
        t = read_table(bc["path"], "[benchmark] path")
        col = bc.get("column", "dem_two_party_share")
        return t.set_index(bc.get("key", "state"))[col].astype(float)
    year = bc.get("certified")
    if year is None and study is not None:
        return study.truth_state.set_index("state")["dem_two_party_share"]
    if year is None:
        raise DataError("[benchmark] needs certified = YEAR or path = '...'")

    r = election_results(int(year))
    return r.set_index("state_po")["dem_two_party_share"]


def run_study(cfg: Mapping[str, Any], *, progress: Any = None,
              bar: bool | None = False) -> StudyResult:
    """Run a study configuration (see the module docstring); returns a :class:`StudyResult`.

    ``progress`` (a callable) is called with each method's name once its forecast and
    backtest are done; ``bar`` draws a progress bar over the methods on stderr (None: when
    stderr is a terminal; the ``calib run`` CLI)."""
    check_study(cfg)
    personas, human, study = _personas(cfg)
    ac = dict(cfg.get("analysis", {}))
    outcome = ac.get("outcome", "vote_dem")
    methods = list(ac.get("methods", ["raw", "rake"]))
    frame = study.frame if study is not None else poststrat_frame()
    bench = _benchmark(cfg, study)
    comparison = compare(
        personas, outcome, benchmark=bench, methods=methods, by=ac.get("by", "state"),
        frame=frame, variables=tuple(ac.get("variables", ("age6", "sex", "race4", "educ5"))),
        human=human,
        human_outcome=ac.get("human_outcome", "vote_dem" if human is not None else None),
        llm_outcome=ac.get("llm_outcome", "llm_vote_dem" if study is not None else None),
        level=float(ac.get("level", 0.95)), seed=ac.get("seed"), options=ac.get("options"),
        progress=bar,
    )  # fmt: skip
    comparison.require_estimates()  # every method failed: exit 3, nothing written
    res = StudyResult(comparison=comparison, study=study, config=dict(cfg))
    fc = dict(cfg.get("forecast", {}))
    if fc and not comparison.table.empty:
        year = int(fc.get("year", 2024))
        for m, est in comparison.table.groupby("method", sort=False):
            e = est[["domain", "estimate", "se"]].rename(columns={"domain": "state"})
            f = forecast(
                e, year, national_sd=float(fc.get("national_sd", 0.02)),
                draws=int(fc.get("draws", 20000)), seed=fc.get("seed", ac.get("seed")),
                level=float(fc.get("level", 0.9)), fill_missing=fc.get("fill_missing"),
            )  # fmt: skip
            res.forecasts[m] = f
            res.metrics[m] = backtest(f, int(fc.get("backtest_year", year)))
            if progress is not None:
                progress(m)
    oc = dict(cfg.get("outputs", {}))
    if oc.get("dir"):
        res.outputs = write_outputs(res, Path(oc["dir"]), report=bool(oc.get("report", False)),
                                    overwrite=bool(oc.get("overwrite", False)))
    return res


def write_outputs(res: StudyResult, out: Path, *, report: bool, overwrite: bool) -> dict:
    """Write comparison.csv, summary.csv, forecast_<method>.json, backtest.json, report.html."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "comparison": out / "comparison.csv",
        "summary": out / "summary.csv",
        "backtest": out / "backtest.json",
    }
    if report:
        paths["report"] = out / "report.html"
    paths.update({f"forecast_{m}": out / f"forecast_{m}.json" for m in res.forecasts})
    for p in paths.values():  # before writing any (overwrite = true in [outputs] replaces)
        check_output(p, overwrite)
    res.comparison.table.to_csv(paths["comparison"], index=False)
    res.table().to_csv(paths["summary"], index=False)
    paths["backtest"].write_text(json.dumps(res.metrics, indent=1, default=float))
    for m, f in res.forecasts.items():
        f.write(paths[f"forecast_{m}"], overwrite=True)
    if report:
        study_report(res, paths["report"], overwrite=True)
    return {k: str(v) for k, v in paths.items()}


__all__ = ["StudyResult", "load_study", "run_study", "write_outputs"]
