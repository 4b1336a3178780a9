"""The MRP model specification on cells: terms, their cell indices and the design arrays.

Built from a sample's :class:`~calib.core.cells.CellTable` (:func:`build_spec`) and re-applied to a
poststratification frame (:func:`frame_design`), so the fit and the prediction use the same
coding. A term is one of

* ``group``: a varying intercept over the levels of one variable or of an interaction
  (``"age6:educ5"``: one effect per joint level), sum-to-zero, with its own scale;
* ``fixed``: a categorical fixed effect (treatment coding, first level = reference) or a
  numeric slope on a standardized cell-level column;
* ``domain``: a predictor of a grouping variable's levels (``domain_predictors``), numeric
  (a slope on the standardized value) or categorical (a varying intercept over its levels).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from calib.core.cells import CellTable, encode_column, format_level, missing_mask
from calib.core.errors import DataError
from calib.core.literals import Family
from calib.mrp.sampler import CENTER_MIN


@dataclass(frozen=True)
class Term:
    """One model term.

    Attributes
    ----------
    name : parameter name stem (the variable, or ``"a:b"`` for an interaction).
    kind : ``"group"``, ``"fixed"`` (categorical), ``"numeric"`` or ``"domain_numeric"`` /
        ``"domain_group"`` (predictors of ``key``'s levels).
    variables : the cell variables the term reads (for domain terms: the key variable).
    levels : level labels of the term (group: joint levels ``"a:b"``; fixed: all levels).
    key : the grouping variable a domain term describes.
    center, scale : standardization of numeric values.
    centered : centred parametrization (group terms).
    """

    name: str
    kind: str
    variables: tuple[str, ...]
    levels: tuple[str, ...] = ()
    key: str | None = None
    center: float = 0.0
    scale: float = 1.0
    centered: bool = False


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild the linear predictor on new cells.

    Attributes
    ----------
    outcome, family : the outcome column and ``"binomial"`` or ``"categorical"``.
    outcome_levels : binomial: ``("0", "1")`` (or ``(other, success)``); categorical: all
        levels, the first being the reference category.
    terms : the terms in model order.
    variable_levels : level text per cell variable (the sample's coding).
    domain_table : per domain key, a DataFrame indexed by the key's level text with the
        predictor columns.
    """

    outcome: str
    family: Family
    outcome_levels: tuple[str, ...]
    terms: tuple[Term, ...]
    variable_levels: Mapping[str, tuple[str, ...]]
    domain_table: Mapping[str, pd.DataFrame] = field(default_factory=dict)

    def term(self, name: str) -> Term:
        for t in self.terms:
            if t.name == name:
                return t
        raise DataError(f"the model has no term {name!r}; its terms are "
                        f"{[t.name for t in self.terms]}")

    @property
    def cell_variables(self) -> tuple[str, ...]:
        out: list[str] = []
        for t in self.terms:
            for v in t.variables:
                if v not in out:
                    out.append(v)
        return tuple(out)


def split_interaction(name: str) -> tuple[str, ...]:
    """``"age6:educ5"`` -> ``("age6", "educ5")``."""
    parts = tuple(p.strip() for p in str(name).split(":"))
    if len(parts) < 2 or any(not p for p in parts):
        raise DataError(f"interaction {name!r}: write it as 'var1:var2' with two or more names")
    return parts


def _is_numeric_levels(levels: Sequence[str]) -> bool:
    try:
        [float(x) for x in levels]
    except ValueError:
        return False
    return True


def joint_labels(levels: Sequence[Sequence[str]]) -> tuple[str, ...]:
    """Labels of the joint levels of several variables, C order, joined by ``:``."""
    grids = np.meshgrid(*[np.asarray(lv, dtype=object) for lv in levels], indexing="ij")
    flat = [g.ravel() for g in grids]
    return tuple(":".join(str(x) for x in row) for row in zip(*flat, strict=True))


def domain_table(predictors: pd.DataFrame, key: str) -> pd.DataFrame:
    """Index a domain-predictor frame by the key's level text, checking duplicates/missing."""
    if key not in predictors.columns:
        raise DataError(f"domain_predictors has no column {key!r} (the grouping variable it "
                        "describes); add it, or pass domain_predictors={key: frame} with the "
                        "key that names it")
    keys = predictors[key].map(format_level).astype(str)
    dup = sorted(set(keys[keys.duplicated()]))
    if dup:
        raise DataError(f"domain_predictors: {key} levels {dup} appear more than once; keep "
                        "one row per level")
    tab = predictors.drop(columns=[key]).copy()
    tab.index = pd.Index(keys, name=key)
    for c in tab.columns:
        if tab[c].isna().any():
            bad = list(tab.index[tab[c].isna()])[:10]
            raise DataError(f"domain predictor {c!r} is missing for {key} levels {bad}; fill "
                            "it or drop the column")
    return tab


#: ``domain_predictors`` of :func:`calib.mrp.fit`: a frame with a column naming one group
#: effect (the key), or ``{key: frame}``.
DomainPredictors = pd.DataFrame | Mapping[str, pd.DataFrame]


def build_spec(
    cells: CellTable,
    outcome: str,
    family: Family,
    outcome_levels: tuple[str, ...],
    group_effects: Sequence[str],
    fixed_effects: Sequence[str],
    interactions: Sequence[str],
    predictors: DomainPredictors | None = None,
    *,
    centered: bool | str | Mapping[str, bool] = "auto",
    center_min: float = CENTER_MIN,
) -> ModelSpec:
    """Build the terms from the cell table (see module docstring).

    ``predictors`` is a domain-predictor frame whose key is the one group effect among its
    columns, or ``{key: frame}``; ``centered`` and ``center_min`` are those of
    :class:`calib.mrp.Sampler`.
    """
    lv = cells.levels
    terms = [_fixed_term(cells, v) for v in fixed_effects]
    groups = [(g, (g,)) for g in group_effects] + [(i, split_interaction(i)) for i in interactions]
    for name, vs in groups:
        levels = joint_labels([lv[v] for v in vs])
        idx, _ = cells.joint_index(vs)
        per_level = np.bincount(idx, weights=cells.count, minlength=len(levels))
        per_level = per_level[per_level > 0]  # levels without data are prior-only
        c = _is_centered(centered, name, per_level, center_min)
        terms.append(Term(name, "group", vs, levels, centered=c))
    tables: dict[str, pd.DataFrame] = {}
    if predictors is not None:
        key, frame = _domain_key(predictors, group_effects, cells)
        tables[key], domain_terms = _domain_terms(cells, key, frame, centered)
        terms.extend(domain_terms)
    if not terms:
        raise DataError("the model has no terms; give group_effects (e.g. ['state', 'age6'])")
    names = [t.name for t in terms]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise DataError(f"terms {dup} are given twice (group, fixed or domain predictor); "
                        "name each once")
    return ModelSpec(outcome, family, outcome_levels, tuple(terms),
                     {v: tuple(lv[v]) for v in cells.variables}, tables)


def _fixed_term(cells: CellTable, v: str) -> Term:
    """A numeric slope (more than two numeric levels, standardized) or a categorical effect."""
    levels = cells.levels[v]
    if _is_numeric_levels(levels) and len(levels) > 2:
        x = np.array([float(s) for s in levels])
        vals = x[cells.codes(v)]
        w = cells.count
        mu = float(np.average(vals, weights=w))
        sd = float(np.sqrt(np.average((vals - mu) ** 2, weights=w))) or 1.0
        return Term(v, "numeric", (v,), levels, center=mu, scale=sd)
    if len(levels) < 2:
        raise DataError(f"fixed effect {v!r} has one level {list(levels)} in the data; "
                        "drop it from fixed_effects")
    return Term(v, "fixed", (v,), levels)


def _is_centered(centered: bool | str | Mapping[str, bool], name: str, per_level: np.ndarray,
                 center_min: float) -> bool:
    """The parametrization of one group term (``centered="auto"``: by its smallest level)."""
    if isinstance(centered, Mapping):
        return bool(centered.get(name, per_level.min() >= center_min))
    if centered == "auto":
        return bool(per_level.min() >= center_min)
    if isinstance(centered, bool):
        return centered
    raise DataError(f"centered={centered!r}: use 'auto', True/False or a dict per term")


def _domain_key(predictors: DomainPredictors, group_effects: Sequence[str],
                cells: CellTable) -> tuple[str, pd.DataFrame]:
    """The grouping variable a domain-predictor frame describes, and the frame."""
    if isinstance(predictors, pd.DataFrame):
        cand = [g for g in group_effects if g in predictors.columns]
        if len(cand) != 1:
            raise DataError(
                "domain_predictors must have exactly one column naming a group effect "
                f"(found {cand} among group_effects {list(group_effects)}); pass "
                "domain_predictors={key: frame}"
            )
        key, frame = cand[0], predictors
    else:
        if len(predictors) != 1:
            raise DataError(f"domain_predictors={{key: frame}} takes one key, got "
                            f"{list(predictors)}; fit one grouping variable's predictors")
        ((key, frame),) = predictors.items()
    if key not in cells.variables:
        raise DataError(f"domain_predictors key {key!r} is not a model variable; add it to "
                        "group_effects")
    return key, frame


def _domain_terms(cells: CellTable, key: str, predictors: pd.DataFrame,
                  centered: bool | str | Mapping[str, bool]) -> tuple[pd.DataFrame, list[Term]]:
    """The predictor table of ``key``'s levels and one term per predictor column."""
    lv = cells.levels
    tab = domain_table(predictors, key)
    # levels with data (an unused category, e.g. DC in a 50-state sample, needs no row)
    present = set(cells.to_frame()[key].map(format_level).astype(str))
    used = [x for x in lv[key] if x in present]
    missing = sorted(set(used) - set(tab.index))
    if missing:
        raise DataError(f"domain_predictors lack {key} levels {missing[:10]} that the "
                        "sample has; add rows for them")
    terms = []
    for col in tab.columns:
        s = tab[col]
        if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            vals = s.loc[used].to_numpy(float)
            mu = float(vals.mean())
            sd = float(vals.std()) or 1.0
            terms.append(Term(col, "domain_numeric", (key,), key=key, center=mu, scale=sd))
        else:
            levels = tuple(sorted(set(s.map(format_level).astype(str))))
            c = centered.get(col, False) if isinstance(centered, Mapping) else (
                centered if isinstance(centered, bool) else False)
            terms.append(Term(col, "domain_group", (key,), levels, key=key, centered=c))
    return tab, terms


def code_values(values: pd.Series, variable: str, levels: Sequence[str]) -> np.ndarray:
    """Codes of ``values`` in the model's ``levels``; unseen levels get -1 (no error)."""
    text = values.map(format_level).astype(str) if not isinstance(
        values.dtype, pd.CategoricalDtype) else values.astype(str)
    pos = {lv: i for i, lv in enumerate(levels)}
    codes = text.map(pos)
    return codes.fillna(-1).to_numpy(dtype=np.int64)


def design_arrays(spec: ModelSpec, codes: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per term, what the linear predictor needs on a set of cells.

    ``codes`` holds, per cell variable, the level code of each cell in the model's coding
    (-1 = a level the model has not seen). Returns per term: group -> joint index (-1 where
    any component is unseen); fixed -> code; numeric -> standardized value; domain_numeric ->
    standardized predictor; domain_group -> level index of the predictor.
    """
    out: dict[str, np.ndarray] = {}
    for t in spec.terms:
        if t.kind == "group":
            cs = [codes[v] for v in t.variables]
            shape = tuple(len(spec.variable_levels[v]) for v in t.variables)
            unseen = np.zeros(len(cs[0]), dtype=bool)
            for c in cs:
                unseen |= c < 0
            idx = np.ravel_multi_index(tuple(np.maximum(c, 0) for c in cs), shape)
            out[t.name] = np.where(unseen, -1, idx).astype(np.int64)
        elif t.kind == "fixed":
            out[t.name] = codes[t.variables[0]]
        elif t.kind == "numeric":
            x = np.array([float(s) for s in t.levels])
            out[t.name] = (x[codes[t.variables[0]]] - t.center) / t.scale
        # domain terms are looked up by encode_for_spec
    return out


def encode_for_spec(
    spec: ModelSpec, frame: pd.DataFrame, *, strict_fixed: bool = True
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Codes of the frame's cells in the model's coding and the per-term design arrays.

    Domain terms are looked up in the stored predictor tables by the key's level text (the
    frame may hold key levels the sample lacked, if the table has them).
    """
    need = spec.cell_variables
    absent = [v for v in need if v not in frame.columns]
    if absent:
        raise DataError(
            f"the poststratification frame lacks model variables {absent}; add them, set them "
            "with set={...} (e.g. a persona_type level), or extend the frame with "
            "calib.mrp.extend_frame"
        )
    codes = {v: code_values(frame[v], v, spec.variable_levels[v]) for v in need}
    arrays = design_arrays(spec, codes)
    for t in spec.terms:
        if t.kind == "fixed" and (codes[t.variables[0]] < 0).any():
            bad = sorted(set(frame[t.variables[0]].astype(str)[codes[t.variables[0]] < 0]))
            raise DataError(f"fixed effect {t.name!r}: frame levels {bad[:10]} are not in the "
                            "data; a fixed effect has no prior for new levels - make it a "
                            "group effect or recode the frame")
        if t.kind == "numeric" and (codes[t.variables[0]] < 0).any():
            raise DataError(f"numeric term {t.name!r}: frame values outside the sample's values "
                            f"{list(t.levels)[:10]}; recode them")
        if t.kind.startswith("domain"):
            tab = spec.domain_table[t.key]  # type: ignore[index]
            keys = frame[t.key].map(format_level).astype(str)
            miss = sorted(set(keys) - set(tab.index))
            if miss:
                raise DataError(f"domain predictor {t.name!r} is unknown for {t.key} levels "
                                f"{miss[:10]}; add them to domain_predictors")
            vals = tab[t.name].reindex(keys.to_numpy())
            if t.kind == "domain_numeric":
                arrays[t.name] = (vals.to_numpy(float) - t.center) / t.scale
            else:
                pos = {lv: i for i, lv in enumerate(t.levels)}
                arrays[t.name] = vals.map(format_level).astype(str).map(pos).fillna(-1).to_numpy(
                    np.int64)
    return codes, arrays


def _level_text(values: pd.Series) -> np.ndarray:
    """``format_level`` of every row as a text array, formatting each distinct value once
    (a 1M-row outcome has two or three distinct values; mapping row by row took seconds)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    text = np.array([format_level(u) for u in uniques] + ["nan"], dtype=object)
    return text[codes]  # code -1 (missing) picks the trailing "nan"


def encode_outcome(values: pd.Series, outcome: str, family: Family, success: str | None):
    """Outcome indicator(s) per row: (K, n) 0/1 arrays, levels, and the missing mask.

    >>> ind, levels, miss = encode_outcome(pd.Series([1, 0, None, 1.0]), "y", "binomial", None)
    >>> ind[1].tolist(), levels, miss.tolist()
    ([1.0, 0.0, 0.0, 1.0], ('0', '1'), [False, False, True, False])
    """
    if family == "binomial":
        miss = missing_mask(values)
        text = _level_text(values)
        if success is not None:
            y = text == str(success)
            others = sorted(set(text[~miss]) - {str(success)})
            levels = ("not " + str(success) if len(others) != 1 else others[0], str(success))
            if not y[~miss].any():
                raise DataError(f"outcome {outcome!r}: no row equals success={success!r}; "
                                "give a level that occurs")
        else:
            bad = sorted(set(text[~miss]) - {"0", "1", "True", "False"})
            if bad:
                raise DataError(
                    f"outcome {outcome!r}: binomial family needs 0/1 values, got levels "
                    f"{bad[:10]}; pass success='<level>' or family='categorical'"
                )
            y = np.isin(text, ["1", "True"]) & ~miss
            levels = ("0", "1")
        y = np.asarray(y, dtype=bool)
        return np.vstack([~y, y]).astype(float), levels, miss
    codes, levels, miss = encode_column(values, outcome, None, "drop")
    if len(levels) < 2:
        raise DataError(f"outcome {outcome!r} has one level {list(levels)}; a categorical "
                        "model needs two or more")
    ind = np.zeros((len(levels), len(codes)))
    ok = codes >= 0
    ind[codes[ok], np.flatnonzero(ok)] = 1.0
    return ind, tuple(levels), miss


__all__ = ["Term", "ModelSpec", "DomainPredictors", "build_spec", "encode_for_spec", "joint_labels"]
