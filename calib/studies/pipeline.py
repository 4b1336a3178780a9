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

    [mrp]                                 # optional: the settings of `calib mrp`
    group = ["state", "age6", "race4", "educ5"]
    fixed = ["sex"]                       # fixed effects (text: treatment coding; numbers: slope)
    interaction = ["age6:educ5"]
    missing = "drop"                      # error | drop | level
    gate = "warn"                         # raise | warn
    centered = "auto"                     # auto | true | false

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
from calib.data.datasets import election_results, poststrat_frame
from calib.data.output import Staged, check_targets
from calib.data.readers import read_personas
from calib.data.tables import read_table, to_numeric
from calib.election import backtest, forecast
from calib.studies.comparison import compare
from calib.studies.election_study import election_study
from calib.studies.report_study import study_report
from calib.studies.study_schema import check_study

SECTIONS = ("personas", "analysis", "benchmark", "forecast", "outputs", "mrp")
#: ``[mrp]`` keys (the flags of ``calib mrp``) -> :func:`calib.mrp.fit` options.
MRP_KEYS = {"group": "group_effects", "fixed": "fixed_effects", "interaction": None,
            "family": "family", "missing": "missing", "gate": "gate", "centered": "centered",
            "draws": "draws", "tune": "tune", "chains": "chains", "seed": "seed",
            "sampler": "sampler", "target_accept": "target_accept",
            "domain_predictors": "domain_predictors"}


