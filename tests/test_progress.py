"""Progress bars: drawn on stderr only when asked (or when stderr is a terminal), and they do
not change results."""

import numpy as np
import pandas as pd

from calib import Sample, Targets
from calib.core.progress import progress_bar, show


def test_show_follows_the_terminal(monkeypatch):
    class Tty:
        def isatty(self):
            return True

    assert show(True) and not show(False)
    monkeypatch.setattr("sys.stderr", Tty())
    assert show(None)


def test_bar_counts_and_replicates_unchanged(capsys):
    seen = []
    with progress_bar(4, "things", True) as advance:
        for _ in range(4):
            advance()
            seen.append(1)
    assert len(seen) == 4
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"sex": rng.choice(["F", "M"], 300), "y": rng.normal(size=300)})
    t = Targets.from_frame(pd.DataFrame({"variable": ["sex", "sex"], "level": ["F", "M"],
                                         "share": [0.5, 0.5]}), population=1000.0)
    s = Sample(df).rake(t)
    a = s.estimate("y", variance="bootstrap", replicates=30, seed=1, progress=True)
    b = s.estimate("y", variance="bootstrap", replicates=30, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert capsys.readouterr().out == ""  # never on stdout
