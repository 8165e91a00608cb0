"""Number formats shared by the HTML report and the web page.

Public entry point: :func:`short_money` (an amount in at most a few characters for chart axes).
"""

from __future__ import annotations


def short_money(v: float) -> str:
    """An amount for chart axes and labels: 1.2B, 3.4M, 56k, 789."""
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:,.1f}B"
    if a >= 1e6:
        return f"{v / 1e6:,.1f}M"
    if a >= 1e3:
        return f"{v / 1e3:,.0f}k"
    return f"{v:,.0f}"
