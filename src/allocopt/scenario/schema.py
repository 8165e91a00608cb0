"""The scenario file schema (pydantic v2): strict types, unknown keys rejected, finite numbers.

Every field is documented here; ``allocopt schema`` prints the JSON Schema generated from it.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError


def _finite(v: float) -> float:
    if not math.isfinite(v):
        raise ValueError("must be a finite number (not .inf or .nan)")
    return v


Num = Annotated[float, AfterValidator(_finite)]
NonNeg = Annotated[float, AfterValidator(_finite), Field(ge=0)]
Share = Annotated[float, AfterValidator(_finite), Field(ge=0, le=1)]
Ident = Annotated[str, Field(min_length=1, pattern=r"^[^\s,]([^,]*[^\s,])?$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TableRef(_Strict):
    """A data table stored as a sheet of an Excel workbook (CSV and Parquet are given as a path)."""

    path: str = Field(description="Path of the file, relative to the scenario file.")
    sheet: str | None = Field(None, description="Sheet name, for Excel workbooks.")


Table = str | TableRef


class DataTables(_Strict):
    """Where the data tables are (paths relative to the scenario file)."""

    org_units: Table = Field(description="Organisation tree: unit_id, parent_id, name, level.")
    reps: Table = Field(description="Reps: rep_id, team_id, fte, dates, capacity, history.")
    potential: Table = Field(description="Territory potential: rep_id, product, potential.")
    accounts: Table = Field(description="Accounts: account_id, product, revenue, key, incumbent.")
    candidates: Table | None = Field(
        None, description="Eligible key-account pairs: account_id, rep_id, cost, workload."
    )
    seasonality: Table = Field(description="Seasonality: product, period, weight.")
    actuals: Table | None = Field(None, description="Actuals: rep_id, product, period, amount.")


class Plan(_Strict):
    """The plan year."""

    fiscal_year_start: dt.date = Field(description="First day of the fiscal year (YYYY-MM-DD).")
    granularity: Literal["quarter", "month"] = Field(
        "quarter", description="Period of the phased quotas: Q1..Q4 or M01..M12."
    )
    currency: str = Field("EUR", description="Currency label used in reports.")


class UnitTarget(_Strict):
    """A fixed or bounded target for one org unit (optionally one product)."""

    unit: Ident = Field(description="An org unit ID.")
    product: Ident | None = Field(None, description="A product; omitted = all products together.")
    value: NonNeg | None = Field(None, description="Exact target (excludes min/max).")
    min: NonNeg | None = Field(None, description="Lower bound on the unit's total quota.")
    max: NonNeg | None = Field(None, description="Upper bound on the unit's total quota.")

    @model_validator(mode="after")
    def _one_kind(self) -> UnitTarget:
        if self.value is None and self.min is None and self.max is None:
            raise ValueError("give value, or min and/or max")
        if self.value is not None and (self.min is not None or self.max is not None):
            raise ValueError("give either value or min/max, not both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}; lower min or raise max")
        return self


class Targets(_Strict):
    """Company targets and the over-assignment cushion."""

    by_product: dict[Ident, NonNeg] = Field(description="Company target per product (currency).")
    over_assignment: Annotated[float, AfterValidator(_finite), Field(ge=0, le=1)] = Field(
        0.0, description="Cushion: reps' quotas add up to target × (1 + over_assignment)."
    )
    units: list[UnitTarget] = Field(
        default_factory=list, description="Fixed or bounded org-unit targets."
    )


class _Rule(_Strict):
    enabled: bool = Field(True, description="Switch the rule on or off.")


class CapacityRule(_Rule):
    """Quota ≤ capacity × FTE × ramp, prorated to the months a rep works."""

    ramp: list[Share] = Field(
        default_factory=lambda: [0.25, 0.5, 0.75],
        description="Share of full capacity in month 1, 2, ... after the start date; 1 after.",
    )


class PotentialRule(_Rule):
    """min_share × base ≤ quota ≤ max_share × base, base = potential + key-account revenue."""

    max_share: NonNeg = Field(1.0, description="Largest quota as a share of the rep's base.")
    min_share: NonNeg = Field(0.0, description="Smallest quota as a share of the rep's base.")

    @model_validator(mode="after")
    def _order(self) -> PotentialRule:
        if self.min_share > self.max_share:
            raise ValueError(
                f"min_share {self.min_share:g} is above max_share {self.max_share:g}; "
                "lower min_share or raise max_share"
            )
        return self


class GrowthRule(_Rule):
    """(1 + min) × last year ≤ quota ≤ (1 + max) × last year, for reps with history."""

    min: Annotated[float, AfterValidator(_finite), Field(ge=-1)] = Field(
        -0.2, description="Lowest growth against last year (e.g. -0.10 = at most 10% less)."
    )
    max: Num = Field(0.5, description="Highest growth against last year (e.g. 0.30 = +30%).")
    basis: Literal["actual", "quota"] = Field(
        "actual", description="Compare with last year's actual or last year's quota."
    )

    @model_validator(mode="after")
    def _order(self) -> GrowthRule:
        if self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}; lower min or raise max")
        return self


class FloorsRule(_Rule):
    """Minimum annual quota by role (prorated by FTE and the share of the year worked)."""

    by_role: dict[Ident, NonNeg] = Field(default_factory=dict, description="Floor per role.")


class Pair(_Strict):
    """An (account, rep) pair."""

    account: Ident = Field(description="A key account ID.")
    rep: Ident = Field(description="A rep ID.")


class KeyAccountsRule(_Rule):
    """Each key account goes to exactly one eligible rep (generalized assignment)."""

    max_accounts: int | None = Field(None, ge=0, description="Most key accounts per rep.")
    max_workload: NonNeg | None = Field(None, description="Most key-account workload per rep.")
    move_cost: NonNeg = Field(
        0.0,
        description="Cost of moving an account from its incumbent, as a share of its revenue.",
    )
    locked: list[Pair] = Field(default_factory=list, description="Pairs that must be assigned.")
    forbidden: list[Pair] = Field(
        default_factory=list, description="Pairs that must not be assigned."
    )


class FairnessRule(_Rule):
    """Difficulty (quota ÷ base) within ±band of the level of the rep's group."""

    level: Literal["team", "region", "company"] = Field(
        "team", description="Group whose difficulty level each rep is compared with."
    )
    band: NonNeg | None = Field(
        0.25, description="Relative band around the group level (0.25 = ±25%); null = no band."
    )


