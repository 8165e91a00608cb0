"""Shared fixtures: solve a scenario and verify the run independently, every time.

Hypothesis profiles (loaded here, before any test module builds its ``settings``): the default
draws new random examples on every run (and replays failures from .hypothesis/); ``ci`` (when the
environment variable ``CI`` or ``ALLOCOPT_CI`` is set; .ci/run sets it) is derandomized, so CI
runs the same examples on every run and a clean clone reproduces them, with no example database,
no deadline, and a failure prints its ``@reproduce_failure`` blob. ``ALLOCOPT_HYPOTHESIS_TIMES=N``
runs every property test with N × its ``max_examples`` (bug hunting, no database).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, settings

from allocopt.compose import verify_run
from allocopt.pipeline import RunOutcome, run

Solve = Callable[..., RunOutcome]

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
if os.environ.get("CI") or os.environ.get("ALLOCOPT_CI"):
    settings.load_profile("ci")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``ALLOCOPT_HYPOTHESIS_TIMES=N``: every property test runs N × its max_examples."""
    times = int(os.environ.get("ALLOCOPT_HYPOTHESIS_TIMES") or 1)
    if times == 1:
        return
    for item in items:
        fn = getattr(item, "obj", None)
        if fn is not None and hasattr(fn, "hypothesis"):
            own = fn._hypothesis_internal_use_settings
            fn._hypothesis_internal_use_settings = settings(
                own, max_examples=own.max_examples * times, database=None
            )


@pytest.fixture
def solve(tmp_path: Path) -> Solve:
    """Solve a scenario into a fresh run folder and assert the independent verifier passes."""
    counter = iter(range(1_000_000))

    def _solve(scenario: Path, *, verify: bool = True, **kwargs: object) -> RunOutcome:
        out = tmp_path / f"run{next(counter)}"
        res = run(scenario, out=out, **kwargs)  # type: ignore[arg-type]
        if verify:
            v = verify_run(res.run_dir)
            assert v.ok, v.violations.to_string()
        return res

    return _solve


def annual(res: RunOutcome) -> dict[tuple[str, str], float]:
    """{(rep, product): annual quota} of a run."""
    a = res.results.annual
    return {(r, p): float(q) for r, p, q in zip(a["rep_id"], a["product"], a["quota"], strict=True)}


def periods(res: RunOutcome, rep: str, product: str) -> list[float]:
    """Period quotas of one rep × product, in period order."""
    q = res.results.quotas
    sel = q[(q["rep_id"] == rep) & (q["product"] == product)]
    return [float(x) for x in sel["quota"]]


def read_run(res: RunOutcome, name: str) -> pd.DataFrame:
    return pd.read_csv(res.run_dir / name, dtype=str, keep_default_na=False)


@pytest.fixture(scope="session")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped example plan solved once per test session (read-only: copy it to change it)."""
    root = Path(__file__).resolve().parents[1] / "scenarios" / "example"
    res = run(root / "scenario.yaml", out=tmp_path_factory.mktemp("example-run") / "run")
    return res.run_dir
