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
import scipy.sparse as sp


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
    """Round ``values`` to ``decimals`` places so that they add up exactly to the shown total,
    ``round(total, decimals)`` (decimal rounding of the float: 0.15 → 0.1).

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
    want = round(round(total, decimals) * scale)  # the shown total: 0.15 → 0.1, not 1.5 → 2
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
    z, groups = _round_groups(a, row_lower, row_upper, link_rows, x, general)
    return z, len(groups)


def _twins(
    a: Any, row_lower: np.ndarray, row_upper: np.ndarray, general: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Every continuous column's integer twin (−1 none) and its weight: an equality row
    a_k·x_k + a_j·x_j = 0 of two columns gives x_k = −a_j/a_k · x_j (quota = u·quota_units)."""
    lo, up = row_lower, row_upper
    nnz = np.diff(a.indptr)
    twin_of = np.full(a.shape[1], -1, dtype=np.int64)
    weight = np.zeros(a.shape[1])
    pairs = np.flatnonzero((nnz == 2) & (lo == up) & (lo == 0.0))
    c0, c1 = a.indices[a.indptr[pairs]], a.indices[a.indptr[pairs] + 1]
    v0, v1 = a.data[a.indptr[pairs]], a.data[a.indptr[pairs] + 1]
    for ci, cj, vi, vj in ((c0, c1, v0, v1), (c1, c0, v1, v0)):
        sel = general[cj] & ~general[ci]
        twin_of[ci[sel]] = cj[sel]
        weight[ci[sel]] = -vj[sel] / vi[sel]
    return twin_of, weight


