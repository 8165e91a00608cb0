"""What every command shares besides rendering: :func:`_guard` (allocopt errors → message and
exit code, never a traceback), :func:`_on_signals` (Ctrl-C / SIGTERM remove the output being
written) and the --scenario/--set options."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click
from rich.markup import escape

from allocopt.cli.render import err
from allocopt.errors import AllocoptError

F = TypeVar("F", bound=Callable[..., Any])


INTERRUPT_NOTES: list[str] = []  # what a command adds to the interrupted message (sweep: --resume)


def _guard(fn: F) -> F:
    """Turn every allocopt error into its message and exit code; never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(click.get_current_context().find_root().params.get("debug"))
        try:
            with _on_signals():
                return fn(*args, **kwargs)
        except KeyboardInterrupt:
            from allocopt.errors import Interrupted
            from allocopt.outputs.runfolder import abort_all

            abort_all()
            exc_i = Interrupted(signal.SIGINT)
            err.print(f"error: {exc_i.render()}", markup=False, highlight=False)
            for note in INTERRUPT_NOTES:
                err.print(f"  - {note}", markup=False, highlight=False)
            sys.exit(exc_i.exit_code)
        except AllocoptError as exc:
            if debug:
                traceback.print_exc()
            err.print(f"[bold red]error:[/] {escape(exc.render())}", markup=True, highlight=False)
            sys.exit(exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, SystemExit):
            raise
        except Exception as exc:
            if debug:
                traceback.print_exc()
            err.print(
                f"internal error: {type(exc).__name__}: {exc} (run with --debug for details; "
                "please report it)",
                markup=False,
            )
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def _on_signals() -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM: remove the output being written, say so, exit 130 / 143.

    The handler exits at once (``os._exit``) rather than raising, because an exception raised
    while HiGHS runs a callback is swallowed by the solver. Renaming a finished run folder into
    place holds these signals (:mod:`allocopt.outputs.runfolder`), so it is never cut halfway.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    from allocopt.errors import Interrupted
    from allocopt.outputs.runfolder import abort_all

    def handler(signum: int, _frame: Any) -> None:
        abort_all()
        exc = Interrupted(signum)
        try:
            sys.stdout.flush()
            sys.stderr.write(f"error: {exc.render()}\n")
            for note in INTERRUPT_NOTES:
                sys.stderr.write(f"  - {note}\n")
            sys.stderr.flush()
        finally:
            os._exit(exc.exit_code)

    sigs = [signal.SIGINT, signal.SIGTERM]
    before = {s: signal.signal(s, handler) for s in sigs}
    try:
        yield
    finally:
        for s, h in before.items():
            signal.signal(s, h)


def _scenario_options(fn: F) -> F:
    """--scenario and --set, shared by validate and solve."""
    fn = click.option(
        "--set",
        "sets",
        multiple=True,
        metavar="KEY=VALUE",
        help="Set one key (dotted, e.g. rules.growth.max=0.25); wins over everything; repeatable.",
    )(fn)
    return click.option(
        "--scenario",
        "scenario_names",
        multiple=True,
        metavar="NAMES",
        help="Scenario or override names of the file, comma-separated, applied in order.",
    )(fn)
