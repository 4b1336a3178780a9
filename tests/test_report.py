"""HTML report: content, validation, self-containment, and a real headless-Chromium load."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from browser import BrowserMissing, chromium, probe, screenshot

from calib.core.errors import DataError
from calib.data.datasets import election_results
from calib.data.variables import STATES
from calib.election import forecast
from calib.report import (
    ReportData,
    from_forecast,
    render,
    render_html,
)
from calib.report.tilegrid import GRID_COLS, GRID_ROWS, TILES
from calib.studies.election_study import election_study

ARTIFACTS = Path(__file__).parent / "artifacts"
FIG_IDS = ("fig-weights", "fig-love", "fig-tilemap", "fig-ev")
TABLE_IDS = ("tbl-methods", "tbl-mrp", "tbl-provenance")


def _synthetic() -> ReportData:
    """A full report from the simulated 2024 study, poststratified by hand in numpy/pandas."""
    st = election_study(2024, per_state=100, human_n=0, seed=1)
    cells = ["state", "age6", "educ5"]
    meta = st.personas[st.personas["persona_type"] == "meta"].reset_index(drop=True)
    pop = st.frame.groupby(cells, observed=True)["n"].sum()
    cnt = meta.groupby(cells, observed=True).size()
    key = pd.MultiIndex.from_frame(meta[cells].astype(str))
    pop.index = pop.index.set_levels([lv.astype(str) for lv in pop.index.levels])
    cnt.index = cnt.index.set_levels([lv.astype(str) for lv in cnt.index.levels])
    w = (pop.reindex(key).to_numpy() / cnt.reindex(key).to_numpy()).astype(float)
    meta["w"] = w
    by = meta.groupby("state", observed=True)
    est = by.apply(lambda g: np.average(g["vote_dem"], weights=g["w"]), include_groups=False)
    ess = by["w"].sum() ** 2 / by["w"].apply(lambda x: np.square(x).sum())
    se = np.sqrt(est * (1 - est) / ess)
    desc = st.personas[st.personas["persona_type"] == "descriptive"]
    raw = desc.groupby("state", observed=True)["vote_dem"].mean()
    truth = st.truth_state.set_index("state")["dem_two_party_share"]
    have = [s for s in STATES if s in truth.index]  # the study's frame has no DC
    states = pd.DataFrame({"state": have})
    states["estimate"] = est.reindex(have).to_numpy()
    states["certified"] = truth.reindex(have).to_numpy()
    states["raw"] = raw.reindex(have).to_numpy()
    fc = forecast(pd.DataFrame({"state": have, "estimate": states["estimate"],
                                "se": se.reindex(have).to_numpy()}), 2024, seed=1, draws=4000,
                  fill_missing="previous")
    cert = election_results(2024)
    ev_actual = int(cert.loc[cert["dem_votes"] > cert["rep_votes"], "electoral_votes"].sum())
    rows = []
    for var in ("age6", "educ5", "sex", "race4"):
        target = st.frame.groupby(var, observed=True)["n"].sum()
        target = target / target.sum()
        unw = meta[var].value_counts(normalize=True)
        wtd = meta.groupby(var, observed=True)["w"].sum() / meta["w"].sum()
        for lv in target.index:
            rows.append((var, str(lv), unw.get(lv, 0.0), wtd.get(lv, 0.0), target[lv]))
    margins = pd.DataFrame(rows, columns=["variable", "level", "sample_share", "weighted_share",
                                          "target_share"])

    def metrics(name: str, col: str) -> dict:
        err = states[col] - states["certified"]
        ok = ((states[col] > 0.5) == (states["certified"] > 0.5)).sum()
        return {"method": name, "rmse": float(np.sqrt(np.mean(err**2))),
                "bias": float(err.mean()), "winners_correct": int(ok)}

    methods = pd.DataFrame([metrics("raw (descriptive)", "raw"),
                            metrics("poststratify (meta)", "estimate")])
    mrp = pd.DataFrame({"parameter": ["alpha", "sigma_state", "beta_age[0]"],
                        "r_hat": [1.001, 1.02, 1.003], "ess_bulk": [1800.0, 350.0, 2100.0],
                        "ess_tail": [1500.0, 600.0, 1900.0]})
    return ReportData(
        title="Synthetic 2024 persona study",
        weights_before=np.ones(len(meta)), weights_after=w, margins=margins, states=states,
        ev_draws=fc.ev_draws, ev_actual=ev_actual, methods=methods, mrp_diagnostics=mrp,
        divergences=0, provenance={"study": "election_study(2024, per_state=100, seed=1)",
                                   "forecast": fc.options},
        notes=["Demographic weighting cannot remove response bias."],
    )


@pytest.fixture(scope="module")
def full() -> ReportData:
    return _synthetic()


@pytest.fixture(scope="module")
def full_html(full: ReportData, tmp_path_factory) -> Path:
    return render(full, tmp_path_factory.mktemp("report") / "report.html")


def test_tilegrid_is_the_npr_layout() -> None:
    assert set(TILES) == set(STATES) and len(TILES) == 51
    assert len(set(TILES.values())) == 51, "two states share a tile"
    assert all(0 <= r < GRID_ROWS and 0 <= c < GRID_COLS for r, c in TILES.values())
    # landmarks of the NPR grid: AK top-left, ME top-right, HI bottom-left, FL bottom
    assert TILES["AK"] == (0, 0) and TILES["ME"] == (0, 10) and TILES["HI"] == (7, 0)
    assert TILES["WA"][1] < TILES["MT"][1] < TILES["MN"][1] < TILES["NY"][1]
    assert TILES["TX"][0] > TILES["OK"][0] > TILES["KS"][0] > TILES["NE"][0]


def test_render_writes_all_sections(full_html: Path) -> None:
    html = full_html.read_text()
    for i in FIG_IDS + TABLE_IDS:
        assert f'id="{i}"' in html
    assert "Not in this report" not in html
    assert "Demographic weighting cannot remove response bias." in html


def test_render_refuses_to_overwrite(tmp_path) -> None:
    data = ReportData(title="first", methods=pd.DataFrame({"method": ["a"], "rmse": [0.1]}))
    out = render(data, tmp_path / "sub" / "report.html")
    with pytest.raises(DataError, match="already exists.*overwrite=True"):
        render(ReportData(title="second"), out)
    assert "<title>first</title>" in out.read_text()
    assert render(ReportData(title="second"), out, overwrite=True) == out
    assert "<title>second</title>" in out.read_text()


def test_self_contained(full_html: Path) -> None:
    html = full_html.read_text()
    assert html.count("data:image/png;base64,") == 3
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)
    urls = re.findall(r"""(?:[a-z]+:)?//[^\s"'<>)]+""", text)
    assert set(urls) <= {"http://www.w3.org/2000/svg"}, urls
    assert "<link" not in html and "@import" not in html and "<script" not in html


