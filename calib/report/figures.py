"""Report figures: matplotlib (Agg, no pyplot state) to base64 PNG data URIs; the tile map as SVG.

Every function takes validated parts of :class:`~calib.report.data.ReportData` and returns a
string that the template inlines (``data:image/png;base64,...`` or an ``<svg>`` element), so
the HTML needs no other file and no network.

Colours: Democratic / Republican shares use ColorBrewer RdBu (diverging, colour-blind safe);
other figures use blue / grey / black only.

Examples
--------
>>> import numpy as np
>>> uri = weights_png(np.ones(5), np.array([0.5, 1.0, 1.0, 1.5, 2.0]))
>>> uri.startswith("data:image/png;base64,")
True
>>> share_color(0.5), share_color(0.9) == share_color(0.8)
('#f7f7f7', True)
"""

from __future__ import annotations

import base64
import io
from html import escape

import numpy as np
import pandas as pd
from matplotlib.colors import LinearSegmentedColormap, to_hex
from matplotlib.figure import Figure

from calib.core.util import kish_ess
from calib.report.tilegrid import GRID_COLS, GRID_ROWS, TILES

DEM = "#2166ac"
REP = "#b2182b"
GREY = "#8c8c8c"
INK = "#222222"
#: ColorBrewer RdBu (11 classes), red (Republican) to blue (Democratic).
RDBU = ("#67001f", "#b2182b", "#d6604d", "#f4a582", "#fddbc7", "#f7f7f7", "#d1e5f0",
        "#92c5de", "#4393c3", "#2166ac", "#053061")  # fmt: skip
_CMAP = LinearSegmentedColormap.from_list("calib_rdbu", RDBU, N=2001)
#: Shares at 0.5 +- SHARE_SPAN saturate the colour scale.
SHARE_SPAN = 0.2
DPI = 144


def share_color(share: float) -> str:
    """Hex colour of a Democratic two-party share on the RdBu scale centred at 0.5."""
    x = float(np.clip((share - 0.5) / (2 * SHARE_SPAN) + 0.5, 0.0, 1.0))
    return to_hex(_CMAP(x))


