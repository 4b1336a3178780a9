"""Write the weighting-method capability table into docs/design.md (between its markers).

Usage: ``python tools/registry_table.py`` rewrites the table from
:mod:`calib.weighting.registry`; ``--check`` exits 1 when docs/design.md differs (the test
``tests/test_registry.py::test_design_doc_table_is_the_registry`` checks the same).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from calib.weighting.registry import markdown  # noqa: E402

DOC = ROOT / "docs" / "design.md"
START, END = "<!-- registry-table:start -->\n", "<!-- registry-table:end -->"


def render(text: str) -> str:
    """``text`` with the table between the markers replaced by the registry's."""
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{DOC}: no {START.strip()} ... {END} markers")
    return pattern.sub(lambda _: START + markdown() + END, text)


def main(argv: list[str]) -> int:
    text = DOC.read_text()
    new = render(text)
    if argv[1:] == ["--check"]:
        if new != text:
            print(f"{DOC} differs from the registry; run python tools/registry_table.py")
            return 1
        return 0
    DOC.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