class PhasingRule(_Rule):
    """Period quotas follow the seasonality profile, exactly or within a band."""

    mode: Literal["exact", "band"] = Field("exact", description="exact | band.")
    band: Share = Field(0.1, description="With mode band: allowed relative deviation per period.")


class RoundingRule(_Rule):
    """Annual quotas in whole multiples of ``unit``, totals kept exact."""

    unit: Annotated[float, AfterValidator(_finite), Field(gt=0)] = Field(
        1000.0, description="Rounding unit (currency)."
    )


class Rules(_Strict):
    """The business rules and their parameters; each can be switched off."""

    capacity: CapacityRule = CapacityRule()
    potential: PotentialRule = PotentialRule()
    growth: GrowthRule = GrowthRule()
    floors: FloorsRule = FloorsRule()
    key_accounts: KeyAccountsRule = KeyAccountsRule()
    fairness: FairnessRule = FairnessRule()
    phasing: PhasingRule = PhasingRule()
    rounding: RoundingRule = RoundingRule(enabled=False)


class Reference(_Strict):
    """Blend of the reference split that the objective stays close to."""

    potential: NonNeg = Field(0.5, description="Weight of the potential-based split.")
    history: NonNeg = Field(0.5, description="Weight of the history-based split.")

    @model_validator(mode="after")
    def _positive(self) -> Reference:
        if self.potential + self.history <= 0:
            raise ValueError("potential + history must be positive")
        return self


class Weights(_Strict):
    """Objective weights (see models/allocation.md, section Objective)."""

    deviation: NonNeg = Field(1.0, description="Distance from the reference split.")
    fairness: NonNeg = Field(0.0, description="Spread of difficulty within groups.")
    disruption: NonNeg = Field(1.0, description="Key-account move costs and pair costs.")
    phasing: NonNeg = Field(
        0.1, description="Band phasing: distance of period quotas from the seasonal profile."
    )
    tiebreak: NonNeg = Field(
        1e-4, description="Deterministic tie-break per currency unit (keep it small, ≥ 1e-5)."
    )


class Objective(_Strict):
    """What the plan optimises."""

    reference: Reference = Reference()
    weights: Weights = Weights()