def _style(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.spines["left"].set_color("#999999")
    ax.spines["bottom"].set_color("#999999")
    ax.tick_params(colors="#444444", labelsize=9)
    ax.grid(axis="x", color="#e6e6e6", linewidth=0.8)
    ax.set_axisbelow(True)


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def weight_stats(w: np.ndarray) -> dict[str, float]:
    """Kish effective sample size, design effect (1 + CV^2) and max/min ratio of positive weights.

    >>> weight_stats(np.array([1.0, 1.0, 2.0]))["ess"]
    2.666...
    """
    ess = kish_ess(w)
    pos = w[w > 0]
    return {"n": float(w.size), "ess": ess, "deff": float(w.size / ess),
            "ratio": float(pos.max() / pos.min()), "zeros": float((w == 0).sum())}


def weights_png(before: np.ndarray | None, after: np.ndarray) -> str:
    """Histogram of weights relative to their mean (log scale), before (outline) vs after (fill)."""
    fig = Figure(figsize=(7.2, 3.0))
    ax = fig.subplots()
    pos = after[after > 0]
    rel_after = pos / pos.mean()
    rel_before = None
    if before is not None and np.ptp(before[before > 0]) > 1e-12 * before.max():
        rel_before = before[before > 0] / before[before > 0].mean()
    both = rel_after if rel_before is None else np.concatenate([rel_after, rel_before])
    lo, hi = min(both.min(), 0.9), max(both.max(), 1.1)
    bins = np.geomspace(lo / 1.05, hi * 1.05, 50).tolist()
    ax.hist(rel_after, bins=bins, weights=np.full(rel_after.size, 1 / rel_after.size),
            color=DEM, alpha=0.75, label="after adjustment")
    if rel_before is not None:
        ax.hist(rel_before, bins=bins, weights=np.full(rel_before.size, 1 / rel_before.size),
                histtype="step", color=INK, linewidth=1.4, label="before (base weights)")
    elif before is not None:
        ax.axvline(1.0, color=INK, linewidth=1.4, label="before: all weights equal")
    ax.axvline(1.0, color=GREY, linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("weight / mean weight (log scale)", fontsize=9)
    ax.set_ylabel("share of units", fontsize=9)
    _style(ax)
    ax.legend(frameon=False, fontsize=9)
    return _png(fig)


def love_png(margins: pd.DataFrame) -> str:
    """Love plot: |share - target| in points per margin level, unweighted vs weighted."""
    m = margins.copy()
    m["before"] = (m["sample_share"].astype(float) - m["target_share"].astype(float)).abs() * 100
    m["after"] = (m["weighted_share"].astype(float) - m["target_share"].astype(float)).abs() * 100
    labels = (m["variable"].astype(str) + ": " + m["level"].astype(str)).tolist()
    n = len(m)
    fig = Figure(figsize=(7.2, 0.9 + 0.22 * n))
    ax = fig.subplots()
    y = np.arange(n)[::-1]
    ax.hlines(y, m["after"], m["before"], color="#cccccc", linewidth=1.2, zorder=1)
    ax.scatter(m["before"], y, s=28, facecolors="white", edgecolors=GREY, linewidths=1.4,
               label="unweighted sample", zorder=2)
    ax.scatter(m["after"], y, s=28, color=DEM, label="weighted", zorder=3)
    var = m["variable"].astype(str).to_numpy()
    for i in range(1, n):
        if var[i] != var[i - 1]:
            ax.axhline(y[i] + 0.5, color="#dddddd", linewidth=0.8)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlim(left=0)
    ax.set_xlabel("absolute difference from target (percentage points)", fontsize=9)
    _style(ax)
    ax.legend(frameon=False, fontsize=9, loc="lower left", bbox_to_anchor=(0, 1), ncol=2,
              borderaxespad=0.2)
    return _png(fig)


def ev_png(draws: np.ndarray, actual: int | None) -> str:
    """Histogram of simulated Democratic electoral votes with the 270 line and the actual result."""
    fig = Figure(figsize=(7.2, 3.0))
    ax = fig.subplots()
    width = 2 if np.ptp(draws) < 120 else 5
    edges = np.arange(0, 538 + width + 1, width) - 0.5
    counts, _ = np.histogram(draws, bins=edges)
    share = counts / draws.size
    left = edges[:-1]
    colors = np.where(left + width / 2 >= 270, DEM, REP)
    keep = counts > 0
    ax.bar(left[keep], share[keep], width=width, align="edge", color=colors[keep], alpha=0.85,
           linewidth=0)
    ax.axvline(270, color=GREY, linestyle="--", linewidth=1.2)
    ymax = share.max()
    left_of = actual is not None and actual > 270
    ax.text(270, ymax * 1.08, " 270 to win ", color="#555555", fontsize=8,
            va="bottom", ha="right" if left_of else "left")
    lo, hi = float(draws.min()), float(draws.max())
    if actual is not None:
        ax.axvline(actual, color=INK, linewidth=2)
        right = actual >= 270
        ax.text(actual, ymax * 1.18, f" actual: {actual} ", color=INK,
                fontsize=9, fontweight="bold", va="bottom", ha="left" if right else "right")
        lo, hi = min(lo, actual), max(hi, actual)
    lo, hi = min(lo, 270), max(hi, 270)
    pad = max(10.0, 0.08 * (hi - lo))
    ax.set_xlim(max(0, lo - pad), min(538, hi + pad))
    ax.set_ylim(0, ymax * 1.35)
    ax.set_xlabel("Democratic electoral votes", fontsize=9)
    ax.set_ylabel("share of simulations", fontsize=9)
    _style(ax)
    return _png(fig)


def _text_color(fill: str) -> str:
    r, g, b = (int(fill[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return "#ffffff" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5 else INK


def tilemap_svg(states: pd.DataFrame, *, fig_id: str = "fig-tilemap", alt: str = "") -> str:
    """Tile-grid maps (inline SVG): corrected estimate, certified result and raw when given.

    Tiles are coloured by the Democratic two-party share; on the corrected (and raw) panels a
    thick black outline marks a state whose call differs from the certified winner. Each tile
    has a tooltip with the numbers.
    """
    s = states.set_index("state")
    panels = [("estimate", "Corrected estimate")]
    if "raw" in s.columns:
        panels.insert(0, ("raw", "Raw personas (uncorrected)"))
    panels.append(("certified", "Certified result"))
    tile, gap, head = 36, 3, 26
    pw = GRID_COLS * (tile + gap)
    ph = GRID_ROWS * (tile + gap) + head
    sep = 24
    width = len(panels) * pw + (len(panels) - 1) * sep
    legend_h = 56
    height = ph + legend_h
    out = [f'<svg id="{fig_id}" class="tilemap" role="img" aria-label="{escape(alt)}" '
           f'xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'font-family="system-ui, -apple-system, Segoe UI, Roboto, DejaVu Sans, sans-serif">']
    for p, (col, name) in enumerate(panels):
        x0 = p * (pw + sep)
        out.append(f'<text x="{x0}" y="17" font-size="16" font-weight="600" fill="{INK}">'
                   f"{escape(name)}</text>")
        for st, (r, c) in TILES.items():
            x, y = x0 + c * (tile + gap), head + r * (tile + gap)
            # pandas-stubs type .at as any scalar (Period, Interval, NA...): these are floats
            if st not in s.index or pd.isna(s.at[st, col]):  # pyright: ignore[reportCallIssue, reportArgumentType]
                out.append(f'<rect x="{x}" y="{y}" width="{tile}" height="{tile}" rx="3" '
                           f'fill="#ffffff" stroke="#bbbbbb" stroke-dasharray="3 2"><title>{st}: '
                           "not given</title></rect>")
                continue
            v = float(s.at[st, col])  # pyright: ignore[reportArgumentType]
            fill = share_color(v)
            cert = float(s.at[st, "certified"])  # pyright: ignore[reportArgumentType]
            miss = col != "certified" and (v > 0.5) != (cert > 0.5)
            stroke = f' stroke="{INK}" stroke-width="3"' if miss else ""
            tip = f"{st}: {name.lower()} {v:.1%}"
            if col != "certified":
                tip += f", certified {cert:.1%}" + (" (wrong call)" if miss else "")
            tc = _text_color(fill)
            out.append(
                f'<g class="tile" data-state="{st}"><title>{escape(tip)}</title>'
                f'<rect x="{x}" y="{y}" width="{tile}" height="{tile}" rx="3" fill="{fill}"'
                f"{stroke}/>"
                f'<text x="{x + tile / 2}" y="{y + 15}" font-size="11" font-weight="600" '
                f'text-anchor="middle" fill="{tc}">{st}</text>'
                f'<text x="{x + tile / 2}" y="{y + 28}" font-size="9.5" text-anchor="middle" '
                f'fill="{tc}">{100 * v:.0f}</text></g>'
            )
    out.append(_legend_svg(0, ph + 8))
    out.append("</svg>")
    return "".join(out)


def _legend_svg(x0: float, y0: float) -> str:
    stops = "".join(f'<stop offset="{i / (len(RDBU) - 1):.3f}" stop-color="{c}"/>'
                    for i, c in enumerate(RDBU))
    w, fs = 300, 15
    lo, hi = 50 - 100 * SHARE_SPAN, 50 + 100 * SHARE_SPAN
    parts = [
        f'<defs><linearGradient id="calib-rdbu">{stops}</linearGradient></defs>',
        f'<rect x="{x0}" y="{y0}" width="{w}" height="14" fill="url(#calib-rdbu)" '
        'stroke="#999999" stroke-width="0.5"/>',
    ]
    for frac, lab in ((0, f"\u2264{lo:.0f}"), (0.5, "50"), (1, f"\u2265{hi:.0f}")):
        anchor = ("start", "middle", "end")[int(2 * frac)]
        parts.append(f'<text x="{x0 + frac * w}" y="{y0 + 32}" font-size="{fs}" '
                     f'text-anchor="{anchor}" fill="#444444">{lab}</text>')
    parts.append(f'<text x="{x0 + w + 20}" y="{y0 + 13}" font-size="{fs}" fill="#444444">'
                 "Democratic two-party share (%); tile number = share</text>")
    parts.append(f'<rect x="{x0 + w + 20}" y="{y0 + 22}" width="14" height="14" rx="2" '
                 f'fill="#f7f7f7" stroke="{INK}" stroke-width="3"/>')
    parts.append(f'<text x="{x0 + w + 42}" y="{y0 + 34}" font-size="{fs}" fill="#444444">'
                 "call differs from the certified winner</text>")
    return "".join(parts)
