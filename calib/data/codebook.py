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

``source`` may also be a list of column names: the first one present in the data is used (files
that spell a column two ways, ``AGE`` or ``Age``). ``when`` (a table or a list of tables with
``column``, ``values`` and ``level``) sets ``level`` for every row whose ``column`` (an input
column or an earlier recode's output) holds one of ``values``, whatever its ``source`` value is;
the first matching rule wins and the other rows are recoded as usual. It states a rule that
depends on two columns, e.g. adults under 25 are outside the ACS education universe::

    [[recode]]
    target = "educ7"
    source = "EDUCATION"
    map = { "Bachelor's degree" = "Bachelor's degree" }
    when = { column = "age_acs", values = ["18-19", "20-24"], level = "Under 25" }

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
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from calib.core.cells import MISSING_TOKENS, format_level
from calib.core.errors import DataError, MissingFileError, UnmappedLevelError
from calib.data.variables import AGE_SCHEMES, LEVELS, collapse_map

_BOOK_KEYS = {"name", "description", "recode"}
_RECODE_KEYS = {
    "target", "source", "map", "bins", "labels", "collapse", "keep", "missing", "default",
    "ignore_case", "parse_number", "optional", "note", "when",
}  # fmt: skip
_WHEN_KEYS = {"column", "values", "level"}
_AGE_SCHEMES = AGE_SCHEMES
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
class When:
    """A row rule of a :class:`Recode` (key ``when``) that sets the level of matching rows.

    Rows whose ``column`` holds one of ``values`` get ``level``; their ``source`` value is not
    looked at.
    """

    column: str
    values: tuple[str, ...]
    level: str

    @property
    def label(self) -> str:
        """How the rule is shown in a mapping report."""
        return f"when {self.column} in [{', '.join(self.values)}]"


@dataclass(frozen=True)
class Recode:
    """One output column of a :class:`Codebook` (see the module docstring for the keys).

    ``alternatives`` are further source columns tried in order when ``source`` is absent;
    ``when`` are row rules applied before the value map (:class:`When`).
    """

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
    alternatives: tuple[str, ...] = ()
    when: tuple[When, ...] = ()

    @property
    def sources(self) -> tuple[str, ...]:
        """``source`` then ``alternatives``: the columns this recode can read, in order."""
        return (self.source, *self.alternatives)

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
            + [w.level for w in self.when]
        )
        return tuple(dict.fromkeys(out))

    def key(self, text: str) -> str:
        """A source text as the value map matches it (case-folded with ``ignore_case``)."""
        return text.casefold() if self.ignore_case else text

    def resolved_map(self) -> dict[str, str]:
        """The value map with keys normalized (case-folded with ``ignore_case``)."""
        if self.collapse:
            base = collapse_map(self.source, self.target)
        elif self.keep:
            base = {lv: lv for lv in LEVELS[self.target]} if self.harmonized else {}
        else:
            base = dict(self.map or {})
        return {self.key(k.strip()): v for k, v in base.items()}


def _bad(book: str, where: str, msg: str) -> DataError:
    return DataError(f"codebook {book!r}, {where}: {msg}")


@dataclass(frozen=True)
class _At:
    """Where a recode is being parsed (for messages) and the levels its target allows."""

    book: str
    where: str
    target: str
    levels: tuple[str, ...] | None

    def bad(self, msg: str) -> DataError:
        return _bad(self.book, self.where, msg)

    def level(self, value: object, what: str) -> str:
        """``value`` checked as an output level: a non-empty string, one of a harmonized
        target's levels."""
        if not isinstance(value, str) or not value.strip():
            raise self.bad(f"{what} {value!r} must be a non-empty string")
        if self.levels is not None and value not in self.levels:
            raise self.bad(
                f"{what} {value!r} is not a level of harmonized variable "
                f"{self.target!r}; use one of {list(self.levels)}"
            )
        return value


def _parse_recode(d: Any, i: int, book: str) -> Recode:
    where = f"recode #{i + 1}"
    if not isinstance(d, Mapping):
        raise _bad(book, where, "each [[recode]] must be a table of keys; fix the TOML")
    if "target" in d:
        where = f"recode #{i + 1} (target {d['target']!r})"
    _check_recode_keys(d, book, where)
    target, source = d["target"], d["source"]
    at = _At(book, where, target, LEVELS.get(target))
    mapping = _parse_map(d, at)
    bins, labels = _parse_bins(d, at)
    if d.get("parse_number") and bins is None:
        raise at.bad("'parse_number' only goes with 'bins'")
    default = _parse_default(d, at, mapping is not None and bins is None)
    missing = d.get("missing", [])
    if not isinstance(missing, list):
        raise at.bad("'missing' must be a list of values")
    if d.get("keep") and d.get("ignore_case") and at.levels is None:
        raise at.bad("'ignore_case' with 'keep' needs a harmonized target")
    if d.get("collapse"):
        _check_collapse(source, at)
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


