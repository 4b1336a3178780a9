"""The layers are enforced: import-linter's contracts (pyproject.toml) and no private names.

``lint-imports`` checks the contracts of ``[tool.importlinter]``: every layer imports only the
layers below it (docs/design.md, Layout), no import cycles inside any package, report built on
core and data only, sibling models and commands independent. import-linter follows
function-local imports too, so a deferred import cannot hide an upward edge.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CALIB = ROOT / "calib"


def test_import_contracts_are_kept():
    exe = Path(sys.executable).with_name("lint-imports")
    assert exe.exists(), f"{exe} is missing: install the dev extra (pip install -e '.[dev]')"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([str(exe), "--no-cache"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


def _module(path: Path, top: Path) -> str:
    parts = path.relative_to(top).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def private_imports(root: Path = CALIB) -> list[str]:
    """``from x import _y`` where ``x`` is another module than the importer (``__future__`` aside).

    Relative imports are resolved against the importer, so ``from .ppi import _lin_var`` counts.
    """
    found = []
    for path in sorted(root.rglob("*.py")):
        here = _module(path, root.parent)
        package = here if path.name == "__init__.py" else here.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ImportFrom) or node.module == "__future__":
                continue
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source == here:
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{path.relative_to(root.parent)}:{node.lineno}: from {source} import "
                                 f"{alias.name}")
    return found


def test_no_private_name_is_imported_from_another_module():
    found = private_imports()
    assert not found, "\n".join(found)


def test_the_private_import_scan_finds_one(tmp_path):
    pkg = tmp_path / "calib" / "m"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from __future__ import annotations\nfrom .b import _x, y\n")
    found = private_imports(tmp_path / "calib")
    assert len(found) == 1 and found[0].endswith("from calib.m.b import _x"), found
