"""Compare run folders: what changed, for whom, and why.

Public entry point: :func:`compare`, which compares two or more runs written by ``allocopt solve``
(``annual.csv``, ``assignments.csv``, ``summary.json``, ``manifest.json``, read by
:func:`allocopt.compose.compare_runs`) and returns a :class:`Comparison`:

* ``quotas`` — one row per rep × product with the annual quota in each run
  (``quota_<run>``) and the change against the first run: with two runs ``change`` (amount)
  and ``change_pct`` (percent of the first run's quota; empty when that is 0 or absent), with
  more runs ``change_<run>`` / ``change_pct_<run>`` for every run after the first. A rep
  missing from a run has an empty quota there and counts as 0 in the change.
  :meth:`Comparison.by` rolls it up to ``team``, ``region``, ``product`` or ``company``;
* ``accounts`` — key accounts whose owner differs between runs;
* ``fairness`` and ``objective`` — the summary's fairness statistics and objective terms side
  by side; ``overview`` — scenario, status, gap, total quota, moved accounts per run;
* ``inputs`` — the input tables whose sha256 (or path) differs (from the manifests);
* ``settings`` — the resolved-scenario keys (dotted) whose values differ, and ``changes`` —
  each run's applied overrides and ``--set`` values.

Run labels are the folder names (``#2``, ``#3`` appended to repeated names).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocopt.errors import InputError, Problem

__all__ = ["LEVELS", "ComparedRun", "Comparison", "check_count", "compare"]

LEVELS: dict[str, list[str]] = {
    "rep": ["rep_id", "team_id", "region_id", "product"],
    "team": ["team_id", "region_id", "product"],
    "region": ["region_id", "product"],
    "product": ["product"],
    "company": ["company"],
}
_IDS = ("rep_id", "team_id", "region_id", "product")
_SKIP_SETTINGS = ("overrides", "scenarios")  # definitions, not settings in effect
UNSET = "<unset>"


@dataclass
class ComparedRun:
    """One run to compare, as read by the composition layer (:func:`allocopt.compose.compare_runs`):
    its label, folder (reported, never opened), ``annual.csv`` (quota numeric),
    ``assignments.csv``, ``summary.json`` and manifest."""

    label: str
    path: Path
    annual: pd.DataFrame
    assignments: pd.DataFrame
    summary: dict[str, Any]
    manifest: dict[str, Any]


@dataclass
class Comparison:
    """Two or more runs side by side (see the module docstring for each table)."""

    runs: list[str]
    paths: list[Path]
    quotas: pd.DataFrame
    accounts: pd.DataFrame
    fairness: pd.DataFrame
    objective: pd.DataFrame
    overview: pd.DataFrame
    inputs: pd.DataFrame
    settings: pd.DataFrame
    changes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def change_column(self) -> str:
        """The change column of the last run against the first."""
        return "change" if len(self.runs) == 2 else f"change_{self.runs[-1]}"

    def by(self, level: str = "rep") -> pd.DataFrame:
        """Quotas and changes rolled up to ``rep``, ``team``, ``region``, ``product``,
        ``company``."""
        if level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}")
        if level == "rep":
            return self.quotas.copy()
        keys = LEVELS[level]
        qcols = [f"quota_{r}" for r in self.runs]
        df = self.quotas.assign(company="company")
        out = df.groupby(keys, sort=True, dropna=False)[qcols].sum(min_count=1).reset_index()
        return _with_changes(out, self.runs)

    def top_movers(self, level: str = "rep", n: int = 20) -> pd.DataFrame:
        """The ``n`` rows with the largest absolute change of the last run against the first."""
        df = self.by(level)
        col = self.change_column
        order = df.assign(_abs=df[col].abs()).sort_values(
            ["_abs", *LEVELS[level]], ascending=[False, *([True] * len(LEVELS[level]))]
        )
        return order.drop(columns="_abs").head(n).reset_index(drop=True)

    def to_dict(self, level: str = "rep") -> dict[str, Any]:
        """Everything as JSON-able data (quotas at ``level``)."""

        def records(df: pd.DataFrame) -> list[dict[str, Any]]:
            return list(json.loads(df.to_json(orient="records")))

        def side(df: pd.DataFrame) -> dict[str, dict[str, Any]]:
            return dict(json.loads(df.to_json(orient="index")))

        return {
            "runs": [
                {"label": r, "path": str(p)} for r, p in zip(self.runs, self.paths, strict=True)
            ],
            "overview": side(self.overview),
            "level": level,
            "quotas": records(self.by(level)),
            "accounts": records(self.accounts),
            "fairness": side(self.fairness),
            "objective_terms": side(self.objective),
            "inputs": records(self.inputs),
            "settings": records(self.settings),
            "changes": self.changes,
        }


def check_count(n: int) -> None:
    """InputError (exit 2) unless there are at least two runs to compare."""
    if n < 2:
        raise InputError(Problem("compare", "", "", "give at least two run folders to compare"))


def compare(runs_: Sequence[ComparedRun]) -> Comparison:
    """Compare runs already read (the first is the baseline)."""
    check_count(len(runs_))
    runs = list(runs_)
    labels = [r.label for r in runs]
    return Comparison(
        runs=labels,
        paths=[r.path for r in runs],
        quotas=_quotas(runs),
        accounts=_accounts(runs),
        fairness=_side_by_side(runs, "fairness"),
        objective=_side_by_side(runs, "objective_terms"),
        overview=_overview(runs),
        inputs=_inputs(runs),
        settings=_settings(runs),
        changes={r.label: [str(c) for c in r.manifest.get("changes") or []] for r in runs},
    )


# ---- tables -------------------------------------------------------------------------------------


def _with_changes(df: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    first = df[f"quota_{labels[0]}"]
    base = first.fillna(0.0)
    for lab in labels[1:]:
        sfx = "" if len(labels) == 2 else f"_{lab}"
        ch = df[f"quota_{lab}"].fillna(0.0) - base
        pct = ch / first.where(first != 0) * 100  # empty when the first run has 0 or nothing
        df[f"change{sfx}"] = np.round(ch.to_numpy(dtype=float), 2) + 0.0
        df[f"change_pct{sfx}"] = np.round(np.asarray(pct, dtype=float), 4) + 0.0
    return df


def _quotas(runs: list[ComparedRun]) -> pd.DataFrame:
    key = ["rep_id", "product"]
    merged: pd.DataFrame | None = None
    for r in runs:
        part = r.annual[[*_IDS, "quota"]].rename(
            columns={
                "quota": f"quota_{r.label}",
                "team_id": f"team_{r.label}",
                "region_id": f"region_{r.label}",
            }
        )
        merged = part if merged is None else merged.merge(part, on=key, how="outer")
    assert merged is not None
    team = pd.Series(pd.NA, index=merged.index, dtype=object)
    region = pd.Series(pd.NA, index=merged.index, dtype=object)
    for r in runs:  # a rep's team and region as in the first run that has the rep
        team = team.fillna(merged[f"team_{r.label}"])
        region = region.fillna(merged[f"region_{r.label}"])
    out = merged[key].copy()
    out.insert(1, "team_id", team.astype(str))
    out.insert(2, "region_id", region.astype(str))
    for r in runs:
        out[f"quota_{r.label}"] = merged[f"quota_{r.label}"].astype(float)
    out = out[[*_IDS, *(f"quota_{r.label}" for r in runs)]]
    out = out.sort_values(["rep_id", "product"], kind="stable").reset_index(drop=True)
    return _with_changes(out, [r.label for r in runs])


def _accounts(runs: list[ComparedRun]) -> pd.DataFrame:
    merged: pd.DataFrame | None = None
    revenue = pd.Series(dtype=float)
    for r in runs:
        a = r.assignments
        part = a[["account_id", "owner_rep"]].rename(columns={"owner_rep": f"owner_{r.label}"})
        if "revenue" in a.columns:
            rev = pd.to_numeric(a["revenue"], errors="coerce")
            revenue = revenue.combine_first(pd.Series(rev.to_numpy(), index=a["account_id"]))
        merged = part if merged is None else merged.merge(part, on="account_id", how="outer")
    assert merged is not None
    owners = merged[[f"owner_{r.label}" for r in runs]].fillna("")
    differs = owners.nunique(axis=1) > 1
    out = merged[differs].copy()
    for c in owners.columns:
        out[c] = out[c].fillna("")
    out["revenue"] = out["account_id"].map(revenue).astype(float)
    return out.sort_values("account_id", kind="stable").reset_index(drop=True)


def _side_by_side(runs: list[ComparedRun], key: str) -> pd.DataFrame:
    names: list[str] = []
    for r in runs:
        names += [k for k in (r.summary.get(key) or {}) if k not in names]
    data = {r.label: [(r.summary.get(key) or {}).get(k, np.nan) for k in names] for r in runs}
    return pd.DataFrame(data, index=pd.Index(names, name=key))


def _overview(runs: list[ComparedRun]) -> pd.DataFrame:
    rows = {
        "scenario": [r.manifest.get("scenario", "") for r in runs],
        "status": [r.summary.get("status", r.manifest.get("status", "")) for r in runs],
        "gap": [r.summary.get("gap", r.manifest.get("gap")) for r in runs],
        "total_quota": [float(r.annual["quota"].sum()) for r in runs],
        "key_accounts_moved": [(r.summary.get("key_accounts") or {}).get("moved") for r in runs],
        "changes": [len(r.manifest.get("changes") or []) for r in runs],
    }
    df = pd.DataFrame(rows, index=[r.label for r in runs]).T
    df.index.name = "item"
    return df


def _inputs(runs: list[ComparedRun]) -> pd.DataFrame:
    tables: list[str] = []
    for r in runs:
        tables += [t for t in (r.manifest.get("inputs") or {}) if t not in tables]
    rows = []
    for t in tables:
        got = [(r.manifest.get("inputs") or {}).get(t) or {} for r in runs]
        shas = [str(g.get("sha256", "")) for g in got]
        paths = [str(g.get("path", "")) for g in got]
        if len(set(shas)) > 1 or len(set(paths)) > 1:
            row: dict[str, Any] = {"input": t}
            for r, sha, p in zip(runs, shas, paths, strict=True):
                row[f"path_{r.label}"] = p or UNSET
                row[f"sha256_{r.label}"] = sha[:12] or UNSET
            rows.append(row)
    cols = ["input", *(f"{k}_{r.label}" for r in runs for k in ("path", "sha256"))]
    return pd.DataFrame(rows, columns=cols)


def _flatten(tree: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(tree, dict) and tree:
        out: dict[str, str] = {}
        for k, v in tree.items():
            if not prefix and k in _SKIP_SETTINGS:
                continue
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(tree, str):
        return {prefix: tree}
    return {prefix: json.dumps(tree, sort_keys=True, default=str)}


def _with_defaults(tree: Any) -> Any:
    """The resolved scenario with the current schema's defaults filled in, so a run made before a
    setting existed does not show it as a difference (unchanged when it does not validate)."""
    from allocopt.scenario.schema import Scenario

    try:
        return Scenario.model_validate_json(json.dumps(tree)).model_dump(mode="json")
    except ValueError:
        return tree


def _settings(runs: list[ComparedRun]) -> pd.DataFrame:
    flat = [_flatten(_with_defaults(r.manifest.get("resolved_scenario") or {})) for r in runs]
    keys: list[str] = []
    for f in flat:
        keys += [k for k in f if k not in keys]
    rows = []
    for k in sorted(keys):
        vals = [f.get(k, UNSET) for f in flat]
        if len(set(vals)) > 1:
            rows.append({"key": k, **{r.label: v for r, v in zip(runs, vals, strict=True)}})
    return pd.DataFrame(rows, columns=["key", *(r.label for r in runs)])
