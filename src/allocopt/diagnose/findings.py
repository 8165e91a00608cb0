"""A diagnosis finding (:class:`Finding`: rule, scope, message, settings to relax) and the money
format its messages use."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

TOL = 1e-6


@dataclass
class Finding:
    """One reason the plan is infeasible."""

    rule: str
    scope: str  # "company", "unit T07", "rep R0042", "key account A00012" ...
    message: str
    relax: list[str] = field(default_factory=list)  # scenario keys or data columns to change
    numbers: dict[str, float] = field(default_factory=dict)

    def text(self) -> str:
        tail = f" — relax: {', '.join(self.relax)}" if self.relax else ""
        return f"{self.scope}: {self.message}{tail}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _m(x: float) -> str:
    """Money for messages: 5.3M, 250k, 1,234."""
    a = abs(x)
    if a >= 1e6:
        return f"{x / 1e6:,.2f}M"
    if a >= 1e4:
        return f"{x / 1e3:,.1f}k"
    return f"{x:,.0f}"
