"""Recode persona and survey attributes onto the harmonized levels of :mod:`calib.data.variables`.

A :class:`Codebook` is a list of recodes, each producing one output column (``target``) from
one input column (``source``): a value map, numeric bins (right-open ``[a, b)``), a collapse
of a finer harmonized scheme onto a coarser one, or a checked pass-through. Codebooks are TOML
files (``Codebook.from_file``) or dicts (``Codebook.from_dict``); the built-in ones live in
``calib/data/codebooks/<name>.toml`` (``Codebook.builtin(name)``).

TOML format::

    name = "mybook"
    description = "..."
    [[recode]]
    target = "age6"                 # harmonized name -> Categorical in LEVELS order
    source = "Age"
    bins = [18, 30, 40, 50, 60, 70, 200]
    labels = ["18-29", "30-39", "40-49", "50-59", "60-69", "70+"]
    missing = ["-9", "Refused"]     # sent to NA (NA, "" and cells.MISSING_TOKENS always are)
    [[recode]]
    target = "sex"
    source = "Gender"
    map = { "Male" = "Male", "Female" = "Female", "1" = "Male" }
    ignore_case = true
    [[recode]]
    target = "race4"
    source = "race7"                # a column produced by an earlier recode
    collapse = true

Keys of a recode: ``target``, ``source`` (required); exactly one of ``map``, ``bins`` (with
``labels``), ``collapse = true`` or ``keep = true`` -- except that ``map`` and ``bins`` may be
combined (text keys first, numbers binned after: "30-34" and 32 both reach ``age10``);
optional ``missing`` (list of values sent to NA), ``default`` (level for every unlisted
value, with ``map`` only), ``ignore_case``, ``parse_number`` (read ``"$45,000"``, ``"45k"``,
``"32 years"`` as numbers for ``bins``), ``optional`` (skip the recode when its source column
is absent) and ``note``.

Values are matched as text (:func:`calib.core.cells.format_level`, surrounding white space
stripped), so ``1``, ``1.0`` and ``"1"`` all match the key ``"1"``. A value that is a missing
token (``"None"``, ``"Refused"``, ...) but is listed as a ``map`` key is mapped, not missing.
Every value not covered raises :class:`~calib.core.errors.UnmappedLevelError` listing each value
with its row count, for all recodes at once; nothing becomes NA silently.

Examples
--------
>>> import pandas as pd
>>> book = Codebook.from_dict({"name": "demo", "recode": [
...     {"target": "sex", "source": "g", "map": {"m": "Male", "f": "Female"},
...      "ignore_case": True},
...     {"target": "age4", "source": "age", "bins": [18, 30, 45, 65, 200],
...      "labels": ["18-29", "30-44", "45-64", "65+"]}]})
>>> out, report = book.apply(pd.DataFrame({"g": ["M", "f", "F"], "age": [22, 70, None]}))
>>> out["sex"].tolist(), out["age4"].tolist()
(['Male', 'Female', 'Female'], ['18-29', '65+', nan])
>>> report.missing
{'sex': 0, 'age4': 1}
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from calib.core.cells import MISSING_TOKENS, format_level
from calib.core.errors import DataError, UnmappedLevelError
from calib.data.variables import LEVELS, collapse_map

_BOOK_KEYS = {"name", "description", "recode"}
_RECODE_KEYS = {
    "target", "source", "map", "bins", "labels", "collapse", "keep", "missing", "default",
    "ignore_case", "parse_number", "optional", "note",
}  # fmt: skip
_AGE_SCHEMES = ("age4", "age6", "age10")
#: Most unmapped values listed per recode in an error message (all are in ``err.unmapped``).
MAX_LISTED = 200

_NUMBER = re.compile(
    r"^\$?\s*(?P<num>[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)\s*(?P<k>[kK])?\s*"
    r"(?:usd|dollars?|per year|a year|annually|/\s*y(?:ea)?r|years?(?: old)?|yrs?(?: old)?)?"
    r"\s*\.?$",
    re.IGNORECASE,
)


def parse_number(text: str) -> float:
    """Read a number written as text: ``"$45,000"``, ``"45k"``, ``"32 years old"``.

    Anything else (ranges such as ``"$40,000-$50,000"``, words) gives NaN, so a recode lists it
    as unmapped instead of guessing.

    >>> parse_number("$45,000 annually"), parse_number("45k"), parse_number("32 years old")
    (45000.0, 45000.0, 32.0)
    >>> parse_number("$40,000-$50,000")
    nan
    """
    m = _NUMBER.match(text.strip())
    if m is None:
        return math.nan
    val = float(m.group("num").replace(",", ""))
    return val * 1000.0 if m.group("k") else val


def _age_span(label: str) -> tuple[float, float]:
    """Half-open [lo, hi) years covered by an age band label."""
    if label.endswith("+"):
        return float(label[:-1]), math.inf
    a, b = label.split("-")
    return float(a), float(b) + 1.0


@dataclass(frozen=True)
class Recode:
    """One output column of a :class:`Codebook` (see the module docstring for the keys)."""

    target: str
    source: str
    map: Mapping[str, str] | None = None
    bins: tuple[float, ...] | None = None
    labels: tuple[str, ...] | None = None
    collapse: bool = False
    keep: bool = False
    missing: tuple[str, ...] = ()
    default: str | None = None
    ignore_case: bool = False
    parse_number: bool = False
    optional: bool = False
    note: str = ""

    @property
    def kind(self) -> str:
        """``"map"``, ``"bins"``, ``"map+bins"``, ``"collapse"`` or ``"keep"``."""
        if self.collapse:
            return "collapse"
        if self.keep:
            return "keep"
        if self.map is not None and self.bins is not None:
            return "map+bins"
        return "map" if self.map is not None else "bins"

    @property
    def harmonized(self) -> bool:
        """Whether the target is a harmonized variable of :data:`calib.data.variables.LEVELS`."""
        return self.target in LEVELS

    @property
    def categories(self) -> tuple[str, ...] | None:
        """Output levels in order (None for ``keep`` on a non-harmonized target: as observed)."""
        if self.harmonized:
            return LEVELS[self.target]
        if self.keep:
            return None
        if self.collapse:  # pragma: no cover - collapse targets are harmonized
            return tuple(dict.fromkeys(collapse_map(self.source, self.target).values()))
        out = (
            list((self.map or {}).values())
            + list(self.labels or ())
            + ([self.default] if self.default is not None else [])
        )
        return tuple(dict.fromkeys(out))

    def _key(self, text: str) -> str:
        return text.casefold() if self.ignore_case else text

    def resolved_map(self) -> dict[str, str]:
        """The value map with keys normalized (case-folded with ``ignore_case``)."""
        if self.collapse:
            base = collapse_map(self.source, self.target)
        elif self.keep:
            base = {lv: lv for lv in LEVELS[self.target]} if self.harmonized else {}
        else:
            base = dict(self.map or {})
        return {self._key(k.strip()): v for k, v in base.items()}


def _bad(book: str, where: str, msg: str) -> DataError:
    return DataError(f"codebook {book!r}, {where}: {msg}")


def _parse_recode(d: Any, i: int, book: str) -> Recode:
    where = f"recode #{i + 1}"
    if not isinstance(d, Mapping):
        raise _bad(book, where, "each [[recode]] must be a table of keys; fix the TOML")
    if "target" in d:
        where = f"recode #{i + 1} (target {d['target']!r})"
    unknown = sorted(set(d) - _RECODE_KEYS)
    if unknown:
        raise _bad(book, where, f"unknown keys {unknown}; allowed: {sorted(_RECODE_KEYS)}")
    for key in ("target", "source"):
        if not isinstance(d.get(key), str) or not d[key].strip():
            raise _bad(book, where, f"{key!r} is required and must be a non-empty string")
    target, source = d["target"], d["source"]
    kinds = [k for k in ("map", "bins", "collapse", "keep") if d.get(k) not in (None, False)]
    if not kinds or (len(kinds) > 1 and set(kinds) != {"map", "bins"}):
        raise _bad(
            book,
            where,
            f"give exactly one of map, bins (+labels), collapse = true, keep = true "
            f"(map and bins may be combined); got {kinds or 'none'}",
        )
    for key in ("collapse", "keep", "ignore_case", "parse_number", "optional"):
        if key in d and not isinstance(d[key], bool):
            raise _bad(book, where, f"{key!r} must be true or false, got {d[key]!r}")
    levels = LEVELS.get(target)

    def check_level(value: object, what: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise _bad(book, where, f"{what} {value!r} must be a non-empty string")
        if levels is not None and value not in levels:
            raise _bad(
                book,
                where,
                f"{what} {value!r} is not a level of harmonized variable "
                f"{target!r}; use one of {list(levels)}",
            )
        return value

    mapping = None
    if "map" in d:
        if not isinstance(d["map"], Mapping) or not d["map"]:
            raise _bad(book, where, "'map' must be a non-empty table of value = level")
        mapping = {str(k): check_level(v, f"map value for {k!r}") for k, v in d["map"].items()}
    bins = labels = None
    if "bins" in d:
        raw_bins = d["bins"]
        if (
            not isinstance(raw_bins, list)
            or len(raw_bins) < 2
            or not all(isinstance(b, int | float) and not isinstance(b, bool) for b in raw_bins)
        ):
            raise _bad(book, where, "'bins' must be a list of at least 2 numbers (edges)")
        bins = tuple(float(b) for b in raw_bins)
        if any(b >= c for b, c in zip(bins, bins[1:], strict=False)) or any(map(math.isnan, bins)):
            raise _bad(book, where, f"'bins' {list(raw_bins)} must be strictly increasing")
        if not isinstance(d.get("labels"), list):
            raise _bad(book, where, "'bins' needs 'labels' (one label per bin, len(bins) - 1)")
        labels = tuple(check_level(x, "label") for x in d["labels"])
        if len(labels) != len(bins) - 1:
            raise _bad(
                book,
                where,
                f"{len(labels)} labels for {len(bins) - 1} bins ({len(bins)} edges); "
                "give exactly len(bins) - 1 labels",
            )
    elif "labels" in d:
        raise _bad(book, where, "'labels' only goes with 'bins'")
    if d.get("parse_number") and bins is None:
        raise _bad(book, where, "'parse_number' only goes with 'bins'")
    default = d.get("default")
    if default is not None:
        if mapping is None or bins is not None:
            raise _bad(book, where, "'default' only goes with 'map' (without bins)")
        default = check_level(default, "default")
    missing = d.get("missing", [])
    if not isinstance(missing, list):
        raise _bad(book, where, "'missing' must be a list of values")
    if d.get("keep") and d.get("ignore_case") and levels is None:
        raise _bad(book, where, "'ignore_case' with 'keep' needs a harmonized target")
    if d.get("collapse"):
        if source not in LEVELS or levels is None:
            raise _bad(
                book,
                where,
                f"collapse needs harmonized source and target variables "
                f"({sorted(LEVELS)}); got {source!r} -> {target!r}; use 'map' instead",
            )
        try:
            collapse_map(source, target)
        except UnmappedLevelError as err:
            raise UnmappedLevelError(f"codebook {book!r}, {where}: {err}", err.unmapped) from None
    rec = Recode(
        target=target, source=source, map=mapping, bins=bins, labels=labels,
        collapse=bool(d.get("collapse", False)), keep=bool(d.get("keep", False)),
        missing=tuple(format_level(m).strip() for m in missing), default=default,
        ignore_case=bool(d.get("ignore_case", False)),
        parse_number=bool(d.get("parse_number", False)),
        optional=bool(d.get("optional", False)), note=str(d.get("note", "")),
    )  # fmt: skip
    _check_bands(rec, book, where)
    return rec


def _check_bands(rec: Recode, book: str, where: str) -> None:
    """Refuse age recodes that would split a band of the harmonized target."""
    if rec.target not in _AGE_SCHEMES:
        return
    fits = ", ".join(s for s in _AGE_SCHEMES)
    if rec.bins is not None and rec.labels is not None:
        for a, b, lab in zip(rec.bins, rec.bins[1:], rec.labels, strict=False):
            lo, hi = _age_span(lab)
            if a < lo or b > hi:
                raise UnmappedLevelError(
                    f"codebook {book!r}, {where}: bin [{format_level(a)}, {format_level(b)}) "
                    f"is labelled {lab!r} but {rec.target!r} band {lab!r} covers "
                    f"[{format_level(lo)}, {format_level(hi)}); fix the bins so each lies in "
                    f"its band (age schemes: {fits})",
                    {rec.target: [lab]},
                )
    if rec.map is not None and rec.source in _AGE_SCHEMES:
        for k, v in rec.map.items():
            if k in LEVELS[rec.source]:
                lo, hi = _age_span(k)
                tlo, thi = _age_span(v)
                if lo < tlo or hi > thi:
                    nest = [
                        s for s in _AGE_SCHEMES
                        if s != rec.source and _nests(rec.source, s)
                    ]  # fmt: skip
                    raise UnmappedLevelError(
                        f"codebook {book!r}, {where}: {rec.source!r} band {k!r} would be split "
                        f"across {rec.target!r} bands (mapped to {v!r}). {rec.source!r} nests "
                        f"in {nest or 'no other scheme'}; recode {rec.target!r} from single-year "
                        "age instead",
                        {rec.source: [k]},
                    )


def _nests(finer: str, coarser: str) -> bool:
    try:
        collapse_map(finer, coarser)
    except UnmappedLevelError:
        return False
    return True


@dataclass(frozen=True)
class CodebookReport:
    """What :meth:`Codebook.apply` did: rows per (source value -> target level), NA counts.

    Attributes
    ----------
    name : codebook name.
    n_rows : rows recoded.
    mappings : DataFrame with columns ``target, source, kind, value, level, rows``; ``level`` is
        NA for values sent to missing. For bins, ``value`` is the interval ``[a, b)``.
    missing : NA count per target after recoding.
    skipped : optional recodes skipped because their source column was absent.
    """

    name: str
    n_rows: int
    mappings: pd.DataFrame
    missing: dict[str, int]
    skipped: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """The mapping table (one row per source value and target level)."""
        return self.mappings.copy()

    def summary(self) -> pd.DataFrame:
        """One row per target: source, kind, rows, missing, levels produced."""
        rows = []
        for (target, source, kind), grp in self.mappings.groupby(
            ["target", "source", "kind"], sort=False, dropna=False
        ):
            rows.append({
                "target": target, "source": source, "kind": kind, "rows": self.n_rows,
                "missing": self.missing.get(str(target), 0),
                "levels": int(grp["level"].dropna().nunique()),
            })  # fmt: skip
        return pd.DataFrame(rows)

    def __str__(self) -> str:
        lines = [f"codebook {self.name!r}: {self.n_rows} rows"]
        for (target, source, kind), grp in self.mappings.groupby(
            ["target", "source", "kind"], sort=False, dropna=False
        ):
            lines.append(f"  {target} <- {source} ({kind}): {self.missing.get(str(target), 0)} missing")
            for _, r in grp.iterrows():
                lvl = "NA" if pd.isna(r["level"]) else r["level"]
                lines.append(f"      {r['value']!s:>24} -> {lvl}: {int(r['rows'])}")
        for s in self.skipped:
            lines.append(f"  {s}: skipped (optional, source column absent)")
        return "\n".join(lines)


@dataclass(frozen=True)
class Codebook:
    """A named list of :class:`Recode` steps, applied in order.

    Examples
    --------
    >>> book = Codebook.builtin("personas")
    >>> [r.target for r in book.recodes][:4]
    ['age10', 'age4', 'sex', 'race7']
    >>> "personas" in Codebook.builtin_names()
    True
    """

    name: str
    recodes: tuple[Recode, ...]
    description: str = ""
    path: str | None = field(default=None, compare=False)

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], *, path: str | None = None) -> Codebook:
        """Build and validate a codebook from a dict shaped like the TOML file."""
        if not isinstance(spec, Mapping):
            raise DataError("a codebook must be a table (dict) with name, description, recode")
        name = spec.get("name", Path(path).stem if path else "codebook")
        if not isinstance(name, str) or not name:
            raise DataError(f"codebook name must be a non-empty string, got {name!r}")
        unknown = sorted(set(spec) - _BOOK_KEYS)
        if unknown:
            raise DataError(
                f"codebook {name!r}: unknown top-level keys {unknown}; allowed: "
                f"{sorted(_BOOK_KEYS)} (recodes go under [[recode]])"
            )
        raw = spec.get("recode")
        if not isinstance(raw, list) or not raw:
            raise DataError(f"codebook {name!r}: no [[recode]] entries; add at least one")
        recodes = tuple(_parse_recode(d, i, name) for i, d in enumerate(raw))
        seen: set[str] = set()
        for r in recodes:
            if r.target in seen:
                raise DataError(
                    f"codebook {name!r}: target {r.target!r} is produced twice; give each "
                    "output column one recode"
                )
            seen.add(r.target)
        return cls(name, recodes, str(spec.get("description", "")), path)

    @classmethod
    def from_file(cls, path: str | Path) -> Codebook:
        """Read a TOML codebook file."""
        p = Path(path)
        if not p.is_file():
            raise DataError(f"codebook file {str(p)!r} does not exist; check the path")
        try:
            spec = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise DataError(f"codebook file {str(p)!r} is not valid TOML: {err}") from None
        return cls.from_dict(spec, path=str(p))

    @classmethod
    def from_toml(cls, text: str) -> Codebook:
        """Parse a codebook from TOML text.

        >>> Codebook.from_toml('[[recode]]\\ntarget = "ideo3"\\nsource = "ideo5"\\n'
        ...                    'collapse = true').recodes[0].kind
        'collapse'
        """
        try:
            spec = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise DataError(f"codebook text is not valid TOML: {err}") from None
        return cls.from_dict(spec)

    @staticmethod
    def builtin_names() -> list[str]:
        """Names of the codebooks shipped in ``calib/data/codebooks/``."""
        node = resources.files("calib.data.codebooks")
        return sorted(p.name[:-5] for p in node.iterdir() if p.name.endswith(".toml"))

    @classmethod
    def builtin(cls, name: str) -> Codebook:
        """A codebook shipped with calib (``calib/data/codebooks/<name>.toml``)."""
        node = resources.files("calib.data.codebooks") / f"{name}.toml"
        if not node.is_file():
            raise DataError(
                f"no built-in codebook {name!r}; available: {cls.builtin_names()}. "
                "Use Codebook.from_file(path) for your own"
            )
        try:
            spec = tomllib.loads(node.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise DataError(f"built-in codebook {name!r} is not valid TOML: {err}") from None
        return cls.from_dict(spec, path=f"calib/data/codebooks/{name}.toml")

    @property
    def targets(self) -> tuple[str, ...]:
        """Output column names, in order."""
        return tuple(r.target for r in self.recodes)

    def select(self, targets: Sequence[str]) -> Codebook:
        """A codebook with only the recodes producing ``targets`` and those they depend on."""
        by_target = {r.target: r for r in self.recodes}
        missing = [t for t in targets if t not in by_target]
        if missing:
            raise DataError(
                f"codebook {self.name!r} has no recode for {missing}; it produces {self.targets}"
            )
        need: set[str] = set()
        stack = list(targets)
        while stack:
            t = stack.pop()
            if t in need:
                continue
            need.add(t)
            src = by_target[t].source
            if src in by_target and src != t:
                stack.append(src)
        keep = tuple(r for r in self.recodes if r.target in need)
        return Codebook(self.name, keep, self.description, self.path)

    # ------------------------------------------------------------------ applying
    def apply(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, CodebookReport]:
        """Recode ``frame``: the input columns plus one Categorical column per target.

        Raises
        ------
        DataError
            a (non-optional) source column is absent (all such columns listed).
        UnmappedLevelError
            values not covered by their recode, every one listed with its row count for all
            recodes at once (``err.unmapped``: {target: {value: rows}}).
        """
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"codebook {self.name!r}: apply needs a pandas DataFrame")
        out = frame.copy()
        available = set(frame.columns)
        absent: list[str] = []
        skipped: list[str] = []
        for r in self.recodes:
            if r.source in available:
                available.add(r.target)
            elif r.optional:
                skipped.append(r.target)
            else:
                absent.append(f"{r.target} <- {r.source!r}")
        if absent:
            raise DataError(
                f"codebook {self.name!r}: source columns absent from the data: "
                f"{'; '.join(absent)} (columns: {list(frame.columns)}). Rename the columns, "
                "mark the recode optional = true, or use Codebook.select(...)"
            )
        recs_by_target = {r.target: r for r in self.recodes}
        tables: list[pd.DataFrame] = []
        unmapped: dict[str, dict[str, int]] = {}
        missing: dict[str, int] = {}
        for r in self.recodes:
            if r.target in skipped:
                continue
            values, table, bad = _recode_column(out[r.source], r)
            out[r.target] = values
            missing[r.target] = int(values.isna().sum())
            tables.append(table)
            if bad:
                unmapped[r.target] = bad
        if unmapped:
            raise UnmappedLevelError(_unmapped_message(self, unmapped), unmapped)
        cols = ["target", "source", "kind", "value", "level", "rows"]
        mappings = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=cols)
        report = CodebookReport(
            self.name,
            len(frame),
            mappings,
            missing,
            tuple(f"{t} <- {recs_by_target[t].source}" for t in skipped),
        )
        return out, report

    def __repr__(self) -> str:
        return f"Codebook({self.name!r}, targets={list(self.targets)})"


def _unmapped_message(book: Codebook, unmapped: dict[str, dict[str, int]]) -> str:
    recs = {r.target: r for r in book.recodes}
    lines = [
        f"codebook {book.name!r}: values with no mapping in {len(unmapped)} recode(s); "
        "nothing was recoded:"
    ]
    for target, vals in unmapped.items():
        r = recs[target]
        items = sorted(vals.items(), key=lambda kv: (-kv[1], kv[0]))
        shown = ", ".join(f"{v!r} ({n} row{'s' if n != 1 else ''})" for v, n in items[:MAX_LISTED])
        more = f" ... and {len(items) - MAX_LISTED} more values" if len(items) > MAX_LISTED else ""
        extra = ""
        if r.bins is not None:
            extra = (
                f" [bins [{format_level(r.bins[0])}, {format_level(r.bins[-1])}); "
                "non-numbers and values outside the bins are unmapped]"
            )
        lines.append(f"  {target} <- {r.source!r} ({r.kind}){extra}: {shown}{more}")
    lines.append(
        "Fix: add each value to its recode's map (or widen bins), list it under 'missing' to "
        "send it to NA, or set 'default'. All values and counts are in err.unmapped."
    )
    return "\n".join(lines)


_UNMAPPED = "\x00unmapped"


def _recode_column(col: pd.Series, r: Recode) -> tuple[pd.Series, pd.DataFrame, dict[str, int]]:
    """Recode one column. Returns (Categorical Series, mapping table, unmapped counts)."""
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    uniq = list(uniques)
    texts = [format_level(u).strip() for u in uniq]
    keys = [r._key(t) for t in texts]
    mapping = r.resolved_map() if r.kind != "bins" else {}
    explicit_missing = {r._key(m) for m in r.missing}
    is_missing = np.array(
        [
            k in explicit_missing or (k not in mapping and t.lower() in MISSING_TOKENS)
            for t, k in zip(texts, keys, strict=True)
        ],
        dtype=bool,
    )
    levels: list[object] = [None] * len(uniq)
    shown: list[str] = list(texts)
    num = None
    if r.bins is not None:
        num = np.full(len(uniq), np.nan)
        numeric = pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(
            col.dtype
        )
        for i, (u, t) in enumerate(zip(uniq, texts, strict=True)):
            if is_missing[i] or keys[i] in mapping:
                continue
            if numeric:
                num[i] = float(u)
            elif r.parse_number:
                num[i] = parse_number(t)
            else:
                try:
                    num[i] = float(t)
                except ValueError:
                    num[i] = np.nan
        edges = np.asarray(r.bins)
        idx = np.searchsorted(edges, num, side="right") - 1
        assert r.labels is not None
        for i in range(len(uniq)):
            if np.isfinite(num[i]) and 0 <= idx[i] < len(r.labels):
                levels[i] = r.labels[idx[i]]
                shown[i] = f"[{format_level(edges[idx[i]])}, {format_level(edges[idx[i] + 1])})"
    for i, k in enumerate(keys):
        if is_missing[i] or levels[i] is not None:
            continue
        if k in mapping:
            levels[i] = mapping[k]
        elif r.keep and not r.harmonized:
            levels[i] = texts[i]
        elif r.default is not None:
            levels[i] = r.default
        else:
            levels[i] = _UNMAPPED
    counts = np.bincount(codes[codes >= 0], minlength=len(uniq))
    bad = {texts[i]: int(counts[i]) for i in range(len(uniq)) if levels[i] is _UNMAPPED}
    lv = np.array(
        [None if (x is None or x is _UNMAPPED) else x for x in levels] + [None], dtype=object
    )
    row_levels = lv[np.where(codes >= 0, codes, len(uniq))]
    cats = r.categories
    if cats is None:
        cats = tuple(sorted({x for x in lv if x is not None}))
    values = pd.Series(
        pd.Categorical(row_levels, categories=list(cats)), index=col.index, name=r.target
    )
    # mapping table: group by (shown value, level)
    tab = pd.DataFrame(
        {"value": shown, "level": [x if x is not _UNMAPPED else None for x in levels],
         "rows": counts}
    )  # fmt: skip
    tab = tab[~pd.Series([x is _UNMAPPED for x in levels], dtype=bool).to_numpy()]
    n_na = int((codes < 0).sum())
    if n_na:
        tab = pd.concat(
            [tab, pd.DataFrame({"value": ["<NA>"], "level": [None], "rows": [n_na]})],
            ignore_index=True,
        )
    # as_index=False keeps value and level as columns: a DataFrame (pandas-stubs say Series)
    tab = cast(pd.DataFrame, tab.groupby(["value", "level"], dropna=False, sort=False,
                                         as_index=False)["rows"].sum())
    order = {c: i for i, c in enumerate(cats)}
    tab["_o"] = [
        order.get(x, len(order)) if isinstance(x, str) else len(order) + 1 for x in tab["level"]
    ]
    tab = tab.sort_values(["_o", "value"], kind="stable").drop(columns="_o")
    tab.insert(0, "kind", r.kind)
    tab.insert(0, "source", r.source)
    tab.insert(0, "target", r.target)
    tab["rows"] = tab["rows"].astype("int64")
    return (
        values,
        tab.reset_index(drop=True)[["target", "source", "kind", "value", "level", "rows"]],
        bad,
    )


__all__ = ["Codebook", "CodebookReport", "Recode", "parse_number"]