def _check_recode_keys(d: Mapping, book: str, where: str) -> None:
    """Known keys, a target and a source, one kind (map and bins may combine), booleans."""
    unknown = sorted(set(d) - _RECODE_KEYS)
    if unknown:
        raise _bad(book, where, f"unknown keys {unknown}; allowed: {sorted(_RECODE_KEYS)}")
    for key in ("target", "source"):
        if not isinstance(d.get(key), str) or not d[key].strip():
            raise _bad(book, where, f"{key!r} is required and must be a non-empty string")
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


def _parse_map(d: Mapping, at: _At) -> dict[str, str] | None:
    if "map" not in d:
        return None
    if not isinstance(d["map"], Mapping) or not d["map"]:
        raise at.bad("'map' must be a non-empty table of value = level")
    return {str(k): at.level(v, f"map value for {k!r}") for k, v in d["map"].items()}


def _parse_bins(
    d: Mapping, at: _At
) -> tuple[tuple[float, ...] | None, tuple[str, ...] | None]:
    """``(bins, labels)``: increasing edges and one checked label per bin, or ``(None, None)``."""
    if "bins" not in d:
        if "labels" in d:
            raise at.bad("'labels' only goes with 'bins'")
        return None, None
    raw_bins = d["bins"]
    if (
        not isinstance(raw_bins, list)
        or len(raw_bins) < 2
        or not all(isinstance(b, int | float) and not isinstance(b, bool) for b in raw_bins)
    ):
        raise at.bad("'bins' must be a list of at least 2 numbers (edges)")
    bins = tuple(float(b) for b in raw_bins)
    if any(b >= c for b, c in zip(bins, bins[1:], strict=False)) or any(map(math.isnan, bins)):
        raise at.bad(f"'bins' {list(raw_bins)} must be strictly increasing")
    if not isinstance(d.get("labels"), list):
        raise at.bad("'bins' needs 'labels' (one label per bin, len(bins) - 1)")
    labels = tuple(at.level(x, "label") for x in d["labels"])
    if len(labels) != len(bins) - 1:
        raise at.bad(
            f"{len(labels)} labels for {len(bins) - 1} bins ({len(bins)} edges); "
            "give exactly len(bins) - 1 labels"
        )
    return bins, labels


def _parse_default(d: Mapping, at: _At, map_only: bool) -> str | None:
    default = d.get("default")
    if default is None:
        return None
    if not map_only:
        raise at.bad("'default' only goes with 'map' (without bins)")
    return at.level(default, "default")


def _check_collapse(source: str, at: _At) -> None:
    if source not in LEVELS or at.levels is None:
        raise at.bad(
            f"collapse needs harmonized source and target variables "
            f"({sorted(LEVELS)}); got {source!r} -> {at.target!r}; use 'map' instead"
        )
    try:
        collapse_map(source, at.target)
    except UnmappedLevelError as err:
        raise UnmappedLevelError(
            f"codebook {at.book!r}, {at.where}: {err}", err.unmapped
        ) from None


def _parse_entry(d: Any, i: int, book: str) -> Recode:
    """One ``[[recode]]``: :func:`_parse_recode` plus a list ``source`` and ``when`` rules."""
    if not isinstance(d, Mapping) or ("when" not in d and not isinstance(d.get("source"), list)):
        return _parse_recode(d, i, book)
    where = f"recode #{i + 1}" + (f" (target {d['target']!r})" if "target" in d else "")
    sources = _parse_sources(d.get("source"), book, where)
    base = {k: v for k, v in d.items() if k != "when"}
    base["source"] = sources[0]
    rec = _parse_recode(base, i, book)
    when = _parse_when(d.get("when"), rec, book, where)
    return replace(rec, alternatives=sources[1:], when=when)


def _parse_sources(raw: Any, book: str, where: str) -> tuple[str, ...]:
    """``source`` as a tuple of column names (a string or a non-empty list of strings)."""
    items = raw if isinstance(raw, list) else [raw]
    if not items or not all(isinstance(x, str) and x.strip() for x in items):
        raise _bad(book, where, "'source' must be a column name or a non-empty list of names")
    if len(set(items)) != len(items):
        raise _bad(book, where, f"'source' lists a column twice: {items}")
    return tuple(items)