class Solver(_Strict):
    """HiGHS options."""

    time_limit: Annotated[float, AfterValidator(_finite), Field(gt=0)] = Field(
        120.0, description="Wall-clock limit in seconds."
    )
    mip_gap: Share = Field(0.01, description="Relative MIP gap at which HiGHS stops.")
    threads: int = Field(
        1, ge=1, description="Solver threads (1 = deterministic and reproducible)."
    )
    seed: int = Field(0, ge=0, description="Solver random seed.")
    name: str = Field(
        "highs",
        pattern=r"^[A-Za-z][A-Za-z0-9_]*$",
        description=(
            "highs = HiGHS directly (fastest); any other name is a Pyomo SolverFactory solver "
            "solved through Pyomo, e.g. cbc, glpk, appsi_highs (HiGHS via Pyomo), gurobi, cplex."
        ),
    )


class Output(_Strict):
    """Where runs are written."""

    directory: str = Field("runs", description="Run folders go here (relative to the scenario).")


class Replan(_Strict):
    """Mid-year re-plan: freeze the booked periods of a published plan, re-optimise the rest."""

    published: str = Field(
        description="Run folder of the published plan (relative to the scenario file)."
    )
    as_of: Ident | None = Field(
        None,
        description="Last booked period (frozen with it); default: the last period with actuals.",
    )
    max_change: NonNeg | None = Field(
        None, description="Most change of a rep's annual quota, as a share of the published one."
    )
    max_change_amount: NonNeg | None = Field(
        None, description="Most change of a rep's annual quota, in currency."
    )
    max_moves: int | None = Field(
        None, ge=0, description="Most key accounts moved away from their published owner."
    )


# ---- data operations (applied to the tables after reading, before the cross-table checks) ----


def _as_list(v: Any) -> Any:
    """A single ID is accepted where a list of IDs is expected: ``region: NORTH``."""
    return [v] if isinstance(v, str) else v


IdList = Annotated[list[Ident], Field(min_length=1)]
Filter = Annotated[IdList | None, BeforeValidator(_as_list)]
OpTable = Literal["potential", "accounts", "reps", "candidates"]


class Where(_Strict):
    """Row filter of ``scale``/``set``: a row matches when it matches every filter given (and
    any of the values listed within one filter). No filter = every row of the table."""

    region: Filter = Field(
        None,
        description="Regions: the nearest org unit of level region above the row's rep's team "
        "(reps/potential/candidates: rep_id; accounts: incumbent_rep).",
    )
    team: Filter = Field(
        None, description="Teams: the team_id of the row's rep (accounts: of the incumbent)."
    )
    product: Filter = Field(None, description="Products (potential and accounts only).")
    rep: Filter = Field(None, description="Reps: rep_id (accounts: incumbent_rep).")
    account: Filter = Field(None, description="Accounts: account_id (accounts and candidates).")


class ScaleOp(_Strict):
    """Multiply a numeric column by ``factor`` on the rows that match ``where``."""

    op: Literal["scale"] = Field(description="scale")
    table: OpTable = Field(description="potential | accounts | reps | candidates.")
    column: Ident = Field(description="A numeric column of the table (e.g. potential, revenue).")
    factor: NonNeg = Field(description="Multiplier (0.85 = 15% less); must be ≥ 0.")
    where: Where = Field(default_factory=Where, description="Row filter (default: every row).")


class SetOp(_Strict):
    """Set a column to one value on the rows that match ``where``."""

    op: Literal["set"] = Field(description="set")
    table: OpTable = Field(description="potential | accounts | reps | candidates.")
    column: Ident = Field(description="A column of the table that is not part of its key.")
    value: bool | Num | dt.date | str | None = Field(
        description="New value, checked like a cell of the column (number, date, text, "
        "true/false); null = blank, for columns that may be blank."
    )
    where: Where = Field(default_factory=Where, description="Row filter (default: every row).")


class RemoveRepsOp(_Strict):
    """Attrition: remove reps from reps, potential, candidates and actuals."""

    op: Literal["remove_reps"] = Field(description="remove_reps")
    reps: IdList = Field(description="Rep IDs to remove.")
    cover: Literal["team", "none"] = Field(
        "team",
        description="team: each product's potential of a leaver is spread over the remaining "
        "reps of the same team in proportion to their own potential; none: it is dropped.",
    )


