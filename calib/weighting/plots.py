"""Figures of weighting diagnostics: the weight distribution and a love plot.

The functions take a :class:`calib.weighting.diagnostics.Diagnostics` (typed ``Any``: this
module must not import it back, the package has no import cycles).

matplotlib is imported inside the functions (importing calib stays light). Every figure
names the weighting method it shows.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import pandas as pd
>>> from calib import Sample, Targets
>>> t = Targets.from_frame(pd.DataFrame({"variable": "sex", "level": ["F", "M"],
...                                      "share": [0.5, 0.5]}))
>>> fig = Sample(pd.DataFrame({"sex": list("FMMM")})).rake(t).diagnostics().plot()
>>> [a.get_title() for a in fig.axes]
['Weight distribution (rake)', 'Balance before/after (rake)']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from calib.core.html import html_block, html_table


def balance_table(d: Any) -> pd.DataFrame:
    """What the love plot shows: one row per item with ``before`` and ``after`` imbalance.

    The ASMD per variable when the diagnostics have one, else the absolute margin error
    (share minus target) per margin level; empty without targets or a reference.
    ``measure`` names which.

    >>> import pandas as pd
    >>> from calib import Sample, Targets
    >>> t = Targets.from_frame(pd.DataFrame({"variable": "sex", "level": ["F", "M"],
    ...                                      "share": [0.5, 0.5]}))
    >>> balance_table(Sample(pd.DataFrame({"sex": list("FMMM")})).rake(t).diagnostics())
      item  before  after measure
    0  sex     0.5    0.0    ASMD
    """
    if d.asmd is not None and len(d.asmd):
        a = d.asmd
        return pd.DataFrame({"item": a.index.astype(str), "before": a["before"].to_numpy(),
                             "after": a["after"].to_numpy(), "measure": "ASMD"})
    if d.margins is not None and len(d.margins):
        m = d.margins
        item = m["margin"].astype(str) + np.where(m["level"].astype(str) != "",
                                                  ": " + m["level"].astype(str), "")
        return pd.DataFrame({"item": item,
                             "before": (m["before_share"] - m["target_share"]).abs(),
                             "after": (m["after_share"] - m["target_share"]).abs(),
                             "measure": "|share - target|"})
    return pd.DataFrame({"item": [], "before": [], "after": [], "measure": []})


def plot_diagnostics(d: Any) -> Any:
    """A Figure with two axes: the weight distribution (histogram of weights relative to
    their mean, base weights behind) and a love plot of :func:`balance_table` (before and
    after, one row per variable or margin level).

    Parameters
    ----------
    d : :class:`calib.weighting.diagnostics.Diagnostics` (from ``sample.diagnostics()``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    label = d.method or "unweighted"
    bal = balance_table(d)
    fig = Figure(figsize=(10, max(3.5, 0.25 * len(bal) + 1.5)), layout="constrained")
    ax_w, ax_b = fig.subplots(1, 2)
    w = d.values if d.values is not None else np.array([])
    if w.size:
        rel = w / w.mean()
        bins = np.linspace(0.0, float(rel.max()) * 1.02 + 1e-12, 40)
        if d.base_values is not None:
            base = d.base_values / d.base_values.mean()
            ax_w.hist(base, bins=bins, color="0.75", label="base weights")
        ax_w.hist(rel, bins=bins, alpha=0.8, color="C0", label=f"after {label}")
        ax_w.legend(frameon=False)
    ax_w.set_xlabel("weight / mean weight")
    ax_w.set_ylabel("rows")
    ax_w.set_title(f"Weight distribution ({label})")
    ax_b.set_title(f"Balance before/after ({label})")
    if len(bal):
        y = np.arange(len(bal))[::-1]
        ax_b.scatter(bal["before"], y, marker="o", facecolors="none", edgecolors="0.4",
                     label="before")
        ax_b.scatter(bal["after"], y, marker="o", color="C0", label="after")
        ax_b.set_yticks(y, bal["item"].tolist())
        ax_b.set_xlabel(str(bal["measure"].iloc[0]))
        ax_b.axvline(0.1 if bal["measure"].iloc[0] == "ASMD" else 0.0, color="0.6", lw=0.8,
                     ls="--")
        ax_b.legend(frameon=False)
    else:
        ax_b.text(0.5, 0.5, "no targets or reference:\nnothing to balance", ha="center",
                  va="center", transform=ax_b.transAxes)
        ax_b.set_axis_off()
    return fig


def diagnostics_html(d: Any) -> str:
    """The notebook view of Diagnostics: summary line, weights, the largest imbalances."""
    facts = [("method", d.method or "unweighted"), ("n", d.n), ("Kish ESS", f"{d.n_eff:.1f}"),
             ("deff", f"{d.deff:.3f}")]
    tables = [html_table(["weights", ""], [[k, f"{v:.4g}"] for k, v in d.weights.items()])]
    bal = balance_table(d)
    if len(bal):
        top = bal.sort_values("after", ascending=False).head(10)
        tables.append(html_table(
            ["item", f"before ({top['measure'].iloc[0]})", "after"],
            [[r.item, f"{r.before:.4f}", f"{r.after:.4f}"] for r in top.itertuples()]))
    return html_block("calib Diagnostics", facts, *tables)


__all__ = ["balance_table", "plot_diagnostics", "diagnostics_html"]