def test_summary_figures_are_computed_from_inputs() -> None:
    ev = np.array([200, 300, 280, 100, 270, 250, 269, 400])  # 4 of 8 reach 270
    states = pd.DataFrame({"state": ["TX", "PA", "GA"], "estimate": [0.52, 0.51, 0.45],
                           "certified": [0.43, 0.49, 0.49]})
    methods = pd.DataFrame({"method": ["raw", "rake", "mrp"], "rmse": [0.09, 0.031, 0.034]})
    html = render_html(ReportData(ev_draws=ev, ev_actual=226, states=states, methods=methods))
    assert re.search(r"P\(Democratic win\)</div>\s*<div class=\"value\">50%", html)
    assert re.search(r"Expected Democratic EV</div>\s*<div class=\"value\">259<", html)
    assert re.search(r"States called right</div>\s*<div class=\"value\">1/3<", html)
    assert re.search(r"Best method by RMSE</div>\s*<div class=\"value text\">rake<", html)
    # TX and PA are called D but were won by R: outlined on the corrected panel only
    tx = re.search(r'<g class="tile" data-state="TX">.*?</g>', html).group(0)
    ga = re.search(r'<g class="tile" data-state="GA">.*?</g>', html).group(0)
    assert 'stroke-width="3"' in tx and "wrong call" in tx and 'stroke-width="3"' not in ga
    assert "certified winner\n(TX, PA)" in html


