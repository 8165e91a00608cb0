"""Rounding, in one place: whole numbers of a unit that still add up to their totals.

The core is :func:`largest_remainder`: for values u_1..u_T (in units) and a whole total n,

    k_t = ⌊u_t⌋ + [rank_t < n − Σ ⌊u_s⌋],   rank by remainder u_t − ⌊u_t⌋, largest first

(ties: the earlier position, or the lower ``key``), so Σ k_t = n and, when 0 ≤ n − Σ⌊u⌋ ≤ T,
every value moves by less than one unit. Everything that rounds a plan uses it:

* the solver (:mod:`allocopt.solve.blocks`): the rounding neighbourhood of the LP optimum
  (:func:`neighbourhood`), the company totals split over independent blocks
  (:func:`split_linked`) and the LP optimum rounded with its totals restored when the deadline
  passes (:func:`round_linked`);
* extraction (:mod:`allocopt.results.extract`): period quotas per rep in whole units, or cents,
  adding up to the annual quota (:func:`apportion`), annual quotas to the unit (:func:`to_unit`);
* explanations (:mod:`allocopt.results.explain`): shown parts that add up to the shown quota
  (:func:`round_to_sum`).

The company targets themselves are rounded to the unit by the model (rule ``target``,
:func:`allocopt.model.sets.company_target`), which the solve stage may not be imported by.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def largest_remainder(
    units: np.ndarray, want: Any, *, eps: float = 1e-9, key: np.ndarray | None = None
) -> np.ndarray:
    """Whole numbers near ``units`` that add up to ``want``, by largest remainder (see the top).

    ``units`` is (T,) with a whole ``want``, or (R, T) with ``want`` (R,) — row by row. Values
    are rounded down at ⌊u + eps⌋. When n − Σ⌊u⌋ is outside [0, T] every value (n too high) or
    none (n too low) is raised, so the sum misses ``want``: callers that need the exact total
    compare it.
    """
    u = np.asarray(units, dtype=float)
    flat = u.ndim == 1
    u2 = u[None, :] if flat else u
    base = np.floor(u2 + eps)
    need = np.asarray(want, dtype=float).reshape(-1) - base.sum(axis=1)
    rem = u2 - base
    if key is None:
        order = np.argsort(-rem, axis=1, kind="stable")
    else:
        order = np.lexsort((np.broadcast_to(key, rem.shape), -rem), axis=-1)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(u2.shape[1])[None, :].repeat(len(u2), 0), axis=1)
    out = base + (rank < need[:, None])
    return np.asarray(out[0] if flat else out)


def to_unit(values: Any, unit: float) -> np.ndarray:
    """Each value rounded to the nearest multiple of ``unit`` (halves to even)."""
    return np.asarray(np.rint(np.asarray(values, dtype=float) / unit) * unit)


def apportion(values: np.ndarray, total: np.ndarray, unit: float) -> np.ndarray:
    """Each row of ``values`` (R, T) in multiples of ``unit``, adding up to ``total`` (R,)
    rounded to the unit (:func:`largest_remainder`)."""
    return largest_remainder(values / unit, np.rint(total / unit)) * unit


def round_to_sum(values: list[float], total: float, decimals: int = 0) -> list[float]:
    """Round ``values`` to ``decimals`` places so that they add up exactly to ``total`` rounded.

    Largest remainder: every value is rounded down to the grid 10^-decimals, then the
    n = round(total) − Σ floor(values) missing grid steps go to the values with the largest
    remainders (ties: the earlier value). When the values add up to ``total``, 0 ≤ n ≤ len(values)
    and no value moves by a full grid step; otherwise n is clipped and the last value absorbs
    the difference.
    """
    if not values:
        return []
    scale = 10.0**decimals
    x = np.asarray(values, dtype=float) * scale
    want = round(total * scale)
    low = largest_remainder(x, want)
    low[-1] += want - int(low.sum())  # only when the values do not add up to the total
    return [float(v) / scale for v in low]


def neighbourhood(
    x: np.ndarray, lo: np.ndarray, hi: np.ndarray, general: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Column bounds with every ``general`` integer between the floor and the ceiling of its
    value in ``x`` (the LP optimum): each quota may round down or up, nothing else."""
    lo, hi = lo.copy(), hi.copy()
    lo[general] = np.maximum(lo[general], np.floor(x[general] + 1e-7))
    hi[general] = np.minimum(hi[general], np.ceil(x[general] - 1e-7))
    return lo, hi


