"""Notebook and console views: short reprs, ``_repr_html_`` and the plotting API of Sample
(its history), Diagnostics and Forecast; plots are matplotlib Figures with the expected axes."""

import io

import matplotlib
import matplotlib.figure
import numpy as np
import pandas as pd
import pytest

from calib import Sample, Targets
from calib.core.history import History, Step
from calib.data.variables import STATES
from calib.election.forecast import forecast

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def weighted():
    rng = np.random.default_rng(0)
    n = 5000
    df = pd.DataFrame({"sex": rng.choice(["F", "M"], n, p=[0.3, 0.7]),
                       "age": rng.choice(["18-34", "35-64", "65+"], n, p=[0.5, 0.3, 0.2])})
    t = Targets.from_frame(pd.DataFrame({
        "variable": ["sex", "sex", "age", "age", "age"],
        "level": ["F", "M", "18-34", "35-64", "65+"],
        "share": [0.5, 0.5, 0.3, 0.4, 0.3]}))
    return Sample(df).rake(t).trim(upper_mult=4), t


def test_history_prints_one_short_line_per_step(weighted):
    s, _ = weighted
    h = s.history
    assert isinstance(h, History) and isinstance(h, tuple) and len(h) == 2
    lines = str(h).splitlines()
    assert len(lines) == 2 and len(str(h)) < 600  # used to dump every array of the steps
    assert lines[0].startswith("1. rake(") and "converged in" in lines[0]
    assert "n=5000" in lines[0] and "ESS=" in lines[0]
    assert lines[1].startswith("2. trim(")
    assert repr(h[0]).startswith("<Step rake(") and len(repr(h[0])) < 300
    assert repr(h[0].calibration).startswith("<Calibration raking: 6 cells")
    # n and ESS are recorded after each step, and do not take part in equality
    w = s.weight_array
    assert h[-1].ess == pytest.approx(w.sum() ** 2 / (w**2).sum())
    assert h[0] == Step(**{**h[0].__dict__, "n": None, "ess": None})


def test_sample_repr_and_html(weighted):
    s, _ = weighted
    r = repr(s)
    assert r.splitlines()[0] == "<calib.Sample n=5000 weights=rake -> trim total=5000>"
    assert len(r.splitlines()) == 3
    h = s._repr_html_()
    assert h.count("<tr>") == 3 and "ESS" in h and "rake" in h and "trim" in h
    assert "calib.Sample (unweighted)" in Sample(pd.DataFrame({"x": [1]}))._repr_html_()


def test_diagnostics_repr_html_and_plot(weighted):
    s, t = weighted
    d = s.rake(t).diagnostics()
    r = repr(d)
    assert r.startswith("<Diagnostics rake: n=5000, ESS=") and "max ASMD after=" in r
    assert "\n" not in r and len(r) < 200
    h = d._repr_html_()
    assert "calib Diagnostics" in h and "sex" in h and "age" in h
    fig = d.plot()
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 2
    hist, love = fig.axes
    assert hist.get_title() == "Weight distribution (rake)" and len(hist.patches) > 0
    assert love.get_title() == "Balance before/after (rake)"
    assert sorted(x.get_text() for x in love.get_yticklabels()) == ["age", "sex"]
    assert love.get_xlabel() == "ASMD" and len(love.collections) == 2  # before and after
    fig.savefig(io.BytesIO(), format="png")  # renders without a display


def test_diagnostics_plot_without_targets():
    d = Sample(pd.DataFrame({"x": [1, 2, 3]}), weight=[1.0, 2.0, 3.0]).diagnostics()
    fig = d.plot()
    assert fig.axes[0].get_title() == "Weight distribution (unweighted)"
    assert repr(d) == "<Diagnostics unweighted: n=3, ESS=2.6, deff=1.167>"


@pytest.fixture(scope="module")
def fc():
    est = pd.DataFrame({"state": STATES, "estimate": np.linspace(0.4, 0.6, len(STATES)),
                        "se": 0.02})
    return forecast(est.iloc[1:], 2024, seed=1, draws=2000, fill_missing="previous")


def test_forecast_repr_is_short_and_html(fc):
    r = repr(fc)
    assert r.startswith("<Forecast 2024: P(Dem win)=") and "\n" not in r and len(r) < 250
    assert "51 states (1 filled in), 2000 draws" in r
    h = fc._repr_html_()
    assert "calib Forecast 2024" in h and h.count("<tr>") == 11  # header + 10 closest


def test_forecast_plot(fc):
    fig = fc.plot()
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 2
    ev, states = fig.axes
    assert ev.get_title() == "Democratic electoral votes, 2024"
    assert len(states.get_yticklabels()) == 51
    assert [t.get_text() for t in states.get_legend().get_texts()] == ["estimated", "filled in"]