def test_from_forecast_joins_certified_results() -> None:
    est = pd.DataFrame({"state": list(STATES), "estimate": 0.5, "se": 0.03})
    fc = forecast(est, 2020, seed=2, draws=300, national_sd=0.0)
    d = from_forecast(fc, title="2020", methods=pd.DataFrame({"method": ["m"], "rmse": [0.1]}))
    assert d.ev_actual == 306  # Biden's certified 2020 electoral votes
    pa = d.states.set_index("state").at["PA", "certified"]
    assert abs(pa - 3458229 / (3458229 + 3377674)) < 1e-4  # PA certified two-party share
    assert "no national swing" in d.ev_variance and d.title == "2020"
    assert d.present() == ["states", "ev", "methods", "provenance"]
    with pytest.raises(DataError, match="unknown report parts"):
        from_forecast(fc, colour="red")


def test_absent_parts_are_omitted_with_a_note() -> None:
    html = render_html(ReportData(methods=pd.DataFrame({"method": ["a"], "rmse": [0.1]})))
    assert 'id="tbl-methods"' in html
    for i in FIG_IDS + ("tbl-mrp", "tbl-provenance"):
        assert f'id="{i}"' not in html
    note = re.search(r'id="omitted">(.*?)</p>', html, re.S).group(1)
    assert "give ev_draws" in note and "give states" in note and "give methods" not in note


def test_text_is_escaped() -> None:
    html = render_html(ReportData(title="<script>x</script>", notes=["a < b & c"]))
    assert "<script>x" not in html and "&lt;script&gt;x" in html and "a &lt; b &amp; c" in html


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"weights_after": [1.0, -2.0]}, "weights_after: 1 weights are negative"),
        ({"weights_after": [1.0, np.nan]}, "weights_after: 1 weights are NaN"),
        ({"weights_before": [1.0], "weights_after": [1.0, 2.0]}, "same units"),
        ({"states": pd.DataFrame({"state": ["XX"], "estimate": [0.5], "certified": [0.5]})},
         r"unknown state codes \['XX'\]"),
        ({"states": pd.DataFrame({"state": ["TX"], "estimate": [52.0], "certified": [0.4]})},
         r"states.estimate: value 52.0 at state=TX is not a share"),
        ({"margins": pd.DataFrame({"variable": ["sex"], "level": ["Male"]})},
         r"margins: missing columns \['sample_share'"),
        ({"ev_draws": [100, 600]}, "outside 0..538"),
        ({"ev_draws": [1.5]}, "whole numbers"),
    ],
)
def test_bad_input_names_the_part(kwargs: dict, match: str, tmp_path) -> None:
    with pytest.raises(DataError, match=match):
        render(ReportData(**kwargs), tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_loads_in_headless_chromium(full_html: Path) -> None:
    try:
        chromium()
    except BrowserMissing as e:  # a missing browser fails the test, never skips it
        pytest.fail(str(e))
    out = full_html
    seen = probe(out)
    assert seen.console == [], f"console messages: {seen.console}"
    assert seen.resources == [], f"the page requested resources: {seen.resources}"
    for i in FIG_IDS + TABLE_IDS:
        assert i in seen.ids, f"{i} missing from the rendered DOM"
    imgs = {im["id"]: im for im in seen.images}
    assert set(imgs) == {"fig-weights", "fig-love", "fig-ev"}
    for i, im in imgs.items():
        assert im["complete"] and im["naturalWidth"] > 0, f"image {i} did not render: {im}"
        assert im["width"] > 300 and im["height"] > 100, f"image {i} laid out too small: {im}"
    svg = next(s for s in seen.svgs if s["id"] == "fig-tilemap")
    assert svg["width"] > 600 and svg["height"] > 150
    assert svg["elements"] >= 3 * 51 * 4, "raw, corrected and certified panels of 51 tiles"
    shot = screenshot(out, ARTIFACTS / "report.png")
    assert shot.stat().st_size > 50_000
