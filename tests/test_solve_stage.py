"""The solve stage's one entry point picks the back end (solver.name) and writes the model file.

``allocopt.solve.solve`` with ``solver="highs"`` is the direct path; any other name goes through
Pyomo, and ``write_model`` ``*.mps`` is then written by HiGHS without solving anything. A tiny
LP by hand: min x + 2y s.t. x + y ≥ 3, y ≥ 1 → x = 2, y = 1, objective 4.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import highspy
import numpy as np
import pytest

from allocopt.errors import InputError
from allocopt.model.linear import Index, LinearModel
from allocopt.solve import check_solver, highs_options, solve


def _tiny() -> LinearModel:
    lm = LinearModel("tiny")
    v = lm.add_vars("v", Index.of(["x", "y"]))
    lm.add_rows("cover", Index.of(["all"]), [(np.zeros(2), v.cols(), 1.0)], 3.0)
    lm.add_rows("y_min", Index.of(["y"]), [(np.zeros(1), v.cols(np.array([1])), 1.0)], 1.0)
    lm.add_cost("cost", v.cols(), np.array([1.0, 2.0]))
    return lm


@pytest.mark.parametrize("name", ["highs", "glpk"])
def test_one_entry_point_for_every_back_end(name: str, tmp_path: Path) -> None:
    if name == "glpk" and shutil.which("glpsol") is None:
        pytest.skip("glpk is not installed (Debian: glpk-utils)")
    mps = tmp_path / "tiny.mps"
    res, comp = solve(_tiny(), highs_options(10, 0, 1, 0), solver=name, write_model=mps)
    assert res.status == "optimal" and comp is not None
    assert res.objective == pytest.approx(4.0)
    assert res.col_values is not None and res.col_values.tolist() == pytest.approx([2.0, 1.0])
    # the model file is the model as given, whichever back end solved it
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.readModel(str(mps))
    h.run()
    assert h.getInfo().objective_function_value == pytest.approx(4.0)


def test_check_solver() -> None:
    check_solver("highs", "scenario.yaml", "line 3")  # the direct path is always here
    with pytest.raises(InputError) as err:
        check_solver("no_such_solver", "scenario.yaml", "line 3")
    (problem,) = err.value.problems
    assert problem.field == "solver.name" and "choose highs" in problem.message
