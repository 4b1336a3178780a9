"""examples/quickstart.ipynb runs top to bottom in a kernel of this Python (under 60 s) and
shows the notebook views: the Sample and Diagnostics tables, the history lines and both plots."""

import json
import sys
import time
from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient", reason="pip install nbclient nbformat ipykernel "
                                                  "(the dev extra)")
import nbformat  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"


@pytest.fixture()
def kernel_here(tmp_path, monkeypatch):
    """A ``python3`` kernel spec that runs *this* interpreter (first on JUPYTER_PATH), with
    the repository first on PYTHONPATH, so the notebook imports the calib under test."""
    spec = tmp_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (calib tests)", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return "python3"


def _outputs(cell) -> dict:
    out: dict = {}
    for o in cell.get("outputs", []):
        if o["output_type"] == "stream":
            out["text/plain"] = out.get("text/plain", "") + o["text"]
        for k, v in o.get("data", {}).items():
            out[k] = out.get(k, "") + (v if isinstance(v, str) else "".join(v))
    return out


def test_quickstart_notebook_runs_and_shows_the_views(kernel_here):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
        "commit the notebook without outputs"
    t0 = time.perf_counter()
    nbclient.NotebookClient(nb, kernel_name=kernel_here, timeout=60,
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    assert time.perf_counter() - t0 < 60
    code = [c for c in nb.cells if c.cell_type == "code"]
    by_source = {c.source.strip().splitlines()[-1]: _outputs(c) for c in code}
    assert "calib.Sample" in by_source["sample"]["text/html"]
    history = by_source["print(sample.history)"]["text/plain"].splitlines()
    assert history[0].startswith("1. rake(") and history[1].startswith("2. trim(")
    assert len(history) == 2
    assert "calib Diagnostics" in by_source["diag"]["text/html"]
    assert "calib Forecast 2016" in by_source["fc"]["text/html"]
    for plot in ("diag.plot()", "fc.plot()"):
        assert "image/png" in by_source[plot], f"{plot} showed no figure"
