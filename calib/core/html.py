"""Notebook (``_repr_html_``) views shared by calib's result objects: small, escaped tables.

Examples
--------
>>> html_table(["a", "b"], [[1, "<x>"]])
'<table class="calib"><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td>1</td><td>&lt;x&gt;</td></tr></tbody></table>'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from calib.core.util import kish_ess


def html_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """An HTML table of already formatted cells (every cell escaped)."""
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
    return (f'<table class="calib"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def html_block(title: str, facts: Sequence[tuple[str, Any]], *tables: str) -> str:
    """A titled block: one line of ``name: value`` facts, then tables (already HTML).

    >>> html_block("calib.Sample", [("n", 3)])
    '<div class="calib"><strong>calib.Sample</strong> n: 3</div>'
    """
    line = ", ".join(f"{escape(k)}: {escape(str(v))}" for k, v in facts)
    return (f'<div class="calib"><strong>{escape(title)}</strong> {line}'
            + "".join(tables) + "</div>")


def sample_html(sample: Any) -> str:
    """The notebook view of a :class:`calib.Sample`: size, total, ESS and its steps.

    >>> import pandas as pd
    >>> from calib import Sample
    >>> "<table" in sample_html(Sample(pd.DataFrame({"x": [1, 2]})))
    False
    """
    w = sample.weight_array
    ess = kish_ess(w)
    facts = [("n", sample.n), ("total", f"{w.sum():.6g}"), ("Kish ESS", f"{ess:.1f}")]
    if sample.strata or sample.cluster:
        facts.append(("design", f"strata={sample.strata}, cluster={sample.cluster}"))
    steps = sample.history
    if not steps:
        return html_block("calib.Sample (unweighted)", facts)
    rows = [[i + 1, st.method, st.option_text(),
             "yes" if st.converged else "NO", st.iterations, st.n,
             "" if st.ess is None else f"{st.ess:.1f}"] for i, st in enumerate(steps)]
    table = html_table(["step", "method", "options", "converged", "iterations", "n", "ESS"],
                       rows)
    return html_block("calib.Sample", facts, table)


__all__ = ["html_table", "html_block", "sample_html"]
