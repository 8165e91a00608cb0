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

from allocopt.calendar import period_labels


def _finite(v: float) -> float:
    if not math.isfinite(v):
        raise ValueError("must be a finite number (not .inf or .nan)")
    return v


Num = Annotated[float, AfterValidator(_finite)]
NonNeg = Annotated[float, AfterValidator(_finite), Field(ge=0)]
Share = Annotated[float, AfterValidator(_finite), Field(ge=0, le=1)]

# Largest amount (currency) in the scenario and the data tables: float64 keeps cent precision up
# to 2**53 cents ≈ 9.0e13; larger values (1e300) are typos or wrong units (docs/data.md, "Limits").
MAX_AMOUNT = 1e13
# Largest ratio or weight (growth, shares, bands, objective weights).
MAX_RATIO = 1e6


def _bounded(limit: float, what: str) -> Any:
    def check(v: float) -> float:
        if abs(v) > limit:
            raise ValueError(
                f"is too large: {what} must be at most 1e{round(math.log10(limit))} in absolute "
                "value; correct the value"
                + (", or give all amounts in thousands" if what == "amounts" else "")
            )
        return v

    return AfterValidator(check)


_MAX = Field(json_schema_extra={"maximum": MAX_AMOUNT})
_MAX_R = Field(json_schema_extra={"maximum": MAX_RATIO})
# an amount of money, 0 … MAX_AMOUNT
Money = Annotated[
    float, AfterValidator(_finite), Field(ge=0), _MAX, _bounded(MAX_AMOUNT, "amounts")
]
# a ratio or weight, 0 … MAX_RATIO
Ratio = Annotated[
    float, AfterValidator(_finite), Field(ge=0), _MAX_R, _bounded(MAX_RATIO, "ratios")
]


def _first_days(v: dt.date) -> dt.date:
    if v.day > 28:
        raise ValueError(
            f"a fiscal year must start on day 1–28 of a month (fiscal months start on the same day "
            f"of every month, and not every month has a day {v.day}); use "
            f"{v.replace(day=28).isoformat()} or the 1st of the next month"
        )
    return v


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
    performance: Table | None = Field(
        None, description="Per-rep performance factors: rep_id, factor, reason, n_periods."
    )
    incentive_reps: Table | None = Field(
        None,
        description="Per-rep incentive terms (overrides the role's): rep_id, target_incentive "
        "or commission_rate.",
    )
    attainment_history: Table | None = Field(
        None,
        description="Earlier years' attainment per rep (before last year, which stays in reps): "
        "rep_id, year, quota, actual; gives the attainability rule each rep's own spread.",
    )


class Plan(_Strict):
    """The plan year."""

    fiscal_year_start: Annotated[dt.date, AfterValidator(_first_days)] = Field(
        description="First day of the fiscal year (YYYY-MM-DD)."
    )
    granularity: Literal["quarter", "month"] = Field(
        "quarter", description="Period of the phased quotas: Q1..Q4 or M01..M12."
    )
    currency: str = Field("EUR", description="Currency label used in reports.")


class UnitTarget(_Strict):
    """A fixed or bounded target for one org unit (optionally one product)."""

    unit: Ident = Field(description="An org unit ID.")
    product: Ident | None = Field(None, description="A product; omitted = all products together.")
    value: Money | None = Field(None, description="Exact target (excludes min/max).")
    min: Money | None = Field(None, description="Lower bound on the unit's total quota.")
    max: Money | None = Field(None, description="Upper bound on the unit's total quota.")

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

    by_product: dict[Ident, Money] = Field(description="Company target per product (currency).")
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

    max_share: Ratio = Field(1.0, description="Largest quota as a share of the rep's base.")
    min_share: Ratio = Field(0.0, description="Smallest quota as a share of the rep's base.")

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
    max: Annotated[Num, _bounded(MAX_RATIO, "ratios")] = Field(
        0.5, description="Highest growth against last year (e.g. 0.30 = +30%)."
    )
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

    by_role: dict[Ident, Money] = Field(default_factory=dict, description="Floor per role.")


