"""A run folder's tables as the in-memory payout needs them.

Public entry point: :func:`payout_tables` — opens the run folder
(:class:`~allocopt.outputs.runfolder.RunFolder`), reads the resolved scenario, ``reps.csv``,
``annual.csv``, the company id (``rollups.csv``) and the ``incentive_reps`` input table (located
and checked by sha256 like every input), and returns them for
:func:`allocopt.results.payout.payout_of`. Raises InputError (exit 2) for a missing or bad
folder, a run without ``incentives:``, or a moved/changed incentive table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from allocopt.errors import InputError, Problem
from allocopt.outputs.runfolder import RunFolder

__all__ = ["PayoutTables", "payout_tables"]


@dataclass(frozen=True)
class PayoutTables:
    """What :func:`allocopt.results.payout.payout_of` reads from a run folder."""

    run_dir: Path
    scenario: Any  # Scenario
    reps: pd.DataFrame
    annual: pd.DataFrame
    incentive_reps: pd.DataFrame | None
    company: str

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``payout_of`` besides the sales outcomes."""
        return {
            "incentive_reps": self.incentive_reps,
            "company": self.company,
            "run_dir": self.run_dir,
        }


def _need(df: pd.DataFrame, rf: RunFolder, name: str, cols: tuple[str, ...]) -> pd.DataFrame:
    absent = [c for c in cols if c not in df.columns]
    if absent:
        raise InputError(
            [
                Problem(str(rf.path / name), "row 1", c, "required column is missing")
                for c in absent
            ],
            header=rf.header,
        )
    return df


def payout_tables(run_dir: Path, incentives: Any = None) -> PayoutTables:
    """The run's scenario and tables for the payout (see the module docstring); ``incentives``
    (an ``Incentives`` section) prices a run whose own scenario has none (e.g. the sweep's)."""
    run_dir = Path(run_dir)
    rf = RunFolder.open(run_dir, f"cannot compute the payout of {run_dir}")
    sc = rf.scenario()
    if sc.incentives is None and incentives is not None:
        sc = sc.model_copy(update={"incentives": incentives})
    if sc.incentives is None:
        raise InputError(
            Problem(
                str(rf.manifest_path),
                "",
                "resolved_scenario.incentives",
                "the run's scenario has no incentives section; add one (docs/incentives.md) "
                "and solve again",
            ),
            header=rf.header,
        )
    reps = _need(
        rf.table("reps.csv"), rf, "reps.csv", ("rep_id", "team_id", "region_id", "role", "fte")
    )
    annual = _need(rf.table("annual.csv"), rf, "annual.csv", ("rep_id", "product", "quota"))
    company = "COMPANY"
    if (run_dir / "rollups.csv").is_file():
        roll = rf.table("rollups.csv")
        if "level" in roll and "unit_id" in roll:
            comp = roll.loc[roll["level"] == "company", "unit_id"]
            if len(comp):
                company = str(comp.iloc[0])
    overrides = None
    ref = sc.data.incentive_reps
    if ref is not None:
        from allocopt.data.tables import SPECS, TableSource, read_table

        path = rf.input_path("incentive_reps")
        sheet = getattr(ref, "sheet", None)
        label = str(getattr(ref, "path", ref)) + (f"[{sheet}]" if sheet else "")
        res = read_table(SPECS["incentive_reps"], TableSource(path, sheet, label))
        if res.problems or res.frame is None:
            raise InputError(
                res.problems or [Problem(label, "", "", "cannot be read")], header=rf.header
            )
        overrides = res.frame
    return PayoutTables(run_dir, sc, reps, annual, overrides, company)
