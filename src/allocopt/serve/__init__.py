"""``allocopt serve``: live monitoring of a plan against actuals in the browser.

Public entry point: :func:`serve` (check the bind rules, read the run folders, watch the actuals,
run the web server until interrupted), built from :func:`~allocopt.serve.monitor.load_plan`,
:class:`~allocopt.serve.monitor.Monitor` and :func:`~allocopt.serve.app.create_app`.

Framework: Starlette on uvicorn — small, well kept, async (one process serves pages while a
watcher thread polls the actuals), with no JavaScript or CSS of its own; pages are Jinja2
templates (autoescaped) with server-drawn SVG charts and one small packaged script that polls a
version number. Nothing is loaded from the network.

Safety: binds 127.0.0.1 by default; any other address needs a token (exit 2 without one).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
from collections.abc import Callable
from pathlib import Path

from allocopt.errors import InputError, Problem

__all__ = ["check_bind", "serve"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Exit 2 unless ``host`` is a loopback address or a token guards the server."""
    if token is not None and not token.strip():
        raise InputError(Problem("--token", "", "", "must not be empty"))
    if token is None and not _is_loopback(host):
        raise InputError(
            Problem(
                "--host",
                "",
                "",
                "binding to a non-loopback address exposes the plan to the network; "
                "add --token T (every request must then send it), or bind 127.0.0.1",
                value=host,
            )
        )


def serve(
    run_dir: Path,
    actuals: Path,
    *,
    run_b: Path | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    as_of: dt.date | None = None,
    threshold: float = 0.9,
    poll: float = 1.0,
    ready: Callable[[str], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> None:
    """Serve the monitor until interrupted; ``ready`` gets the URL once the socket listens and
    ``warn`` the actuals' error when they cannot be read at start (the server runs anyway and
    shows the numbers as soon as the file is fixed).

    ``port`` 0 picks a free port (the URL given to ``ready`` names it).
    """
    import uvicorn

    from allocopt.serve.app import create_app
    from allocopt.serve.monitor import Monitor, load_plan

    check_bind(host, token)
    if not threshold > 0:
        raise InputError(Problem("--threshold", "", "", "must be > 0", value=f"{threshold:g}"))
    plan = load_plan(Path(run_dir), "A")
    plan_b = load_plan(Path(run_b), "B") if run_b is not None else None
    if as_of is not None and as_of < plan.fiscal_year_start:
        raise InputError(
            Problem(
                "--as-of",
                "",
                "",
                f"is before the fiscal year starts ({plan.fiscal_year_start.isoformat()})",
                value=as_of.isoformat(),
            )
        )
    monitor = Monitor(plan, Path(actuals), plan_b=plan_b, as_of=as_of, threshold=threshold)
    monitor.poll()  # the first page has numbers at once
    error = monitor.snapshot().error
    if error and warn is not None:
        warn(error)
    app = create_app(monitor, token=token, poll=poll)
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise InputError(
            Problem(
                "--port", "", "", f"cannot listen on {host}:{port}: {exc.strerror}", value=str(port)
            )
        ) from None
    sock.listen(128)
    real_port = sock.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if family == socket.AF_INET6 else host
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    if ready is not None:
        ready(f"http://{shown}:{real_port}/")
    server.run(sockets=[sock])