class Pair(_Strict):
    """An (account, rep) pair."""

    account: Ident = Field(description="A key account ID.")
    rep: Ident = Field(description="A rep ID.")


class KeyAccountsRule(_Rule):
    """Each key account goes to exactly one eligible rep (generalized assignment)."""

    max_accounts: int | None = Field(None, ge=0, description="Most key accounts per rep.")
    max_workload: Money | None = Field(None, description="Most key-account workload per rep.")
    move_cost: Ratio = Field(
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
    band: Ratio | None = Field(
        0.25, description="Relative band around the group level (0.25 = ±25%); null = no band."
    )


class PhasingRule(_Rule):
    """Period quotas follow the seasonality profile, exactly or within a band."""

    mode: Literal["exact", "band"] = Field("exact", description="exact | band.")
    band: Share = Field(0.1, description="With mode band: allowed relative deviation per period.")


class RoundingRule(_Rule):
    """Annual quotas in whole multiples of ``unit``, totals kept exact."""

    unit: Annotated[
        float, AfterValidator(_finite), Field(gt=0), _MAX, _bounded(MAX_AMOUNT, "amounts")
    ] = Field(1000.0, description="Rounding unit (currency).")


class AttainabilityRule(_Rule):
    """Quota ≤ the (1 − p) quantile of the rep's sales (lognormal around last year × growth);
    optionally ≥ the (1 − max_p) quantile, so the share of reps expected at quota is in [p, max_p].
    """

    p: Annotated[float, AfterValidator(_finite), Field(gt=0, lt=1)] = Field(
        0.6, description="Least probability each rep has of reaching its quota (e.g. 0.6)."
    )
    max_p: Annotated[float, AfterValidator(_finite), Field(gt=0, lt=1)] | None = Field(
        None, description="Most probability of reaching it (no giveaways), e.g. 0.7; null = none."
    )
    growth: Annotated[float, AfterValidator(_finite), Field(gt=-1)] = Field(
        0.0, description="Expected growth of a rep's sales over last year's actual (0.08 = +8%)."
    )
    spread: NonNeg | None = Field(
        None,
        description="σ of log sales for every rep; null = each rep's own dispersion of log "
        "attainment over its years (data.attainment_history + last year), shrunk toward its "
        "team's dispersion of last year's log attainment (actual ÷ quota).",
    )
    min_spread: NonNeg = Field(0.05, description="Smallest σ used (a team with no dispersion).")
    default_spread: NonNeg = Field(
        0.15, description="σ when neither the team nor the company has two reps with history."
    )
    history_weight: NonNeg = Field(
        4.0,
        description="Years of evidence the team's σ counts for when a rep's own σ comes from its "
        "attainment history: σ_r² = (ν_r·s_r² + k·σ_team²)/(ν_r + k), ν_r = years − 1.",
    )

    @model_validator(mode="after")
    def _order(self) -> AttainabilityRule:
        if self.max_p is not None and self.max_p <= self.p:
            raise ValueError(f"max_p {self.max_p:g} must be above p {self.p:g}")
        return self


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
    attainability: AttainabilityRule = AttainabilityRule(enabled=False)


class Reference(_Strict):
    """Blend of the reference split that the objective stays close to."""

    potential: Ratio = Field(0.5, description="Weight of the potential-based split.")
    history: Ratio = Field(0.5, description="Weight of the history-based split.")
    performance: Ratio = Field(
        0.0,
        description="Weight of the performance-tilted split (the potential/history blend × each "
        "rep's credibility-weighted performance factor, data.performance); 0 = off.",
    )

    @model_validator(mode="after")
    def _positive(self) -> Reference:
        if self.potential + self.history <= 0:
            raise ValueError("potential + history must be positive")
        return self


class Weights(_Strict):
    """Objective weights (see models/allocation.md, section Objective)."""

    deviation: Ratio = Field(1.0, description="Distance from the reference split.")
    fairness: Ratio = Field(0.0, description="Spread of difficulty within groups.")
    disruption: Ratio = Field(1.0, description="Key-account move costs and pair costs.")
    phasing: Ratio = Field(
        0.1, description="Band phasing: distance of period quotas from the seasonal profile."
    )
    tiebreak: Ratio = Field(
        1e-4, description="Deterministic tie-break per currency unit (keep it small, ≥ 1e-5)."
    )


class PerformanceFactor(_Strict):
    """How per-rep performance factors enter the reference (models/allocation.md, objective).

    factor' = clip(1 + z · (factor − 1), min, max) with credibility z = n / (n + credibility),
    n = the rep's periods of evidence (the table's n_periods; blank = a full year's periods);
    reps without history (new hires) and reps not in the table get 1.
    """

    credibility: NonNeg = Field(
        4.0, description="k of the credibility weight z = n / (n + k), in periods."
    )
    min: NonNeg = Field(0.8, description="Lowest factor after shrinking.")
    max: NonNeg = Field(1.2, description="Highest factor after shrinking.")

    @model_validator(mode="after")
    def _order(self) -> PerformanceFactor:
        if self.min > 1 or self.max < 1:
            raise ValueError(
                f"min {self.min:g} and max {self.max:g} must bracket 1 (min ≤ 1 ≤ max)"
            )
        return self


class Objective(_Strict):
    """What the plan optimises."""

    reference: Reference = Reference()
    weights: Weights = Weights()
    performance_factor: PerformanceFactor = PerformanceFactor()


class Solver(_Strict):
    """HiGHS options."""

    time_limit: Annotated[float, AfterValidator(_finite), Field(gt=0, le=MAX_AMOUNT)] = Field(
        120.0,
        description=(
            "Wall-clock limit in seconds for the whole solve, from loading the files on (both "
            "stages, every block; writing the run folder comes after it). Reached with a plan: "
            "the plan is written, stamped time_limit with its gap; before the LP relaxation "
            "is solved: one decomposition round gives a point to round (past the limit), and "
            "a model that cannot be split exits 1, nothing written."
        ),
    )
    mip_gap: Share = Field(0.01, description="Relative MIP gap at which HiGHS stops.")
    threads: int = Field(
        1, ge=1, description="Solver threads (1 = deterministic and reproducible)."
    )
    seed: int = Field(0, ge=0, description="Solver random seed.")
    block_size: int | None = Field(
        None,
        ge=1,
        description=(
            "Most general integers per block of the rounding MIP; a larger one is split into "
            "independent blocks, its plan bounded by the blocks' Lagrangian bound (default: "
            "above 10000, one component per block; 1 = every component a block)."
        ),
    )
    workers: int | None = Field(
        None,
        ge=1,
        description=(
            "Processes solving the blocks (rounding MIP, Lagrangian bound, key-account alignment) "
            "and pricing the Dantzig–Wolfe packs of the quota LP (the same plan whatever the "
            "number; default: the cores available, at most 8; used only when a model is split "
            "into blocks; allocopt solve --workers N sets it, --scheduler runs them on Dask)."
        ),
    )
    alignment_block_size: int | None = Field(
        None,
        ge=1,
        description=(
            "Most key-account pairs per block of the alignment MIP; a larger one is split into "
            "its independent components (accounts joined by shared candidate reps), packed into "
            "blocks of at most this many — exact, the blocks share no row (default: above 20000 "
            "pairs, blocks of 5000)."
        ),
    )
    decompose_above: int | None = Field(
        None,
        ge=0,
        description=(
            "Quota models with more columns than this solve their LP relaxation (with rounding "
            "off, the LP itself) by Dantzig–Wolfe over the team/region blocks, priced on the "
            "company-total rows (default 200000; 0 = always)."
        ),
    )
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
    max_change: Ratio | None = Field(
        None, description="Most change of a rep's annual quota, as a share of the published one."
    )
    max_change_amount: Money | None = Field(
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
    factor: Annotated[NonNeg, _bounded(MAX_AMOUNT, "factors")] = Field(
        description="Multiplier (0.85 = 15% less); must be ≥ 0."
    )
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
    capacity: Money = Field(description="Annual capacity of a fully ramped full-time rep.")
    ly_quota: Money | None = Field(None, description="Last year's quota (usually none).")
    ly_actual: Money | None = Field(None, description="Last year's actual (usually none).")
    max_accounts: int | None = Field(None, ge=0, description="Most key accounts.")
    max_workload: Money | None = Field(None, description="Most key-account workload.")
    potential: dict[Ident, Money] = Field(
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


# ---- uncertainty (Monte Carlo sweeps: `allocopt sweep --draws N`) ----------------------------


class Correlation(_Strict):
    """Correlation of a shock within groups: each drawn entity's standard normal is
    z = sqrt(rho)·z_group + sqrt(1 − rho)·z_own, with one common z_group per group."""

    within: Literal["region", "team", "product"] = Field(
        description="Group sharing a common factor: region | team (of the rep; key accounts: of "
        "the incumbent) | product."
    )
    rho: Share = Field(description="Correlation between two entities of one group, in [0, 1].")


class Shock(_Strict):
    """A multiplicative market shock: every selected entity's value is multiplied by a factor
    drawn from the distribution (normal and triangular factors below 0 are cut at 0)."""

    name: Ident | None = Field(
        None,
        description="Label in reports (default: the target and the position, e.g. potential#1).",
    )
    on: Literal["potential", "key_account_revenue", "capacity", "target"] = Field(
        description="What is shocked: territory potential (per rep and product), key-account "
        "revenue (per account and product), capacity (per rep), company target (per product)."
    )
    region: Filter = Field(None, description="Only entities of these regions (not for target).")
    team: Filter = Field(None, description="Only entities of these teams (not for target).")
    product: Filter = Field(None, description="Only these products (not for capacity).")
    distribution: Literal["normal", "lognormal", "triangular"] = Field(
        description="normal (mean, sd) | lognormal (mean, sd of the log) | triangular "
        "(low, mode, high)."
    )
    mean: NonNeg = Field(1.0, description="normal and lognormal: mean factor.")
    sd: NonNeg | None = Field(
        None, description="normal: standard deviation of the factor; lognormal: of its log."
    )
    low: NonNeg | None = Field(None, description="triangular: lowest factor.")
    mode: NonNeg | None = Field(None, description="triangular: most likely factor.")
    high: NonNeg | None = Field(None, description="triangular: highest factor.")
    correlation: Correlation | None = Field(
        None, description="Correlation within a region, team or product (default: independent)."
    )

    @model_validator(mode="after")
    def _parameters(self) -> Shock:
        if self.distribution in ("normal", "lognormal"):
            if self.sd is None:
                raise ValueError(f"a {self.distribution} shock needs sd; add it (e.g. sd: 0.1)")
            if self.low is not None or self.mode is not None or self.high is not None:
                raise ValueError(
                    f"low/mode/high are for triangular shocks; a {self.distribution} shock "
                    "takes mean and sd"
                )
            if self.distribution == "lognormal" and self.mean <= 0:
                raise ValueError("a lognormal shock needs mean > 0")
        else:
            if self.low is None or self.mode is None or self.high is None:
                raise ValueError("a triangular shock needs low, mode and high; add them")
            if self.sd is not None:
                raise ValueError(
                    "sd is for normal/lognormal shocks; a triangular takes low/mode/high"
                )
            if not self.low <= self.mode <= self.high:
                raise ValueError(
                    f"needs low ≤ mode ≤ high (got {self.low:g}, {self.mode:g}, {self.high:g})"
                )
        if self.on == "target" and (self.region is not None or self.team is not None):
            raise ValueError("company targets are per product: a target shock takes no region/team")
        if self.on == "capacity" and self.product is not None:
            raise ValueError("capacity is per rep: a capacity shock takes no product filter")
        c = self.correlation
        if c is not None and self.on == "target" and c.within != "product":
            raise ValueError("a target shock can only be correlated within product")
        if c is not None and self.on == "capacity" and c.within == "product":
            raise ValueError("a capacity shock cannot be correlated within product")
        return self


class Uncertainty(_Strict):
    """Market uncertainty for Monte Carlo sweeps (docs/data.md, section Uncertainty)."""

    shocks: Annotated[list[Shock], Field(min_length=1)] = Field(
        description="Shocks, applied in order (factors of shocks on one entity multiply)."
    )

    @model_validator(mode="after")
    def _unique_names(self) -> Uncertainty:
        names = [s.name for s in self.shocks if s.name is not None]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"shock names used twice: {', '.join(dup)}; rename one")
        return self


# ---- incentive plans (read by `allocopt payout` and `allocopt evaluate`, never by the model) ----


class RateBand(_Strict):
    """One band of a rate table: ``rate`` is earned per unit of attainment in [start, end)."""

    start: Num = Field(description="Attainment where the band starts (1.0 = 100% of quota).")
    end: Num | None = Field(None, description="Attainment where it ends; null = open (last band).")
    rate: Num = Field(
        description="Payout multiplier per unit of attainment in the band (1 = linear, "
        "2 = accelerator paying double)."
    )


def _default_bands() -> list[RateBand]:
    return [RateBand(start=0.0, end=None, rate=1.0)]


class IncentivePlan(_Strict):
    """A role's incentive plan: payout = pay base × M(attainment) (docs/incentives.md).

    M(a) = 0 when a < threshold, else Σ_b rate_b · clip(min(a, cap) − start_b, 0, end_b − start_b);
    pay base = target incentive (× fte × share of the year employed) or commission rate × quota.
    """

    target_incentive: NonNeg | None = Field(
        None, description="Variable pay at 100% attainment for a full-time, full-year rep."
    )
    commission_rate: NonNeg | None = Field(
        None, description="Commission per unit of (weighted) sales at the plain rate (e.g. 0.03)."
    )
    threshold: NonNeg = Field(0.0, description="Below this attainment nothing is paid.")
    bands: list[RateBand] = Field(
        default_factory=_default_bands,
        description="Rate table by attainment: sorted, contiguous bands, rates ≥ 0.",
    )
    cap: NonNeg | None = Field(
        None, description="Attainment counted at most up to this (e.g. 2.0 = 200%); null = none."
    )

    @model_validator(mode="after")
    def _check(self) -> IncentivePlan:
        problems: list[str] = []
        if (self.target_incentive is None) == (self.commission_rate is None):
            problems.append("give exactly one of target_incentive and commission_rate")
        if not self.bands:
            problems.append("bands is empty; give at least one band")
        for i, b in enumerate(self.bands):
            if b.rate < 0:
                problems.append(f"bands[{i}] has a negative rate {b.rate:g}; rates must be ≥ 0")
            if b.start < 0:
                problems.append(f"bands[{i}] starts below 0 ({b.start:g}); start at 0 or above")
            if b.end is not None and b.end <= b.start:
                problems.append(
                    f"bands[{i}] ends at {b.end:g}, not after its start {b.start:g}; "
                    "give end > start"
                )
            if b.end is None and i < len(self.bands) - 1:
                problems.append(f"bands[{i}] is open (no end) but is not the last band")
        for i in range(1, len(self.bands)):
            prev, cur = self.bands[i - 1], self.bands[i]
            if cur.start < prev.start:
                problems.append(
                    f"bands are not sorted: bands[{i}] starts at {cur.start:g}, before "
                    f"bands[{i - 1}] ({prev.start:g}); sort them by start"
                )
            elif prev.end is not None and cur.start < prev.end:
                problems.append(
                    f"bands[{i}] (from {cur.start:g}) overlaps bands[{i - 1}] "
                    f"(up to {prev.end:g}); start each band where the previous one ends"
                )
            elif prev.end is not None and cur.start > prev.end:
                problems.append(
                    f"gap between bands[{i - 1}] (up to {prev.end:g}) and bands[{i}] "
                    f"(from {cur.start:g}); start each band where the previous one ends "
                    "(use rate 0 for a flat stretch)"
                )
        if self.cap is not None and self.cap <= self.threshold:
            problems.append(
                f"cap {self.cap:g} is not above threshold {self.threshold:g}: nothing could "
                "ever be paid; raise cap or lower threshold"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Incentives(_Strict):
    """Incentive plans per role, product weights, budget and the spread of sales outcomes."""

    roles: Annotated[dict[Ident, IncentivePlan], Field(min_length=1)] = Field(
        description="Plan per role (the reps table's role; blank role = rep)."
    )
    product_weights: dict[Ident, NonNeg] = Field(
        default_factory=dict,
        description="Credit weight per product in attainment (default 1 for each product).",
    )
    budget: NonNeg | None = Field(None, description="Company budget for variable pay.")
    prorate: bool = Field(
        True, description="Prorate target incentives by fte × share of the year employed."
    )
    spread: NonNeg = Field(
        0.15,
        description="σ of log(sales ÷ expected sales) over a whole year (lognormal); the "
        "remaining part of the year gets σ·√(share of the year remaining).",
    )
    correlation: Share = Field(
        0.3, description="Share of the variance common to all reps (a market-wide shock)."
    )


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
    uncertainty: Uncertainty | None = Field(
        None, description="Market shocks for Monte Carlo sweeps (`allocopt sweep --draws`)."
    )
    overrides: dict[Ident, dict[str, Any]] = Field(
        default_factory=dict, description="Named partial trees (dotted keys allowed)."
    )
    scenarios: dict[Ident, list[Ident]] = Field(
        default_factory=dict, description="Named lists of overrides."
    )
    incentives: Incentives | None = Field(
        None, description="Incentive plans (variable pay) per role, for `allocopt payout`."
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

    @model_validator(mode="after")
    def _incentive_products(self) -> Scenario:
        if self.incentives is None:
            return self
        known = ", ".join(self.products)
        located: list[tuple[tuple[str | int, ...], str]] = [
            (
                ("incentives", "product_weights", p),
                f"{p!r} is not one of the products ({known}); remove it or correct it",
            )
            for p in self.incentives.product_weights
            if p not in self.products
        ]
        if located:
            raise PydanticCustomError(
                "located",
                "{summary}",
                {"summary": "; ".join(m for _, m in located), "located": located},
            )
        return self

    @property
    def periods(self) -> tuple[str, ...]:
        """Period labels of the plan (:func:`allocopt.calendar.period_labels`)."""
        return period_labels(self.plan.granularity)


_JSON_BOUNDS = {
    "ge": "minimum",
    "le": "maximum",
    "gt": "exclusiveMinimum",
    "lt": "exclusiveMaximum",
}


def json_schema() -> dict[str, Any]:
    """The scenario file's JSON Schema (``allocopt schema``). pydantic writes a bound given
    after a validator (``Annotated[float, AfterValidator(...), Field(ge=0)]``: NonNeg, Share
    and many fields) as ``ge``/``le``, which JSON Schema does not know, so an editor would accept
    ``rho: 1.5``; they are written as ``minimum``/``maximum`` (exclusive for gt/lt) here."""

    def fix(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                if k in _JSON_BOUNDS and isinstance(v, int | float) and not isinstance(v, bool):
                    out[_JSON_BOUNDS[k]] = v
                else:
                    out[k] = fix(v)
            return out
        if isinstance(node, list):
            return [fix(v) for v in node]
        return node

    result: dict[str, Any] = fix(Scenario.model_json_schema())
    return result
