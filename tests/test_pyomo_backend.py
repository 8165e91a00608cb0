"""Pyomo back ends reach the same optimum as the direct HiGHS path (solver.name).

CBC and GLPK are Debian packages (coinor-cbc, glpk-utils); their tests skip when absent.
HiGHS through Pyomo (appsi_highs) uses highspy, a hard dependency.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import highspy
import pytest
from click.testing import CliRunner

from allocopt.cli import main
from tests.conftest import Solve, annual, read_run
from tests.test_gap import DATA, gap

QUIET = ("--quiet", "--no-report")
EXAMPLE = Path(__file__).resolve().parents[1] / "scenarios" / "example" / "scenario.yaml"


def _need(name: str) -> None:
    binary = {"cbc": "cbc", "glpk": "glpsol"}.get(name)
    if binary is not None and shutil.which(binary) is None:
        pytest.skip(f"{name} is not installed (Debian: coinor-cbc / glpk-utils)")


@pytest.mark.parametrize("name", ["appsi_highs", "cbc"])
def test_example_same_optimum_as_direct(name: str, solve: Solve) -> None:
    """Same objective, key-account owners and (unique, tie-broken) quotas to the cent."""
    _need(name)
    exact = ["solver.mip_gap=0"]
    direct = solve(EXAMPLE, sets=exact, report=False)
    other = solve(EXAMPLE, sets=[*exact, f"solver.name={name}"], report=False)
    assert other.status == "optimal"
    qa, qb = direct.manifest["stages"]["quotas"], other.manifest["stages"]["quotas"]
    assert qb["solver"] == f"{name} via Pyomo"
    assert qb["objective"] == pytest.approx(qa["objective"], rel=1e-7)
    aa, ab = direct.manifest["stages"]["alignment"], other.manifest["stages"]["alignment"]
    assert ab["objective"] == pytest.approx(aa["objective"], rel=1e-9)
    owners = read_run(direct, "assignments.csv")
    assert read_run(other, "assignments.csv").equals(owners)
    assert annual(other) == annual(direct)
    assert read_run(other, "quotas.csv").equals(read_run(direct, "quotas.csv"))
    # the LP relaxation is kept for explain's shadow prices
    assert qb["lp_bound"] == pytest.approx(qa["lp_bound"], rel=1e-6)


@pytest.mark.parametrize("name", ["appsi_highs", "cbc", "glpk"])
@pytest.mark.parametrize("instance", ["cattrysse1994/gap1-0", "cattrysse1994/gap4-4"])
def test_gap_proven_optimum(name: str, instance: str, solve: Solve, tmp_path: Path) -> None:
    _need(name)
    if not (DATA / "optima.csv").is_file():
        pytest.skip(f"GAP benchmark data not found at {DATA} (shared/ beside the repository)")
    optimum = gap.load_optima(DATA)[instance]
    scenario = gap.write_scenario(
        gap.read_orlib(DATA / instance), tmp_path / "sc", "g", time_limit=60
    )
    res = solve(scenario, sets=[f"solver.name={name}"], report=False)
    stage = res.manifest["stages"]["alignment"]
    assert stage["status"] == "optimal" and stage["solver"] == f"{name} via Pyomo"
    objective = res.results.summary["objective_terms"]["alignment_disruption"]
    assert objective == pytest.approx(optimum, rel=0, abs=1e-6)


def test_write_model_lp_has_component_names(tmp_path: Path) -> None:
    """--write-model F.lp writes a CPLEX-LP file (Pyomo, symbolic names) that HiGHS reads back."""
    lp = tmp_path / "model.lp"
    res = CliRunner().invoke(
        main,
        ["solve", str(EXAMPLE), "--out", str(tmp_path / "run"), "--write-model", str(lp), *QUIET],
    )
    assert res.exit_code == 0, res.output
    text = lp.read_text()
    for name in ("quota(", "target(", "fairness_low("):
        assert name in text, name
    assert "assign(" in (tmp_path / "model-alignment.lp").read_text()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    assert h.readModel(str(lp)) == highspy.HighsStatus.kOk
    model = h.getLp()
    assert any(n.startswith("quota(") for n in model.col_names_)
    assert model.num_col_ > 0 and model.num_row_ > 0


def test_unavailable_solver_is_a_located_bad_setting(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        main,
        [
            "solve",
            str(EXAMPLE),
            "--set",
            "solver.name=no_such_solver",
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert res.exit_code == 2
    assert "solver.name: no_such_solver is not available on this machine" in res.stderr
    assert "choose highs" in res.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("name", ["appsi_highs", "cbc", "glpk"])
def test_lp_duals_follow_the_direct_sign_convention(name: str) -> None:
    """LP duals from a Pyomo back end are a dual optimum in HiGHS's convention (c − Aᵀy = rc,
    dual objective = primal objective), so explain's shadow prices read the same way. They need
    not equal HiGHS's own: the quota LP is dual degenerate."""
    import numpy as np

    from allocopt.model.build import build_quotas
    from allocopt.model.sets import alignment_from_incumbents, quota_sets
    from allocopt.pipeline import validate
    from allocopt.solve import highs_options, solve
    from allocopt.solve.pyomo import solve_pyomo

    _need(name)
    v = validate(EXAMPLE, sets=["rules.rounding.enabled=false"])
    lm = build_quotas(quota_sets(v.md, alignment_from_incumbents(v.md))).model
    opts = highs_options(60, 0.0, 1, 0)
    direct, comp = solve(lm, opts)
    res, _ = solve_pyomo(lm, name, opts)
    assert res.status == "optimal" and not res.is_mip
    assert res.objective == pytest.approx(direct.objective, rel=1e-7)
    y, rc = res.row_duals, res.col_duals
    assert y is not None and rc is not None
    assert comp is not None
    c = lm.cost()
    np.testing.assert_allclose(c - comp.matrix.T @ y, rc, atol=1e-6)
    lo, up = lm.row_bounds()
    lb, ub, _ = lm.bounds()
    y_active = np.abs(y) > 1e-9
    dual_obj = np.where(y > 0, lo, up)[y_active] @ y[y_active]
    rc_active = np.abs(rc) > 1e-9
    dual_obj += np.where(rc > 0, lb, ub)[rc_active] @ rc[rc_active]
    assert dual_obj == pytest.approx(direct.objective, rel=1e-6)


