"""The pricing LPs of the Dantzig–Wolfe decomposition, priced in parallel: :func:`open_pool`.

Every round of :func:`allocopt.solve.decompose.solve_lp_decomposed` solves, for the prices π on
the K linking rows, each pack's LP  min (c_p − L_pᵀπ)·x_p  over its own rows. A pack's LP is one
HiGHS instance kept warm from round to round, so a pack must stay where it was built: pack p
belongs to pack set p mod n (the assignment depends only on the pack index and n, never on timing),
and each set lives for the whole decomposition — set 0 in this process, the others in long-lived
worker processes (``solver.workers`` > 1) or as actors on a Dask cluster (``allocopt solve
--scheduler``, :func:`~allocopt.solve.decompose.dask_blocks`). Per round the master sends π and
gets back every pack's optimum and row duals, in pack order. A pack's LP sees the same calls in
the same order wherever it lives (fixed threads and seed), so its results — and the master's LP
built from them in block order — are the same bytes whatever the number of workers.

A worker that dies, fails, or sends nothing for ``hang_after`` seconds ends the solve with a
:class:`~allocopt.errors.SolverError` naming the worker, its packs and the round; never a hang.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
import scipy.sparse as sp

from allocopt.errors import SolverError
from allocopt.solve.highs import _highs, highs_lp


@dataclass(frozen=True)
class Pack:
    """One pricing LP: its columns' costs and bounds, its own rows, and Lᵀ (columns × K)."""

    cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    matrix: sp.csc_matrix  # its own (non-link) rows × its columns
    row_lower: np.ndarray
    row_upper: np.ndarray
    link_t: sp.csr_matrix  # its columns × the K linking rows


Priced = tuple[bool, np.ndarray | None, np.ndarray | None]
"""A pack's result: (optimal, column values, row duals)."""


class PackSet:
    """Packs priced one after the other, each one HiGHS LP kept warm across rounds."""

    def __init__(self, packs: list[Pack], options: dict[str, Any]) -> None:
        self._packs = packs
        self._lps = []
        for p in packs:
            h = _highs(options)
            h.passModel(
                highs_lp(p.cost, p.col_lower, p.col_upper, p.matrix, p.row_lower, p.row_upper)
            )
            self._lps.append(h)

    def price(self, pi: np.ndarray, deadline: float | None) -> list[Priced]:
        """Each pack's optimum at prices ``pi``, in order; after the first pack, stops once the
        wall clock (``time.time()``) passes ``deadline`` (None: every pack), and at the first
        pack that is not optimal (its entry says so)."""
        out: list[Priced] = []
        for i, (p, h) in enumerate(zip(self._packs, self._lps, strict=True)):
            if deadline is not None and i > 0 and time.time() > deadline:
                break
            reduced = p.cost - np.asarray(p.link_t @ pi).ravel()
            h.changeColsCost(len(reduced), np.arange(len(reduced), dtype=np.int32), reduced)
            h.run()
            if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                out.append((False, None, None))
                break
            sol = h.getSolution()
            x = np.asarray(sol.col_value, dtype=float)
            out.append((True, x, np.asarray(sol.row_dual, dtype=float)))
        return out


class PackPool:
    """Packs spread over sets (pack p → set p mod n); :meth:`price` every pack, :meth:`close`."""

    def __init__(self, n_sets: int) -> None:
        self.n_sets = max(1, n_sets)
        self.members: list[list[int]] = [[] for _ in range(self.n_sets)]
        self.n_packs = 0

    def load(self, packs: list[Pack], options: dict[str, Any]) -> None:
        """Give every set its packs (pack p → set p mod n) and build their LPs."""
        self.n_packs = len(packs)
        self.members = [list(range(s, len(packs), self.n_sets)) for s in range(self.n_sets)]
        self._load(packs, options)

    def _load(self, packs: list[Pack], options: dict[str, Any]) -> None:
        raise NotImplementedError

    def _start_round(self, pi: np.ndarray, deadline: float | None, what: str) -> None:
        raise NotImplementedError

    def _results(self, s: int, what: str) -> list[Priced]:
        raise NotImplementedError

    def price(self, pi: np.ndarray, deadline: float | None, what: str) -> list[Priced | None]:
        """Every pack's result in pack order (None: not priced, the deadline stopped its set)."""
        self._start_round(pi, deadline, what)
        out: list[Priced | None] = [None] * self.n_packs
        for s, mine in enumerate(self.members):
            for p, r in zip(mine, self._results(s, what), strict=False):
                out[p] = r
        return out

    def close(self) -> None:
        """Release the workers (idempotent)."""


class _Local(PackPool):
    """Every pack in this process (one worker)."""

    def __init__(self) -> None:
        super().__init__(1)
        self._set: PackSet | None = None
        self._last: list[Priced] = []

    def _load(self, packs: list[Pack], options: dict[str, Any]) -> None:
        self._set = PackSet(packs, options)

    def _start_round(self, pi: np.ndarray, deadline: float | None, what: str) -> None:
        assert self._set is not None
        self._last = self._set.price(pi, deadline)

    def _results(self, s: int, what: str) -> list[Priced]:
        return self._last