def mrp_options(table: Mapping[str, Any], base: Mapping[str, Any] | None = None) -> dict:
    """The ``mrp`` method options of a study's ``[mrp]`` table, which takes the settings of
    ``calib mrp``: ``group``, ``fixed`` (fixed effects), ``interaction`` (``"a:b"`` strings),
    ``family`` (binomial only in a comparison: one estimate per state), ``missing``
    (error / drop / level), ``gate`` (raise / warn), ``centered`` (auto / true / false) and the
    sampler settings; ``base`` (``[analysis.options.mrp]``) gives the rest.

    >>> mrp_options({"fixed": ["male"], "interaction": ["age6:educ5"], "gate": "warn",
    ...              "centered": "false"}, {"group_effects": ["state"]})
    {'group_effects': ['state', 'age6:educ5'], 'fixed_effects': ['male'], 'gate': 'warn', 'centered': False}
    """
    unknown = sorted(set(table) - set(MRP_KEYS))
    if unknown:
        raise DataError(f"[mrp]: unknown keys {unknown}; known: {sorted(MRP_KEYS)}")
    out = dict(base or {})
    for key, value in table.items():
        if key == "interaction":
            continue
        if key == "family" and value != "binomial":
            raise DataError(f"[mrp] family = {value!r}: a study compares one estimate per state "
                            "with the benchmark, so only 'binomial' fits; use calib mrp "
                            "--family categorical for a multi-level outcome")
        if key == "centered" and isinstance(value, str):
            value = {"auto": "auto", "true": True, "false": False}.get(value.lower(), value)
        out[MRP_KEYS[key]] = value
    inter = table.get("interaction", [])
    if inter:
        inter = [inter] if isinstance(inter, str) else list(inter)
        if "group_effects" not in out:
            raise DataError("[mrp] interaction needs group = [...] (or group_effects in "
                            "[analysis.options.mrp]) to add to")
        out["group_effects"] = [*out["group_effects"], *inter]
    return out


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
    stderr is a terminal; the ``calib run`` CLI).

    The outputs (``[outputs] dir``) are checked before any work and published together at the
    end: a run that fails half way (a method, the report) leaves nothing under their names."""
    check_study(cfg)
    oc = dict(cfg.get("outputs", {}))
    if oc.get("dir"):
        check_study_outputs(cfg, Path(oc["dir"]), overwrite=bool(oc.get("overwrite", False)))
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
        level=float(ac.get("level", 0.95)), seed=ac.get("seed"), options=_options(cfg, ac),
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
    if oc.get("dir"):
        res.outputs = write_outputs(res, Path(oc["dir"]), report=bool(oc.get("report", False)),
                                    overwrite=bool(oc.get("overwrite", False)))
    return res


def _options(cfg: Mapping[str, Any], ac: Mapping[str, Any]) -> Any:
    """``[analysis.options]`` with the ``[mrp]`` table merged into its ``mrp`` entry."""
    opts = ac.get("options")
    if "mrp" not in cfg:
        return opts
    opts = dict(opts or {})
    opts["mrp"] = mrp_options(cfg["mrp"], opts.get("mrp"))
    return opts


def output_paths(out: Path, methods: list[str], *, report: bool) -> dict[str, Path]:
    """The files a study writes into ``out``: comparison.csv, summary.csv, backtest.json,
    forecast_<method>.json per method and (``report``) report.html.

    >>> sorted(output_paths(Path("o"), ["raw"], report=False))
    ['backtest', 'comparison', 'forecast_raw', 'summary']
    """
    paths = {
        "comparison": out / "comparison.csv",
        "summary": out / "summary.csv",
        "backtest": out / "backtest.json",
    }
    if report:
        paths["report"] = out / "report.html"
    paths.update({f"forecast_{m}": out / f"forecast_{m}.json" for m in methods})
    return paths


def _inputs(cfg: Mapping[str, Any]) -> list[str]:
    pc, bc = dict(cfg.get("personas", {})), dict(cfg.get("benchmark", {}))
    return [str(v) for v in (pc.get("path"), pc.get("human"), bc.get("path")) if v]


def check_study_outputs(cfg: Mapping[str, Any], out: Path, *, overwrite: bool) -> None:
    """Refuse, before any work, a study whose outputs clash with existing files (without
    ``overwrite``) or with its inputs; ``out`` must be a folder (made when missing)."""
    if out.exists() and not out.is_dir():
        raise DataError(f"[outputs] dir {str(out)!r} is a file; give a folder")
    if not out.exists():
        return  # nothing there to clash with; the folder is made when the outputs are written
    methods = [str(m) for m in dict(cfg.get("analysis", {})).get("methods", ["raw", "rake"])]
    paths = output_paths(out, methods if cfg.get("forecast") else [],
                         report=bool(dict(cfg.get("outputs", {})).get("report", False)))
    check_targets([(p, f"[outputs] {k}") for k, p in paths.items()], overwrite,
                  inputs=_inputs(cfg))


def write_outputs(res: StudyResult, out: Path, *, report: bool, overwrite: bool) -> dict:
    """Write comparison.csv, summary.csv, forecast_<method>.json, backtest.json, report.html.

    Every file is checked first, written to a temporary, and all are published together
    (:class:`calib.data.output.Staged`): a failure (the report, say) leaves none of them."""
    if out.exists() and not out.is_dir():
        raise DataError(f"[outputs] dir {str(out)!r} is a file; give a folder")
    out.mkdir(parents=True, exist_ok=True)
    paths = output_paths(out, list(res.forecasts), report=report)
    check_targets([(p, f"[outputs] {k}") for k, p in paths.items()], overwrite,
                  inputs=_inputs(res.config))
    with Staged(overwrite=overwrite) as st:
        res.comparison.table.to_csv(st.path(paths["comparison"]), index=False)
        res.table().to_csv(st.path(paths["summary"]), index=False)
        st.path(paths["backtest"]).write_text(json.dumps(res.metrics, indent=1, default=float))
        for m, f in res.forecasts.items():
            f.write(st.path(paths[f"forecast_{m}"]), overwrite=True)
        if report:
            study_report(res, st.path(paths["report"]), overwrite=True)
    return {k: str(v) for k, v in paths.items()}


__all__ = ["StudyResult", "check_study_outputs", "load_study", "output_paths", "run_study",
           "write_outputs"]