def _parse_when(raw: Any, rec: Recode, book: str, where: str) -> tuple[When, ...]:
    """The ``when`` rules of a recode (a table or a list of tables)."""
    if raw is None:
        return ()
    rules = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(rules, list) or not rules:
        raise _bad(book, where, "'when' must be a table (column, values, level) or a list of them")
    out = []
    for k, w in enumerate(rules):
        at = f"{where}, when #{k + 1}"
        if not isinstance(w, Mapping) or set(w) != _WHEN_KEYS:
            got = sorted(w) if isinstance(w, Mapping) else w
            raise _bad(book, at, f"give exactly the keys {sorted(_WHEN_KEYS)}; got {got!r}")
        col, values, level = w["column"], w["values"], w["level"]
        if not isinstance(col, str) or not col.strip() or col == rec.target:
            raise _bad(book, at, f"'column' {col!r} must name another column than the target")
        if not isinstance(values, list) or not values:
            raise _bad(book, at, "'values' must be a non-empty list")
        levels = LEVELS.get(rec.target)
        if not isinstance(level, str) or (levels is not None and level not in levels):
            raise _bad(book, at, f"'level' {level!r} is not a level of {rec.target!r}"
                       + (f"; use one of {list(levels)}" if levels else ""))
        out.append(When(col, tuple(format_level(v).strip() for v in values), level))
    return tuple(out)


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
        recodes = tuple(_parse_entry(d, i, name) for i, d in enumerate(raw))
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
            raise MissingFileError(p, "codebook file")
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
            r = by_target[t]
            for src in (*r.sources, *(w.column for w in r.when)):
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
        recodes: list[Recode] = []
        for r in self.recodes:
            src = next((c for c in r.sources if c in available), None)
            if src is not None:
                recodes.append(r if src == r.source else replace(r, source=src))
                absent += [f"{r.target} when {w.column!r}" for w in r.when
                           if w.column not in available]
                available.add(r.target)
            elif r.optional:
                skipped.append(r.target)
            else:
                absent.append(f"{r.target} <- {' or '.join(map(repr, r.sources))}")
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
        for r in recodes:
            values, table, bad = _recode_rows(out, r)
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


def _recode_rows(
    frame: pd.DataFrame, r: Recode
) -> tuple[pd.Series, pd.DataFrame, dict[str, int]]:
    """:func:`_recode_column` on ``frame[r.source]`` after the ``when`` rules of ``r``.

    Rows a rule matches get its level (first rule wins); the others are recoded as usual, so
    their unmapped values are still reported and theirs alone.
    """
    col = frame[r.source]
    if not r.when:
        return _recode_column(col, r)
    rule = np.full(len(frame), -1)
    for k in reversed(range(len(r.when))):
        w = r.when[k]
        text = frame[w.column].astype(object).map(
            lambda v: None if pd.isna(v) else format_level(v).strip())
        rule[text.isin(w.values).to_numpy()] = k
    rest = rule < 0
    values, table, bad = _recode_column(col[rest], r)
    cats = list(values.cat.categories)
    cats += [w.level for w in r.when if w.level not in cats]
    codes = np.full(len(frame), -1, dtype=np.int64)
    codes[rest] = values.cat.codes.to_numpy()
    rows = []
    for k, w in enumerate(r.when):
        hit = rule == k
        codes[hit] = cats.index(w.level)
        if hit.any():
            rows.append({"target": r.target, "source": r.source, "kind": r.kind,
                         "value": w.label, "level": w.level, "rows": int(hit.sum())})
    out = pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(cats)), index=col.index,
                    name=r.target)
    if rows:
        table = pd.concat([pd.DataFrame(rows, columns=table.columns), table], ignore_index=True)
        table["rows"] = table["rows"].astype("int64")
    return out, table, bad


def _recode_column(col: pd.Series, r: Recode) -> tuple[pd.Series, pd.DataFrame, dict[str, int]]:
    """Recode one column. Returns (Categorical Series, mapping table, unmapped counts)."""
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    uniq = list(uniques)
    texts = [format_level(u).strip() for u in uniq]
    keys = [r.key(t) for t in texts]
    mapping = r.resolved_map() if r.kind != "bins" else {}
    explicit_missing = {r.key(m) for m in r.missing}
    is_missing = np.array(
        [
            k in explicit_missing or (k not in mapping and t.lower() in MISSING_TOKENS)
            for t, k in zip(texts, keys, strict=True)
        ],
        dtype=bool,
    )
    levels: list[object] = [None] * len(uniq)
    shown: list[str] = list(texts)
    if r.bins is not None:
        skip = [bool(m) or k in mapping for m, k in zip(is_missing, keys, strict=True)]
        _bin_levels(col, r, uniq, texts, skip, levels, shown)
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
    return values, _mapping_table(r, cats, codes, shown, levels, counts), bad


def _bin_levels(
    col: pd.Series,
    r: Recode,
    uniq: list,
    texts: list[str],
    skip: list[bool],
    levels: list[object],
    shown: list[str],
) -> None:
    """Fill ``levels`` (the bin's label) and ``shown`` (the bin's interval) of each distinct
    value that reads as a number inside the bins; ``skip``: missing or mapped values."""
    num = np.full(len(uniq), np.nan)
    numeric = pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(
        col.dtype
    )
    for i, (u, t) in enumerate(zip(uniq, texts, strict=True)):
        if skip[i]:
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


def _mapping_table(
    r: Recode,
    cats: Sequence[str],
    codes: np.ndarray,
    shown: list[str],
    levels: list[object],
    counts: np.ndarray,
) -> pd.DataFrame:
    """Rows per (shown value, level) of one recode, in level order; NA rows as ``<NA>``."""
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
    return tab.reset_index(drop=True)[["target", "source", "kind", "value", "level", "rows"]]


__all__ = ["Codebook", "CodebookReport", "Recode", "When", "parse_number"]
