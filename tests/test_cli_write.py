"""``write_frame`` (through ``calib.data.output``) writes a large frame to Parquet one row group at a time (issue 19: a lower
peak for ``calib weight``); the file reads back as the frame, dtypes included."""

import numpy as np
import pandas as pd

from calib.cli.commands import _io
from calib.data import output


def test_parquet_written_by_row_groups_reads_back_equal(tmp_path, monkeypatch):
    monkeypatch.setattr(output, "ROW_GROUP", 1000)
    rng = np.random.default_rng(4)
    n = 3500
    text = rng.choice(["a", "b", None], n).astype(object)
    text[:1200] = None  # all missing in the first row group
    frame = pd.DataFrame({
        "cat": pd.Categorical(rng.choice(["x", "y", "z"], n)),
        "s": pd.array(rng.choice(["u", "v"], n), dtype="str"),
        "o": text,
        "i": rng.integers(0, 9, n).astype(np.int8),
        "w": rng.random(n),
    })
    out = tmp_path / "w.parquet"
    _io.write_frame(frame, out)
    back = pd.read_parquet(out)
    pd.testing.assert_frame_equal(back, frame.assign(o=back["o"]))
    assert back["o"].isna().sum() == pd.isna(text).sum()
    assert back["o"].dropna().tolist() == [t for t in text if t is not None]
    import pyarrow.parquet as pq

    assert pq.ParquetFile(out).metadata.num_row_groups == 4
