"""What the example's steps share: the scenario settings the generated data is built to satisfy
(written into ``scenario.yaml`` by :mod:`.scenario_yaml`), the array types and :func:`_ids`."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

DEFAULT_PRODUCTS: tuple[str, ...] = ("HW", "SW", "SVC")

#: Scenario rules written into the YAML (the generated data is built to satisfy them).
OVER_ASSIGNMENT = 0.05
RAMP = (0.25, 0.5, 0.75)
FLOORS = {"rep": 100_000, "senior": 200_000}
MAX_ACCOUNTS = 8
MAX_WORKLOAD = 12
MOVE_COST = 0.05

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]


def _ids(prefix: str, n: int, width: int) -> StrArray:
    """``prefix`` + zero-padded 1..n (at least ``width`` digits)."""
    digits = max(width, len(str(n)))
    if n == 0:
        return np.array([], dtype=str)
    numbers = np.arange(1, n + 1).astype(str)
    return np.char.add(prefix, np.char.zfill(numbers, digits))
