"""A vectorised linear model: named variable and row blocks over sparse index sets.

Rules add *blocks* — a named component with an index (parallel text columns, so names are made
only when needed) — and their coefficients as numpy arrays. The model goes to HiGHS as one sparse
matrix with no per-nonzero Python work, and :meth:`LinearModel.to_pyomo` writes the very same
model as a Pyomo ``ConcreteModel`` (same component names and indices) for inspection, export and
the test that keeps the two in step.

Every block is in currency or a count, and every objective term in currency. The solver sees money
in units of the model's ``money_scale`` M (see :meth:`LinearModel.col_scale`): a money column
x = M·x', a money row's bounds and activity ÷ M, the objective ÷ M, counts (integers) unchanged. So
a plan whose money is scaled by k, with M scaled by k too, reaches HiGHS as the very same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

INF = float("inf")
GOLDEN = (5**0.5 - 1) / 2


def tiebreak_weights(n: int) -> np.ndarray:
    """Deterministic tie-break weights in [0.5, 1) for positions 1..n.

    0.5 + frac(k·φ)/2 (φ the golden ratio): all different and, unlike k/n, free of the simple
    linear relations that let a combination of equal-cost moves cancel out exactly, so the
    tie-break really selects one optimum.
    """
    k = np.arange(1, n + 1, dtype=float)
    return 0.5 + 0.5 * np.mod(k * GOLDEN, 1.0)


@dataclass(frozen=True)
class Index:
    """The keys of a block: parallel text columns (one per index position)."""

    columns: tuple[np.ndarray, ...]

    @classmethod
    def of(cls, *columns: Sequence[str] | np.ndarray) -> Index:
        cols = tuple(np.asarray(c, dtype=object) for c in columns)
        if len({len(c) for c in cols}) > 1:
            raise ValueError("index columns differ in length")
        return cls(cols)

    def __len__(self) -> int:
        return len(self.columns[0]) if self.columns else 1

    def key(self, i: int) -> Any:
        """Pyomo-style key: the string for one column, a tuple for several, None for scalars."""
        if not self.columns:
            return None
        if len(self.columns) == 1:
            return str(self.columns[0][i])
        return tuple(str(c[i]) for c in self.columns)

    def label(self, i: int) -> str:
        return ",".join(str(c[i]) for c in self.columns)

    def keys(self) -> list[Any]:
        return [self.key(i) for i in range(len(self))]


@dataclass(frozen=True)
class VarBlock:
    """Columns ``start .. start + len(index)`` of the model."""

    name: str
    index: Index
    start: int
    lb: np.ndarray
    ub: np.ndarray
    integer: bool
    money: bool = True  # in currency (else a count, like every integer)

    def __len__(self) -> int:
        return len(self.index)

    def cols(self, local: np.ndarray | None = None) -> np.ndarray:
        """Global column numbers of the given local positions (all when None)."""
        if local is None:
            return np.arange(self.start, self.start + len(self), dtype=np.int64)
        return self.start + np.asarray(local, dtype=np.int64)

    def values(self, x: np.ndarray) -> np.ndarray:
        return x[self.start : self.start + len(self)]


@dataclass(frozen=True)
class RowBlock:
    """Rows ``start .. start + len(index)`` of the model: lower ≤ A·x ≤ upper."""

    name: str
    index: Index
    start: int
    lower: np.ndarray
    upper: np.ndarray
    money: bool = True  # bounds and activity in currency (else counts)
    linking: bool = False  # ties otherwise independent parts together (see add_rows)

    def __len__(self) -> int:
        return len(self.index)


Terms = Sequence[tuple[np.ndarray, np.ndarray, np.ndarray | float]]
"""(local row, global column, coefficient) triples of a row block."""


@dataclass
class LinearModel:
    """Blocks of variables and rows, an objective made of named terms; minimised.

    ``money_scale`` is the currency amount that is 1 for the solver (the stage builder sets it
    from the plan, e.g. the rounding unit); it changes how HiGHS sees the model, never the model.
    """

    name: str
    money_scale: float = 1.0
    vars: dict[str, VarBlock] = field(default_factory=dict)
    rows: dict[str, RowBlock] = field(default_factory=dict)
    terms: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    _n_cols: int = 0
    _n_rows: int = 0
    _r: list[np.ndarray] = field(default_factory=list)
    _c: list[np.ndarray] = field(default_factory=list)
    _v: list[np.ndarray] = field(default_factory=list)

    @property
    def n_cols(self) -> int:
        return self._n_cols

    @property
    def n_rows(self) -> int:
        return self._n_rows

    def add_vars(
        self,
        name: str,
        index: Index,
        lb: np.ndarray | float = 0.0,
        ub: np.ndarray | float = INF,
        *,
        integer: bool = False,
        money: bool | None = None,
    ) -> VarBlock:
        """Add a variable block (bounds broadcast to the index length).

        ``money``: the variables are in currency; by default continuous ones are and integers
        (unit counts, assignments) are not.
        """
        n = len(index)
        blk = VarBlock(
            name,
            index,
            self._n_cols,
            np.broadcast_to(np.asarray(lb, dtype=float), (n,)).copy(),
            np.broadcast_to(np.asarray(ub, dtype=float), (n,)).copy(),
            integer,
            (not integer) if money is None else money,
        )
        if blk.integer and blk.money:
            raise ValueError(f"integer block {name!r} cannot be in currency (it is not scaled)")
        self._check_new(name)
        self.vars[name] = blk
        self._n_cols += n
        return blk

    def add_rows(
        self,
        name: str,
        index: Index,
        terms: Terms,
        lower: np.ndarray | float = -INF,
        upper: np.ndarray | float = INF,
        *,
        money: bool = True,
        linking: bool = False,
    ) -> RowBlock:
        """Add a row block; ``terms`` give (local row, column, coefficient) arrays.

        ``money``: the rows' bounds are in currency (pass False for counts, e.g. accounts).
        ``linking``: the rows tie otherwise independent parts of the model together (the company
        totals across teams); the rule that creates them says so, and the solver's block
        decomposition takes them from :meth:`linking_rows`, never by name.
        """
        n = len(index)
        for rows, cols, vals in terms:
            rows = np.asarray(rows, dtype=np.int64)
            cols = np.asarray(cols, dtype=np.int64)
            v = np.broadcast_to(np.asarray(vals, dtype=float), rows.shape)
            keep = v != 0
            self._r.append(rows[keep] + self._n_rows)
            self._c.append(cols[keep])
            self._v.append(v[keep].copy())
        blk = RowBlock(
            name,
            index,
            self._n_rows,
            np.broadcast_to(np.asarray(lower, dtype=float), (n,)).copy(),
            np.broadcast_to(np.asarray(upper, dtype=float), (n,)).copy(),
            money,
            linking,
        )
        self._check_new(name)
        self.rows[name] = blk
        self._n_rows += n
        return blk

    def add_cost(self, term: str, cols: np.ndarray, coefs: np.ndarray | float) -> None:
        """Add ``Σ coefs · x[cols]`` to the objective, under the named term."""
        cols = np.asarray(cols, dtype=np.int64)
        c = np.broadcast_to(np.asarray(coefs, dtype=float), cols.shape).copy()
        if term in self.terms:
            oc, ov = self.terms[term]
            cols, c = np.concatenate([oc, cols]), np.concatenate([ov, c])
        self.terms[term] = (cols, c)

    def _check_new(self, name: str) -> None:
        if name in self.vars or name in self.rows:
            raise ValueError(f"component {name!r} added twice")

    # --- assembled forms ---------------------------------------------------------------------

    def matrix(self) -> sp.csc_matrix:
        """The constraint matrix (rows × columns); duplicates are summed."""
        r = np.concatenate(self._r) if self._r else np.zeros(0, dtype=np.int64)
        c = np.concatenate(self._c) if self._c else np.zeros(0, dtype=np.int64)
        v = np.concatenate(self._v) if self._v else np.zeros(0)
        a = sp.coo_matrix((v, (r, c)), shape=(self._n_rows, self._n_cols)).tocsc()
        a.sum_duplicates()
        a.eliminate_zeros()
        return a

    def cost(self) -> np.ndarray:
        c = np.zeros(self._n_cols)
        for cols, vals in self.terms.values():
            np.add.at(c, cols, vals)
        return c

    def bounds(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Column lower, upper bounds and integrality flags, in column order."""
        blocks = list(self.vars.values())
        lb = np.concatenate([b.lb for b in blocks]) if blocks else np.zeros(0)
        ub = np.concatenate([b.ub for b in blocks]) if blocks else np.zeros(0)
        flags = [np.full(len(b), b.integer) for b in blocks]
        integ = np.concatenate(flags) if flags else np.zeros(0, bool)
        return lb, ub, integ.astype(bool)

    def col_scale(self) -> np.ndarray:
        """Per column: ``money_scale`` for money columns, 1 for counts (x = scale · x_solver)."""
        return _scales(list(self.vars.values()), self._n_cols, self.money_scale)

    def row_scale(self) -> np.ndarray:
        """Per row: ``money_scale`` for money rows, 1 for counts (activity = scale · solver's)."""
        return _scales(list(self.rows.values()), self._n_rows, self.money_scale)

    def linking_rows(self) -> np.ndarray:
        """Global numbers of the rows of every ``linking`` block, in row order."""
        parts = [np.arange(b.start, b.start + len(b)) for b in self.rows.values() if b.linking]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    def row_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        blocks = list(self.rows.values())
        if not blocks:
            return np.zeros(0), np.zeros(0)
        return np.concatenate([b.lower for b in blocks]), np.concatenate([b.upper for b in blocks])

    def term_values(self, x: np.ndarray) -> dict[str, float]:
        """Value of each objective term at ``x``."""
        return {k: float(v @ x[c]) for k, (c, v) in self.terms.items()}

    def row_name(self, i: int) -> tuple[str, str]:
        """(component, index label) of global row ``i``."""
        return _owner(list(self.rows.values()), i)

    def col_name(self, j: int) -> tuple[str, str]:
        """(component, index label) of global column ``j``."""
        return _owner(list(self.vars.values()), j)

    def to_pyomo(self) -> Any:
        """The same model as a Pyomo ConcreteModel (component names and indices kept)."""
        import pyomo.environ as pyo

        m = pyo.ConcreteModel(name=self.name)
        pv: list[Any] = [None] * self._n_cols
        for b in self.vars.values():
            keys = b.index.keys()
            dom = pyo.Integers if b.integer else pyo.Reals
            lb = [None if not np.isfinite(x) else float(x) for x in b.lb]
            ub = [None if not np.isfinite(x) else float(x) for x in b.ub]
            bounds = {k: (lo, hi) for k, lo, hi in zip(keys, lb, ub, strict=True)}
            var = pyo.Var(keys, domain=dom, bounds=lambda m, *k, _b=bounds: _b[_k(k)])
            m.add_component(b.name, var)
            for i, k in enumerate(keys):
                pv[b.start + i] = var[k]
        a = self.matrix().tocsr()
        for rb in self.rows.values():
            keys = rb.index.keys()
            exprs: dict[Any, Any] = {}
            for i, k in enumerate(keys):
                row = rb.start + i
                lo_i, hi_i = a.indptr[row], a.indptr[row + 1]
                body = sum(
                    float(v) * pv[j]
                    for j, v in zip(a.indices[lo_i:hi_i], a.data[lo_i:hi_i], strict=True)
                )
                lo = None if not np.isfinite(rb.lower[i]) else float(rb.lower[i])
                hi = None if not np.isfinite(rb.upper[i]) else float(rb.upper[i])
                exprs[k] = (lo, body, hi) if lo != hi else (body == lo)
            con = pyo.Constraint(keys, rule=lambda m, *k, _e=exprs: _e[_k(k)])
            m.add_component(rb.name, con)
        c = self.cost()
        nz = np.flatnonzero(c)
        m.obj = pyo.Objective(expr=sum(float(c[j]) * pv[j] for j in nz), sense=pyo.minimize)
        return m


def _scales(blocks: list[Any], n: int, scale: float) -> np.ndarray:
    out = np.ones(n)
    for b in blocks:
        if b.money:
            out[b.start : b.start + len(b)] = scale
    return out


def _k(k: tuple[Any, ...]) -> Any:
    return k[0] if len(k) == 1 else k


def _owner(blocks: list[Any], i: int) -> tuple[str, str]:
    starts = np.array([b.start for b in blocks])
    k = int(np.searchsorted(starts, i, side="right")) - 1
    b = blocks[k]
    return b.name, b.index.label(i - b.start)