def test_infeasible_through_cbc_is_diagnosed_like_direct(tmp_path: Path) -> None:
    """An infeasible quota model found by CBC gets the same business diagnosis (HiGHS IIS)."""
    _need("cbc")
    scenario = EXAMPLE.with_name("infeasible-fairness.yaml")
    out = {}
    for name in ("highs", "cbc"):
        res = CliRunner().invoke(
            main,
            [
                *("solve", str(scenario), "--set", f"solver.name={name}"),
                *("--out", str(tmp_path / name), *QUIET),
            ],
        )
        assert res.exit_code == 1, res.output
        assert "the quota model is infeasible" in res.stderr
        out[name] = res.stderr.replace(str(tmp_path / name), "RUN")
    assert out["cbc"] == out["highs"]
    assert (tmp_path / "cbc" / "infeasible.json").is_file()


def test_settings_go_under_each_solvers_own_option_names() -> None:
    from allocopt.solve import highs_options
    from allocopt.solve.pyomo import native_options

    opts = highs_options(30.5, 0.02, 2, 7)
    assert native_options("cbc", opts) == {
        "sec": 30.5,
        "ratioGap": 0.02,
        "threads": 2,
        "randomCbcSeed": 7,
    }
    assert native_options("glpk", opts) == {"tmlim": 30, "mipgap": 0.02}  # whole seconds only
    assert native_options("gurobi", opts)["MIPGap"] == 0.02
    assert native_options("someone_elses_solver", opts) == {}