def split_linked(
    ar: Any,
    link_rows: np.ndarray,
    col_block: np.ndarray,
    x: np.ndarray,
    rhs: np.ndarray,
    unit: float,
) -> dict[tuple[int, int], float] | None:
    """Each linking row's right-hand side split over the blocks of its columns, exactly.

    ``ar`` is the CSR matrix, ``col_block`` every column's block. Every block gets its activity
    at ``x`` (the LP optimum) in multiples of ``unit`` by largest remainder (ties: lower block
    number), adding up to the row's right-hand side; None when that cannot hold.
    Returns {(row, block): the block's share}.
    """
    targets: dict[tuple[int, int], float] = {}
    for r in link_rows.tolist():
        cols = ar.indices[ar.indptr[r] : ar.indptr[r + 1]]
        vals = ar.data[ar.indptr[r] : ar.indptr[r + 1]]
        ids, inv = np.unique(col_block[cols], return_inverse=True)
        act = np.bincount(inv, weights=vals * x[cols], minlength=len(ids)) / unit
        want = round(rhs[r] / unit)
        share = largest_remainder(act, want, eps=1e-7, key=ids)
        if share.sum() != want:
            return None
        for b, v in zip(ids.tolist(), (share * unit).tolist(), strict=True):
            targets[(r, b)] = v
    return targets


def round_linked(
    a: Any,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    link_rows: np.ndarray,
    x: np.ndarray,
    general: np.ndarray,
) -> tuple[np.ndarray, int]:
    """General integers of ``x`` rounded; those tied to a linking row by largest remainder.

    A general integer j is tied to link row r through its twin: an equality row
    a_k·x_k + a_j·x_j = 0 of two columns (the rounding row quota = u·quota_units) whose
    continuous column k is in r. When all integers of a row weigh the same w = −a_rk·a_j/a_k
    and r's right-hand side is a multiple of w, their floors are raised by one in order of
    largest remainder (ties: lower column) until the row holds exactly. Every other integer
    is rounded to nearest. ``a`` is the CSR matrix. Returns the rounded values and the number
    of link rows restored.
    """
    z = x.copy()
    z[general] = np.round(x[general])
    if not len(link_rows):
        return z, 0
    lo, up = row_lower, row_upper
    nnz = np.diff(a.indptr)
    twin_of = np.full(a.shape[1], -1, dtype=np.int64)  # continuous column → its integer twin
    weight = np.zeros(a.shape[1])
    pairs = np.flatnonzero((nnz == 2) & (lo == up) & (lo == 0.0))
    c0, c1 = a.indices[a.indptr[pairs]], a.indices[a.indptr[pairs] + 1]
    v0, v1 = a.data[a.indptr[pairs]], a.data[a.indptr[pairs] + 1]
    for ci, cj, vi, vj in ((c0, c1, v0, v1), (c1, c0, v1, v0)):
        sel = general[cj] & ~general[ci]
        twin_of[ci[sel]] = cj[sel]
        weight[ci[sel]] = -vj[sel] / vi[sel]
    restored = 0
    for r in link_rows.tolist():
        cols = a.indices[a.indptr[r] : a.indptr[r + 1]]
        vals = a.data[a.indptr[r] : a.indptr[r + 1]]
        ints = twin_of[cols]
        if len(cols) == 0 or (ints < 0).any() or lo[r] != up[r]:
            continue
        w = vals * weight[cols]
        if not np.allclose(w, w[0], rtol=1e-9, atol=0.0):
            continue
        total = lo[r] / w[0]
        if abs(total - round(total)) > 1e-6:
            continue
        low = largest_remainder(x[ints], round(total), eps=1e-7, key=ints)
        if low.sum() != round(total):
            continue
        z[ints] = low
        restored += 1
    return z, restored
