"""Error taxonomy with fixed exit codes.

Exit codes (documented in the README):

* 0 — success (a MIP stopped by its time limit with an incumbent is still 0, stamped with its gap)
* 1 — the plan cannot be made: infeasible model (:class:`InfeasibleError`) or solver trouble
  (:class:`SolverError`)
* 2 — bad input: scenario file, data tables, command-line usage (:class:`InputError`)
* 3 — an output would be overwritten or could not be written (:class:`OutputError`)
* 130 — interrupted by Ctrl-C (SIGINT), 143 — terminated (SIGTERM) (:class:`Interrupted`); the
  output being written is removed, nothing is left half-written
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One located problem in the input.

    ``file`` is the file the problem is in, ``where`` a line/column ("line 12, column 3") or a
    spreadsheet row ("row 7"), ``field`` the key path or column, ``message`` what is wrong and
    what to do about it.
    """

    file: str
    where: str
    field: str
    message: str
    value: str = ""

    def __str__(self) -> str:
        loc = self.file
        if self.where:
            loc += f":{self.where}"
        head = f"{loc}: {self.field}" if self.field else loc
        val = f" (value {self.value!r})" if self.value else ""
        return f"{head}: {self.message}{val}"


class AllocoptError(Exception):
    """Base of every error allocopt reports to the user (never shown as a traceback)."""

    exit_code = 1

    def __init__(self, message: str, *, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details or [])

    def render(self) -> str:
        lines = [self.message, *(f"  - {d}" for d in self.details)]
        return "\n".join(lines)


class InputError(AllocoptError):
    """Bad scenario, data or usage: every problem listed with file, place and field. Exit 2."""

    exit_code = 2

    def __init__(self, problems: list[Problem] | Problem, header: str | None = None) -> None:
        plist = [problems] if isinstance(problems, Problem) else list(problems)
        self.problems = sorted(set(plist), key=_problem_order)
        n = len(self.problems)
        head = header or f"{n} problem{'s' if n != 1 else ''} in the input"
        super().__init__(head, details=[str(p) for p in self.problems])


def _problem_order(p: Problem) -> tuple[str, int, str, str]:
    digits = "".join(ch if ch.isdigit() else " " for ch in p.where).split()
    first = int(digits[0]) if digits else 0
    return (p.file, first, p.field, p.message)


class InfeasibleError(AllocoptError):
    """The rules cannot all hold at once. Exit 1, with a business-language explanation."""

    exit_code = 1


class SolverError(AllocoptError):
    """The solver failed, or stopped without any solution. Exit 1."""

    exit_code = 1


class OutputError(AllocoptError):
    """An output exists and --force was not given, or it could not be written. Exit 3."""

    exit_code = 3


class Interrupted(AllocoptError):
    """Stopped by a signal: exit 128 + the signal number (130 for Ctrl-C / SIGINT, 143 for
    SIGTERM). The run folder being written is removed."""

    exit_code = 130

    def __init__(self, signum: int = 2) -> None:
        import signal

        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        super().__init__(
            f"interrupted ({name}): stopped; the output being written (if any) was removed, "
            "nothing is left half-written"
        )
        self.signum = signum
        self.exit_code = 128 + signum
