"""The live state of ``allocopt serve``: one or two run folders and an actuals file that is watched.

Public entry point: :class:`Monitor`. :meth:`Monitor.poll` (called about once a second by the
server's watcher thread) fingerprints the actuals — path, mtime, size and, when those move or every
few polls, the SHA-256 of the bytes — and, when the fingerprint changes, recomputes tracking with
:func:`allocopt.compose.track` (the same numbers as ``allocopt track``). A bad file keeps
the last good numbers and records the located error (the message ``allocopt track`` prints,
exit 2 style).
:meth:`Monitor.snapshot` hands the server an immutable :class:`Snapshot`; its ``version`` goes up by
one whenever anything shown changes, so pages can poll a version number and refresh themselves.

A folder of extracts is watched as a whole: its newest table (``.csv``, ``.xlsx``, ``.xlsm``,
``.parquet``; newest by modification time, then name) is the current actuals.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from allocopt.compose import track
from allocopt.data.tables import SPECS, TableSource, read_table
from allocopt.errors import AllocoptError, InputError, Problem
from allocopt.outputs.runfolder import RunFolder, read_text_frame, sha256_file
from allocopt.results.track import TrackResult

__all__ = ["EXTRACT_SUFFIXES", "Monitor", "Plan", "Snapshot", "load_plan"]

EXTRACT_SUFFIXES = (".csv", ".xlsx", ".xlsm", ".parquet")
HASH_EVERY = 5  # polls between full-content hashes when mtime and size have not moved
REQUIRED = ("manifest.json", "quotas.csv", "annual.csv", "reps.csv")


@dataclass(frozen=True)
class Plan:
    """What a page needs from one run folder (read once: run folders are immutable)."""

    run_dir: Path
    label: str
    scenario: str
    currency: str
    fiscal_year_start: dt.date
    products: list[str]
    quotas: pd.DataFrame  # rep_id, team_id, region_id, product, period, quota
    reps: pd.DataFrame  # reps.csv (difficulty, group, capacity …)
    assignments: pd.DataFrame  # assignments.csv (may be empty)
    rep_names: dict[str, str]
    unit_names: dict[str, str]
    account_names: dict[str, str]
    incentives: Any  # resolved ``incentives:`` section when the run has one (payout hook)


def _csv(rf: RunFolder, name: str) -> pd.DataFrame:
    if not (rf.path / name).is_file():
        return pd.DataFrame()
    return rf.table(name)


def _names(rf: RunFolder, table: str, key: str) -> dict[str, str]:
    """Display names from the run's input table when it can still be found unchanged.

    Run folders hold IDs only; names come from the scenario's table (reps, org_units, accounts),
    located by :meth:`RunFolder.locate` and read server-side only when its SHA-256 matches the
    manifest (a CSV table). Otherwise no names.
    """
    try:
        loc = rf.locate(table)
    except OSError:
        return {}
    if loc.status != "ok" or loc.path is None or loc.path.suffix.lower() != ".csv":
        return {}
    try:
        df = read_text_frame(loc.path)
    except (OSError, ValueError):
        return {}
    if key in df and "name" in df:
        return {str(k): str(v) for k, v in zip(df[key], df["name"], strict=True) if v}
    return {}


def load_plan(run_dir: Path, label: str) -> Plan:
    """Read a run folder for serving; exit 2 (located) when it is not a complete run folder."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(Problem(str(run_dir), "", "", "is not a run folder (no such folder)"))
    for name in REQUIRED:
        if not (run_dir / name).is_file():
            raise InputError(
                Problem(
                    str(run_dir / name), "", "", "file is missing; RUN_DIR must be made by solve"
                )
            )
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
        rf = RunFolder(run_dir, manifest, f"cannot serve the run folder {run_dir}")
        sc = manifest["resolved_scenario"]
        plan = sc["plan"]
        fy0 = dt.date.fromisoformat(str(plan["fiscal_year_start"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(
            Problem(str(run_dir / "manifest.json"), "", "resolved_scenario", f"unreadable: {exc}")
        ) from None
    quotas = _csv(rf, "quotas.csv")
    quotas["quota"] = pd.to_numeric(quotas["quota"], errors="coerce").fillna(0.0)
    reps = _csv(rf, "reps.csv")
    for c in ("difficulty", "quota", "capacity"):
        if c in reps:
            reps[c] = pd.to_numeric(reps[c], errors="coerce")
    assignments = _csv(rf, "assignments.csv")
    if "revenue" in assignments:
        assignments["revenue"] = pd.to_numeric(assignments["revenue"], errors="coerce")
    products = [str(p) for p in sc.get("products", [])]
    products += sorted(set(quotas["product"]) - set(products))
    return Plan(
        run_dir=run_dir,
        label=label,
        scenario=str(manifest.get("scenario") or sc.get("name") or run_dir.name),
        currency=str(plan.get("currency", "")),
        fiscal_year_start=fy0,
        products=products,
        quotas=quotas,
        reps=reps,
        assignments=assignments,
        rep_names=_names(rf, "reps", "rep_id"),
        unit_names=_names(rf, "org_units", "unit_id"),
        account_names=_names(rf, "accounts", "account_id"),
        incentives=sc.get("incentives"),
    )


_PAYOUT_DRAWS = 500
"""Monte Carlo draws of the live payout (``allocopt payout`` defaults to more)."""


@dataclass(frozen=True)
class Snapshot:
    """What the pages show at one moment; never mutated (a new one replaces it)."""

    version: int = 0
    result: TrackResult | None = None  # last good tracking of plan A
    result_b: TrackResult | None = None  # last good tracking of plan B (compare mode)
    actual_by_period: pd.DataFrame | None = None  # rep_id, product, period, amount (last good)
    source: str = ""  # the actuals file the last good numbers come from
    source_sha256: str = ""
    loaded_at: str = ""  # when the last good numbers were computed (UTC, ISO)
    error: str | None = None  # the current actuals' located error; last good numbers stay
    error_b: str | None = None  # plan B cannot be tracked against these actuals
    checked_at: str = ""
    payout: dict[str, float] | None = None  # expected payout per rep (runs with incentives:)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _render(exc: Exception, path: Path) -> str:
    if isinstance(exc, AllocoptError):
        return exc.render()
    return f"{path}: cannot be read: {type(exc).__name__}: {exc}"


class Monitor:
    """Watches the actuals and keeps the latest :class:`Snapshot` (thread-safe)."""

    def __init__(
        self,
        plan: Plan,
        actuals: Path,
        *,
        plan_b: Plan | None = None,
        as_of: dt.date | None = None,
        threshold: float = 0.9,
    ) -> None:
        self.plan = plan
        self.plan_b = plan_b
        self.actuals = Path(actuals)
        self.as_of = as_of
        self.threshold = threshold
        self._lock = threading.Lock()
        self._snap = Snapshot()
        self._stat: tuple[str, int, int] | None = None
        self._digest: tuple[str, str] | None = None
        self._polls = 0

    def snapshot(self) -> Snapshot:
        with self._lock:
            return self._snap

    def _publish(self, **changes: Any) -> None:
        with self._lock:
            self._snap = replace(self._snap, version=self._snap.version + 1, **changes)

    def _touch(self) -> None:
        with self._lock:
            self._snap = replace(self._snap, checked_at=_now())

    def _current_file(self) -> Path:
        """The actuals file to read now (the newest extract when watching a folder)."""
        if not self.actuals.is_dir():
            return self.actuals
        files = [
            p
            for p in self.actuals.iterdir()
            if p.is_file()
            and p.suffix.lower() in EXTRACT_SUFFIXES
            and not p.name.startswith((".", "~$"))
        ]
        if not files:
            raise InputError(
                Problem(
                    str(self.actuals),
                    "",
                    "",
                    "no actuals extract in this folder (.csv, .xlsx, .xlsm or .parquet)",
                )
            )
        return max(files, key=lambda p: (p.stat().st_mtime_ns, p.name))

    def poll(self) -> bool:
        """Check the actuals once; recompute when they changed. True when the snapshot changed."""
        self._polls += 1
        try:
            path = self._current_file()
            st = path.stat()
            stat = (str(path), st.st_mtime_ns, st.st_size)
        except (OSError, AllocoptError) as exc:
            return self._fail(self._as_track_error(exc), self.actuals)
        if stat == self._stat and self._polls % HASH_EVERY:
            self._touch()
            return False
        try:
            digest = (str(path), sha256_file(path))
        except OSError as exc:
            return self._fail(exc, path)
        self._stat = stat
        if digest == self._digest:
            self._touch()
            return False
        return self._load(path, digest)

    def _as_track_error(self, exc: Exception) -> Exception:
        """The message ``allocopt track`` gives for an unreadable actuals path, when it has one."""
        if isinstance(exc, AllocoptError) or self.actuals.is_dir():
            return exc
        try:
            track(self.plan.run_dir, self.actuals, as_of=self.as_of, at_risk=self.threshold)
        except AllocoptError as located:
            return located
        except Exception:
            return exc
        return exc

    def _payout(self, path: Path, result: TrackResult) -> dict[str, float] | None:
        """Expected payout per rep (``allocopt payout`` with these actuals) when the run has
        ``incentives:``; None otherwise or when it cannot be computed (the page then shows none)."""
        if not self.plan.incentives:
            return None
        from allocopt.pipeline import payout_run

        try:
            res = payout_run(self.plan.run_dir, tracked=result, draws=_PAYOUT_DRAWS)
        except AllocoptError:
            return None
        reps = res.reps
        return {
            str(r): float(v) for r, v in zip(reps["rep_id"], reps["expected_payout"], strict=True)
        }

    def _fail(self, exc: Exception, path: Path) -> bool:
        message = _render(exc, path)
        self._stat = None
        self._digest = None
        if message == self.snapshot().error:
            self._touch()
            return False
        self._publish(error=message, checked_at=_now())
        return True

    def _load(self, path: Path, digest: tuple[str, str]) -> bool:
        try:
            result = track(self.plan.run_dir, path, as_of=self.as_of, at_risk=self.threshold)
            read = read_table(SPECS["actuals"], TableSource(path))
            by_period = read.frame
            result_b: TrackResult | None = None
            error_b: str | None = None
            if self.plan_b is not None:
                try:
                    result_b = track(
                        self.plan_b.run_dir, path, as_of=result.as_of, at_risk=self.threshold
                    )
                except AllocoptError as exc:
                    error_b = exc.render()
            after = sha256_file(path)
        except Exception as exc:  # any failure keeps the last good numbers on the page
            self._digest = digest
            return self._fail_keep_digest(exc, path)
        if after != digest[1]:  # written while we read it: read it again on the next poll
            self._stat = None
            return False
        self._digest = digest
        frame = None
        if by_period is not None:
            frame = (
                by_period.groupby(["rep_id", "product", "period"], sort=True)["amount"]
                .sum()
                .reset_index()
            )
        self._publish(
            result=result,
            result_b=result_b,
            payout=self._payout(path, result),
            actual_by_period=frame,
            source=str(path),
            source_sha256=digest[1],
            loaded_at=_now(),
            error=None,
            error_b=error_b,
            checked_at=_now(),
        )
        return True

    def _fail_keep_digest(self, exc: Exception, path: Path) -> bool:
        message = _render(exc, path)
        if message == self.snapshot().error:
            self._touch()
            return False
        self._publish(error=message, checked_at=_now())
        return True

    def watch(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Poll until ``stop`` is set (the server's watcher thread); never raises."""
        while not stop.is_set():
            try:
                self.poll()
            except Exception as exc:  # pragma: no cover - poll already catches; belt and braces
                self._publish(error=f"internal error while watching: {exc}")
            stop.wait(interval)