def _serve(conn: Any, options: dict[str, Any]) -> None:
    """A worker process: load its packs, then price them for every π the master sends."""
    try:
        _, packs = conn.recv()
        pack_set = PackSet(packs, options)
        while True:
            msg = conn.recv()
            if msg[0] == "close":
                return
            conn.send(("ok", pack_set.price(msg[1], msg[2])))
    except EOFError:  # the master has gone: nothing to answer
        return
    except BaseException as exc:  # reported to the master, which names this worker
        with contextlib.suppress(Exception):
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class _Processes(PackPool):
    """Set 0 in this process, sets 1…n−1 in long-lived worker processes (spawned, since HiGHS's
    thread pool does not survive a fork), each talking to the master through its own pipe."""

    def __init__(self, workers: int, options: dict[str, Any], hang_after: float) -> None:
        super().__init__(workers)
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self.hang_after = hang_after
        self._local = _Local()
        self._conns: list[Any] = []
        self._procs: list[Any] = []
        for s in range(1, self.n_sets):  # started now: their imports overlap the master's work
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=_serve, args=(child, options), name=f"allocopt-pricing-{s}", daemon=True
            )
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)

    def _where(self, s: int, what: str) -> str:
        mine = self.members[s]
        shown = ", ".join(str(p) for p in mine[:5]) + (", …" if len(mine) > 5 else "")
        return (
            f"pricing worker {s} of {self.n_sets} (process {self._procs[s - 1].pid}, "
            f"packs {shown}) {what}"
        )

    def _fail(self, s: int, why: str, what: str) -> SolverError:
        error = SolverError(
            f"the quota LP's Dantzig–Wolfe decomposition: {self._where(s, what)} {why}; "
            "run again, or set solver.workers: 1 to price every pack in one process"
        )
        self.close()
        return error

    def _send(self, s: int, msg: tuple[Any, ...], what: str) -> None:
        try:
            self._conns[s - 1].send(msg)
        except (BrokenPipeError, ConnectionError, EOFError, OSError) as exc:
            raise self._fail(s, f"could not be reached ({exc})", what) from None

    def _load(self, packs: list[Pack], options: dict[str, Any]) -> None:
        self._local.load([packs[p] for p in self.members[0]], options)
        for s in range(1, self.n_sets):
            self._send(s, ("load", [packs[p] for p in self.members[s]]), "while loading its packs")

    def _start_round(self, pi: np.ndarray, deadline: float | None, what: str) -> None:
        for s in range(1, self.n_sets):
            self._send(s, ("price", pi, deadline), what)
        self._local._start_round(pi, deadline, what)

    def _results(self, s: int, what: str) -> list[Priced]:
        if s == 0:
            return self._local._last
        conn, proc = self._conns[s - 1], self._procs[s - 1]
        give_up = time.monotonic() + self.hang_after
        while not conn.poll(0.2):
            if not proc.is_alive():
                raise self._fail(s, f"ended with exit code {proc.exitcode}", what)
            if time.monotonic() > give_up:
                raise self._fail(s, f"sent nothing for {self.hang_after:.0f} s", what)
        try:
            tag, payload = conn.recv()
        except (EOFError, OSError) as exc:
            raise self._fail(s, f"closed its pipe ({type(exc).__name__})", what) from None
        if tag != "ok":
            raise self._fail(s, f"failed: {payload}", what)
        return list(payload)

    def close(self) -> None:
        for conn in self._conns:
            with contextlib.suppress(Exception):
                conn.send(("close",))
        for proc in self._procs:
            proc.join(timeout=2.0)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=2.0)
        for conn in self._conns:
            conn.close()
        self._conns, self._procs = [], []


class _DaskActors(PackPool):
    """One pack set per Dask worker, as an actor that keeps its packs' LPs warm."""

    def __init__(self, client: Any, hang_after: float) -> None:
        addresses = sorted(client.scheduler_info()["workers"])
        super().__init__(len(addresses))
        self._client = client
        self._addresses = addresses
        self.hang_after = hang_after
        self._actors: list[Any] = []
        self._futures: list[Any] = []

    def _fail(self, s: int, why: str, what: str) -> SolverError:
        return SolverError(
            f"the quota LP's Dantzig–Wolfe decomposition: pricing actor {s} of {self.n_sets} on "
            f"Dask worker {self._addresses[s]} {what} {why}; run again, or without --scheduler"
        )

    def _load(self, packs: list[Pack], options: dict[str, Any]) -> None:
        for s, addr in enumerate(self._addresses):
            mine = self._client.scatter([packs[p] for p in self.members[s]], workers=[addr])
            fut = self._client.submit(
                PackSet, mine, options, actor=True, workers=[addr], allow_other_workers=False
            )
            try:
                self._actors.append(fut.result(timeout=self.hang_after))
            except Exception as exc:
                raise self._fail(s, f"could not start ({exc})", "while loading its packs") from None

    def _start_round(self, pi: np.ndarray, deadline: float | None, what: str) -> None:
        self._futures = [actor.price(pi, deadline) for actor in self._actors]

    def _results(self, s: int, what: str) -> list[Priced]:
        try:
            return list(self._futures[s].result(timeout=self.hang_after))
        except Exception as exc:
            raise self._fail(s, f"failed ({type(exc).__name__}: {exc})", what) from None

    def close(self) -> None:
        self._actors, self._futures = [], []


def open_pool(
    workers: int, options: dict[str, Any], client: Any = None, hang_after: float = 300.0
) -> PackPool:
    """Where the packs are priced: on the Dask ``client``'s workers when given, else in
    ``workers`` local processes (this one included), else here. Call :meth:`PackPool.load`
    with the packs next (worker processes start now, so their imports overlap that work)."""
    if client is not None:
        return _DaskActors(client, hang_after)
    if workers > 1:
        return _Processes(workers, options, hang_after)
    return _Local()