def _round_groups(
    a: Any,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    link_rows: np.ndarray,
    x: np.ndarray,
    general: np.ndarray,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """:func:`round_linked`'s values and the integers of every restored link row."""
    z = x.copy()
    z[general] = np.round(x[general])
    groups: list[np.ndarray] = []
    if not len(link_rows):
        return z, groups
    lo, up = row_lower, row_upper
    twin_of, weight = _twins(a, lo, up, general)
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
        groups.append(np.asarray(ints, dtype=np.int64))
    return z, groups


class _Rows:
    """The rows' reach with the integers fixed (see :func:`round_rows`): evaluated at ``z``."""

    def __init__(
        self,
        a: Any,
        row_lower: np.ndarray,
        row_upper: np.ndarray,
        col_lower: np.ndarray,
        col_upper: np.ndarray,
        integer: np.ndarray,
        twin_of: np.ndarray,
        weight: np.ndarray,
    ) -> None:
        n = a.shape[1]
        self.a, self.lo, self.up = a, row_lower, row_upper
        self.cl, self.cu = col_lower, col_upper
        twin = twin_of >= 0
        self.fixed = integer | twin
        self.free = ~self.fixed
        self.integer, self.twin_of, self.weight = integer, twin_of, weight
        # x_F = T z: every integer itself, every twin its weight times its integer
        ints = np.flatnonzero(integer)
        tw = np.flatnonzero(twin)
        self.t = sp.csr_matrix(
            (
                np.concatenate([np.ones(len(ints)), weight[tw]]),
                (np.concatenate([ints, tw]), np.concatenate([ints, twin_of[tw]])),
            ),
            shape=(n, n),
        )
        self.a_fixed = (a @ sp.diags(self.fixed.astype(float))).tocsr()
        self.a_fixed.eliminate_zeros()
        a_free = (a @ sp.diags(self.free.astype(float))).tocsr()
        a_free.eliminate_zeros()
        self.a_pos = a_free.multiply(a_free > 0).tocsr()
        self.a_neg = a_free.multiply(a_free < 0).tocsr()
        self.nfree = np.diff(a_free.indptr)
        single = np.flatnonzero(self.nfree == 1)
        self.s_rows = single
        self.s_col = a_free.indices[a_free.indptr[single]]
        self.s_coef = a_free.data[a_free.indptr[single]]
        self._g_fixed: Any = None  # ∂(fixed activity)/∂z, when a row is broken

    def values(self, z: np.ndarray) -> np.ndarray:
        xf = np.where(self.integer, z, 0.0)
        tw = self.twin_of >= 0
        xf[tw] = self.weight[tw] * z[self.twin_of[tw]]
        return xf

    def _implied(self, fa: np.ndarray, lower: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each free column's bound implied by its singleton rows (max of lowers / min of
        uppers with its own bound), and the row that sets it (−1: its own bound)."""
        r, c, al = self.s_rows, self.s_col, self.s_coef
        lo_r, up_r = self.lo[r], self.up[r]
        with np.errstate(invalid="ignore"):
            from_lo = (lo_r - fa[r]) / al
            from_up = (up_r - fa[r]) / al
        val = np.where((al > 0) == lower, from_lo, from_up)
        own = self.cl if lower else self.cu
        sign = 1.0 if lower else -1.0
        val = np.nan_to_num(val, nan=-sign * np.inf)
        bound = own.copy()
        who = np.full(len(own), -1, dtype=np.int64)
        if len(r):
            order = np.lexsort((-r, sign * val, c))  # per column: the tightest last, lower row
            last = np.r_[c[order][1:] != c[order][:-1], True]
            pick = order[last]
            tighter = sign * val[pick] > sign * own[c[pick]]
            bound[c[pick[tighter]]] = val[pick[tighter]]
            who[c[pick[tighter]]] = pick[tighter]
        return bound, who, val

    def reach(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Lowest and highest activity of every row, and the free columns' implied bounds."""
        xf = self.values(z)
        fa = self.a_fixed @ xf
        lo_c, self._who_lo, _ = self._implied(fa, True)
        up_c, self._who_up, _ = self._implied(fa, False)
        lo_c = np.where(self.free, lo_c, 0.0)
        up_c = np.where(self.free, up_c, 0.0)
        with np.errstate(invalid="ignore"):
            low = fa + self.a_pos @ lo_c + self.a_neg @ up_c
            high = fa + self.a_pos @ up_c + self.a_neg @ lo_c
        return np.nan_to_num(low, nan=-np.inf), np.nan_to_num(high, nan=np.inf), lo_c, up_c

    def violation(self, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """How far each row's reach misses its bounds: above its upper, below its lower."""
        tol = 1e-6 * np.maximum(1.0, np.abs(np.where(np.isfinite(self.up), self.up, 0.0)))
        tol_l = 1e-6 * np.maximum(1.0, np.abs(np.where(np.isfinite(self.lo), self.lo, 0.0)))
        with np.errstate(invalid="ignore"):
            over = np.where(np.isfinite(self.up) & np.isfinite(low), low - self.up, 0.0)
            under = np.where(np.isfinite(self.lo) & np.isfinite(high), self.lo - high, 0.0)
        over = np.where(over > tol, over, 0.0)
        under = np.where(under > tol_l, under, 0.0)
        return over, under

    def gradients(self) -> tuple[Any, Any]:
        """∂low/∂z and ∂high/∂z (rows × columns) at the point of the last :meth:`reach`."""
        n = self.a.shape[1]
        if self._g_fixed is None:
            self._g_fixed = (self.a_fixed @ self.t).tocsr()
        g_fixed = self._g_fixed

        def pick(who: np.ndarray) -> Any:
            cols = np.flatnonzero(who >= 0)
            k = who[cols]
            return sp.csr_matrix(
                (-1.0 / self.s_coef[k], (cols, self.s_rows[k])), shape=(n, self.a.shape[0])
            )

        d_lo = pick(self._who_lo) @ g_fixed
        d_up = pick(self._who_up) @ g_fixed
        g_low = (g_fixed + self.a_pos @ d_lo + self.a_neg @ d_up).tocsr()
        g_high = (g_fixed + self.a_pos @ d_up + self.a_neg @ d_lo).tocsr()
        return g_low, g_high


def _rank_in_group(group: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Position of every element within its group, in ``order`` (already sorted by group)."""
    g = group[order]
    start = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    pos = np.arange(len(g)) - np.repeat(start, np.diff(np.r_[start, len(g)]))
    out = np.empty(len(order), dtype=np.int64)
    out[order] = pos
    return out


def round_rows(
    a: Any,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    col_lower: np.ndarray,
    col_upper: np.ndarray,
    link_rows: np.ndarray,
    x: np.ndarray,
    general: np.ndarray,
    integer: np.ndarray | None = None,
    rounds: int = 20,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, int, int, int]:
    """:func:`round_linked`, then repaired so that no row is broken by its integers alone.

    The test (sound, one step of bound propagation): with every integer at its rounded value z
    and every twin x_k = w_k·z_j (see :func:`round_linked`) fixed, each other column gets its
    bounds tightened by the rows where it is the only free column (phasing_low:
    period_quota ≥ (1 − b)·φ·quota); a row is broken when its lowest reach over those bounds,
    Σ_{a>0} a·L + Σ_{a<0} a·U plus its fixed part, is above its upper bound (or its highest
    reach below its lower). A broken row means the continuous re-solve is infeasible; an
    unbroken one may still fail through longer chains (then the caller's LP says so).

    Repair, each round: the total amount V = Σ rows' misses and its slope s_j = ∂V/∂z_j (the
    chain above, piecewise linear); every general integer with s_j > 0 still above the floor of
    its LP value goes down one, with s_j < 0 below the ceiling up one. An integer of a restored
    linked total moves only with a partner of the same total moving the other way, chosen by
    largest remainder (down-moves; smallest for up-moves; ties: lower column) among those with
    s ≤ 0 (≥ 0) whose rows all keep their bounds after the move — so every linked total stays
    exact. A round is kept only when V falls; at most ``rounds`` rounds. Since V can fall while
    it spreads over more rows, the state returned is the one of the walk with the fewest broken
    rows (ties: the later, so the lower V): never more rows broken, never more V, than the
    rounding it started from. Deterministic.
    ``start``: the rounded values to repair instead of :func:`round_linked`'s.
    Returns (values, linked totals restored, rows broken before, rows broken after).
    """
    z, groups = _round_groups(a, row_lower, row_upper, link_rows, x, general)
    if start is not None:  # the caller's rounding (the same, or its own) is the one repaired
        z = start.copy()
    n = a.shape[1]
    integer = general.copy() if integer is None else integer
    z[integer & ~general] = np.round(x[integer & ~general])
    twin_of, weight = _twins(a, row_lower, row_upper, general)
    rows = _Rows(a, row_lower, row_upper, col_lower, col_upper, integer, twin_of, weight)
    group = np.full(n, -1, dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    for g, ints in enumerate(groups):
        group[ints] = g
        np.add.at(count, ints, 1)
    in_link = np.zeros(n, dtype=bool)
    is_link = np.zeros(a.shape[0], dtype=bool)
    is_link[link_rows] = True
    if len(link_rows):
        lc = a[link_rows].indices
        tw = twin_of[lc]
        in_link[tw[tw >= 0]] = True
        in_link[lc[general[lc]]] = True
    floor_x = np.maximum(np.floor(x + 1e-7), col_lower)
    ceil_x = np.minimum(np.ceil(x - 1e-7), col_upper)
    movable = general & (floor_x < ceil_x) & ((count == 1) | ~in_link)
    rem = x - np.floor(x)
    low, high, _, _ = rows.reach(z)
    over, under = rows.violation(low, high)
    broken0 = int(((over > 0) | (under > 0)).sum())
    total = float(over.sum() + under.sum())
    best, best_broken = z, broken0
    for _ in range(rounds):
        if total <= 0:
            break
        g_low, g_high = rows.gradients()
        s = np.asarray((over > 0).astype(float) @ g_low - (under > 0).astype(float) @ g_high)
        s = s.reshape(-1)
        eps = 1e-9
        down = movable & (s > eps) & (z > floor_x)
        up = movable & (s < -eps) & (z < ceil_x)
        # partners: every row a +1 (−1) move touches keeps its bounds
        gl, gh = g_low.tocoo(), g_high.tocoo()
        keep_l, keep_h = ~is_link[gl.row], ~is_link[gh.row]  # a pair keeps its total

        def safe(
            sign: float,
            gl: Any = gl,
            gh: Any = gh,
            low: Any = low,
            high: Any = high,
            keep_l: Any = keep_l,
            keep_h: Any = keep_h,
            tol: float = 1e-6,
        ) -> Any:
            lo_new = low[gl.row] + sign * gl.data
            hi_new = high[gh.row] + sign * gh.data
            b1 = keep_l & (sign * gl.data > 0) & (lo_new > row_upper[gl.row] + tol)
            b2 = keep_h & (sign * gh.data < 0) & (hi_new < row_lower[gh.row] - tol)
            bad = np.bincount(gl.col[b1], minlength=n) + np.bincount(gh.col[b2], minlength=n)
            return bad == 0

        z_new = z.copy()
        taken = np.zeros(n, dtype=bool)
        for move, sign in ((down, -1.0), (up, 1.0)):
            move = move & ~taken
            free_moves = move & (group < 0)
            z_new[free_moves] += sign
            taken |= free_moves
            lm = np.flatnonzero(move & (group >= 0))
            partner = (
                movable
                & ~taken
                & ~move
                & (group >= 0)
                & ((z < ceil_x) if sign < 0 else (z > floor_x))
                & ((s <= eps) if sign < 0 else (s >= -eps))
                & safe(-sign)
            )
            pc = np.flatnonzero(partner)
            if not len(lm) or not len(pc):
                continue
            mo = np.lexsort((lm, -np.abs(s[lm]), group[lm]))
            po = np.lexsort((pc, sign * rem[pc], group[pc]))
            mk = group[lm] * (n + 1) + _rank_in_group(group[lm], mo)
            pk = group[pc] * (n + 1) + _rank_in_group(group[pc], po)
            _, i_m, i_p = np.intersect1d(mk, pk, assume_unique=True, return_indices=True)
            z_new[lm[i_m]] += sign
            z_new[pc[i_p]] -= sign
            taken[lm[i_m]] = taken[pc[i_p]] = True
        if not taken.any():
            break
        low_n, high_n, _, _ = rows.reach(z_new)
        over_n, under_n = rows.violation(low_n, high_n)
        total_n = float(over_n.sum() + under_n.sum())
        if total_n >= total:
            break
        z, low, high, over, under, total = z_new, low_n, high_n, over_n, under_n, total_n
        broken = int(((over > 0) | (under > 0)).sum())
        if broken <= best_broken:  # V fell, so ties go to the later state
            best, best_broken = z, broken
    return best, len(groups), broken0, best_broken
