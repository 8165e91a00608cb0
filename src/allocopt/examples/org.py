"""Steps 1-2 of the example: the organisation (:func:`_make_org`: regions, teams, team sizes) and
the reps (:func:`_draw_reps`: new hires, leavers, seniors, FTE, start/end dates, names and the
share of the year each rep is available after ramp-up)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from allocopt.examples.common import RAMP, BoolArray, FloatArray, IntArray, _ids
from allocopt.examples.names import _FIRST_NAMES, _LAST_NAMES

_REGION_IDS = ("NORTH", "SOUTH", "WEST")
_SENIOR_SHARE = 0.15


@dataclass(frozen=True)
class _Org:
    region_ids: list[str]
    region_names: list[str]
    team_ids: list[str]
    team_names: list[str]
    team_region: IntArray  # region index per team
    team_size: IntArray
    team_start: IntArray  # index of the team's first rep (reps are contiguous per team)


@dataclass(frozen=True)
class _Reps:
    """Per rep (reps are contiguous per team, in team order)."""

    team: IntArray
    region: IntArray
    is_new: BoolArray
    is_leaver: BoolArray
    is_senior: BoolArray
    fte: FloatArray
    start_month: IntArray  # months after the fiscal year's first (new hires)
    start_day: IntArray
    end_month: IntArray  # leavers
    end_day: IntArray
    start_date: np.ndarray  # datetime64[D]
    end_date: np.ndarray
    availability: FloatArray  # share of the year worked, ramp-up deducted
    first_name: IntArray  # index into the name lists
    last_name: IntArray

    @property
    def n(self) -> int:
        return int(self.fte.size)


def _team_count(regions: int, teams_per_region: int | None, teams: int | None) -> int:
    if teams is not None:
        return teams
    if teams_per_region is not None:
        return teams_per_region * regions
    return max(regions, (10 * regions + 2) // 3)  # 3-4 per region: 3 regions -> 10 teams


def _make_org(rng: np.random.Generator, regions: int, n_teams: int, n_reps: int) -> _Org:
    width = max(2, len(str(regions)))
    region_ids = [*_REGION_IDS[:regions]] + [
        f"R{i:0{width}d}" for i in range(len(_REGION_IDS) + 1, regions + 1)
    ]
    region_names = [
        rid.title() if rid in _REGION_IDS else f"Region {rid[1:]}" for rid in region_ids
    ]
    per_region = np.full(regions, n_teams // regions, dtype=np.int64)
    per_region[: n_teams % regions] += 1
    team_region = np.repeat(np.arange(regions, dtype=np.int64), per_region)
    team_ids = list(_ids("T", n_teams, 2))
    team_names: list[str] = []
    for r in range(regions):
        team_names.extend(f"{region_names[r]} Team {k}" for k in range(1, int(per_region[r]) + 1))

    # team sizes vary +-25% around the mean (exact total; every team has at least one rep)
    weights = rng.uniform(0.75, 1.25, n_teams)
    if n_reps < 4 * n_teams:
        weights = np.ones(n_teams)
    raw = 1.0 + weights / weights.sum() * (n_reps - n_teams)
    size = np.floor(raw).astype(np.int64)
    missing = n_reps - int(size.sum())
    size[np.argsort(-(raw - size), kind="stable")[:missing]] += 1
    start = np.concatenate(([0], np.cumsum(size)[:-1])).astype(np.int64)
    return _Org(
        region_ids, region_names, [str(t) for t in team_ids], team_names, team_region, size, start
    )


def _draw_reps(
    rng: np.random.Generator,
    org: _Org,
    n_reps: int,
    new_hire_share: float,
    leaver_share: float,
    fy_start: np.datetime64,
) -> _Reps:
    """Status, role, FTE, dates and names of every rep; availability = days in the plan year
    after the start / before the end date, less the ramp-up months of new hires."""
    team = np.repeat(np.arange(org.team_size.size, dtype=np.int64), org.team_size)
    order = rng.permutation(n_reps)
    n_new = round(new_hire_share * n_reps)
    n_leave = round(leaver_share * n_reps)
    is_new = np.zeros(n_reps, dtype=bool)
    is_new[order[:n_new]] = True
    is_leaver = np.zeros(n_reps, dtype=bool)
    is_leaver[order[n_new : n_new + n_leave]] = True
    senior_p = min(1.0, _SENIOR_SHARE * n_reps / max(1, n_reps - n_new))
    is_senior = (rng.random(n_reps) < senior_p) & ~is_new
    fte_draw = rng.random(n_reps)
    fte = np.where(fte_draw < 0.05, 0.5, np.where(fte_draw < 0.12, 0.8, 1.0))
    fte = np.where(is_new, 1.0, np.where(is_senior, np.maximum(fte, 0.8), fte))
    start_month = rng.integers(1, 6, n_reps)  # months 2..6 of the fiscal year
    start_day = rng.integers(0, 28, n_reps)
    end_month = rng.integers(9, 12, n_reps)  # months 10..12
    end_day = rng.integers(0, 28, n_reps)
    first_name = rng.integers(0, len(_FIRST_NAMES), n_reps)
    last_name = rng.integers(0, len(_LAST_NAMES), n_reps)

    fy_month0 = fy_start.astype("datetime64[M]")
    day_offset = fy_start - fy_month0.astype("datetime64[D]")
    fy_end = (fy_month0 + 12).astype("datetime64[D]") + day_offset
    days_in_year = float((fy_end - fy_start).astype(np.int64))
    start_date = (fy_month0 + start_month).astype("datetime64[D]") + start_day
    end_date = (fy_month0 + end_month).astype("datetime64[D]") + end_day
    first_day = np.where(is_new, start_date, fy_start)
    last_day_excl = np.where(is_leaver, end_date + 1, fy_end)
    availability = (last_day_excl - first_day).astype(np.int64) / days_in_year
    ramp_loss = sum(1.0 - r for r in RAMP) / 12.0
    availability = np.where(is_new, np.maximum(availability - ramp_loss, 0.05), availability)
    return _Reps(
        team=team,
        region=org.team_region[team],
        is_new=is_new,
        is_leaver=is_leaver,
        is_senior=is_senior,
        fte=fte,
        start_month=start_month,
        start_day=start_day,
        end_month=end_month,
        end_day=end_day,
        start_date=start_date,
        end_date=end_date,
        availability=availability,
        first_name=first_name,
        last_name=last_name,
    )
