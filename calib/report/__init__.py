"""Self-contained HTML report: weights, margins, state map, electoral votes, methods, MRP.

Build a :class:`ReportData` (every part optional) and :func:`render` it to one HTML file with
inline figures and styles (no network). See docs/report.md.

Examples
--------
>>> import tempfile, pathlib
>>> import pandas as pd
>>> from calib.report import ReportData, render
>>> methods = pd.DataFrame({"method": ["raw", "rake"], "rmse": [0.08, 0.03]})
>>> path = render(ReportData(title="Demo", methods=methods),
...               pathlib.Path(tempfile.mkdtemp()) / "report.html")
>>> 'id="tbl-methods"' in path.read_text()
True
"""

from calib.report.data import ReportData
from calib.report.parts import ev_variance_text, from_forecast
from calib.report.render import default_provenance, render, render_html

__all__ = ["ReportData", "render", "render_html", "from_forecast", "ev_variance_text",
           "default_provenance"]