class NewRep(_Strict):
    """A new hire: the reps-table columns plus the territory potential."""

    rep_id: Ident = Field(description="A new rep ID.")
    team_id: Ident = Field(description="An org unit ID.")
    name: str = Field("", description="Display name.")
    role: str = Field("", description="Role (blank = rep).")
    fte: Annotated[float, AfterValidator(_finite), Field(gt=0, le=1)] = Field(
        1.0, description="Full-time equivalent, in (0, 1]."
    )
    start_date: dt.date | None = Field(None, description="Start date (blank = whole year).")
    end_date: dt.date | None = Field(None, description="End date (blank = stays).")
    capacity: NonNeg = Field(description="Annual capacity of a fully ramped full-time rep.")
    ly_quota: NonNeg | None = Field(None, description="Last year's quota (usually none).")
    ly_actual: NonNeg | None = Field(None, description="Last year's actual (usually none).")
    max_accounts: int | None = Field(None, ge=0, description="Most key accounts.")
    max_workload: NonNeg | None = Field(None, description="Most key-account workload.")
    potential: dict[Ident, NonNeg] = Field(
        default_factory=dict, description="Territory potential per product."
    )
    take_from: list[Ident] = Field(
        default_factory=list,
        description="Reps whose potential is handed over: each product's potential above is "
        "taken from them in proportion to their own; empty = new market.",
    )


class AddRepsOp(_Strict):
    """New hires with their start dates and territory potential."""

    op: Literal["add_reps"] = Field(description="add_reps")
    reps: Annotated[list[NewRep], Field(min_length=1)] = Field(description="The new reps.")


class MoveRepOp(_Strict):
    """Move a rep (with territory potential, accounts and actuals) to another team."""

    op: Literal["move_rep"] = Field(description="move_rep")
    rep: Ident = Field(description="A rep ID.")
    team: Ident = Field(description="The new team (an org unit ID).")


Operation = Annotated[
    ScaleOp | SetOp | RemoveRepsOp | AddRepsOp | MoveRepOp, Field(discriminator="op")
]


class Scenario(_Strict):
    """An allocopt scenario: data, targets, rules, objective, solver and output settings."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")] = Field(
        description="Scenario name (letters, digits, _ . -); used in run folder names."
    )
    description: str = Field("", description="Free text.")
    extends: str | None = Field(None, description="Base scenario file this one extends.")
    plan: Plan
    data: DataTables
    products: list[Ident] = Field(min_length=1, description="Product IDs.")
    targets: Targets
    rules: Rules = Rules()
    objective: Objective = Objective()
    solver: Solver = Solver()
    output: Output = Output()
    operations: list[Operation] = Field(
        default_factory=list,
        description="Data operations applied in order to the tables after reading them and "
        "before the cross-table checks (scale, set, remove_reps, add_reps, move_rep).",
    )
    replan: Replan | None = Field(None, description="Mid-year re-plan settings.")
    overrides: dict[Ident, dict[str, Any]] = Field(
        default_factory=dict, description="Named partial trees (dotted keys allowed)."
    )
    scenarios: dict[Ident, list[Ident]] = Field(
        default_factory=dict, description="Named lists of overrides."
    )

    @field_validator("products")
    @classmethod
    def _unique_products(cls, v: list[str]) -> list[str]:
        dup = sorted({p for p in v if v.count(p) > 1})
        if dup:
            raise ValueError(f"products listed twice: {', '.join(dup)}")
        return v

    @model_validator(mode="after")
    def _replan_needs_exact_phasing(self) -> Scenario:
        ph = self.rules.phasing
        if self.replan is not None and ph.enabled and ph.mode == "band":
            raise ValueError(
                "a re-plan phases the remaining periods by the rep's profile: set "
                "rules.phasing.mode to exact (band phasing is not supported in re-plans)"
            )
        return self

    @model_validator(mode="after")
    def _targets_cover_products(self) -> Scenario:
        # Raised as one "located" error: ctx["located"] lists (key path, message) pairs, which
        # the loader reports each at its own place in the file.
        have, want = self.targets.by_product, set(self.products)
        known = ", ".join(self.products)
        located: list[tuple[tuple[str | int, ...], str]] = []
        for p in self.products:
            if p not in have:
                located.append(
                    (("targets", "by_product"), f"has no target for product {p!r}; add it")
                )
        for p in have:
            if p not in want:
                msg = f"{p!r} is not one of the products ({known}); remove it or add it to products"
                located.append((("targets", "by_product", p), msg))
        for i, u in enumerate(self.targets.units):
            if u.product is not None and u.product not in want:
                msg = f"unknown product; the products are {known}; correct it"
                located.append((("targets", "units", i, "product"), msg))
        if located:
            raise PydanticCustomError(
                "located",
                "{summary}",
                {"summary": "; ".join(m for _, m in located), "located": located},
            )
        return self

    @property
    def periods(self) -> tuple[str, ...]:
        """Period labels of the plan."""
        if self.plan.granularity == "quarter":
            return ("Q1", "Q2", "Q3", "Q4")
        return tuple(f"M{m:02d}" for m in range(1, 13))
