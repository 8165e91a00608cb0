"""The Starlette application of ``allocopt serve`` (read-only, token-guarded when asked).

Public entry point: :func:`create_app`. Routes (GET and HEAD only; anything else is 405):

* ``/`` company, ``/region?id=``, ``/team?id=``, ``/rep?id=``, ``/compare?by=`` (two plans);
* ``/api/state`` — ``{"version", "error", …}``: pages poll it about once a second and re-render
  their live part when the version moves (new actuals, a new error, an error fixed);
* ``/api/summary`` — the tracking summary of the last good numbers (as ``allocopt track --json``);
* ``/static/<name>`` — only the files of a fixed allow-list shipped in the package.

IDs travel in query strings and are only looked up in the run's tables; no URL maps to a file.
Every response carries a strict Content-Security-Policy (scripts and styles from this server
only, no inline script), ``nosniff``, ``no-referrer`` and ``no-store``. With a token, every request
needs ``Authorization: Bearer <token>`` or the session cookie that ``?token=<token>`` sets once
(HttpOnly, SameSite=Strict); anything else is 401. Without a token (loopback only), requests must
name a loopback ``Host`` (guards against DNS rebinding).
"""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from allocopt.errors import AllocoptError
from allocopt.serve import views
from allocopt.serve.monitor import Monitor

__all__ = ["COOKIE", "CSP", "STATIC", "create_app"]

COOKIE = "allocopt_token"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
STATIC = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _money(v: Any, signed: bool = False) -> str:
    if v is None:
        return "–"
    return f"{v:+,.0f}" if signed else f"{v:,.0f}"


def _pct(v: Any, digits: int = 1) -> str:
    return "–" if v is None else f"{v:.{digits}%}"


def _pts(v: Any) -> str:
    return "–" if v is None else f"{v * 100:+.1f} pts"


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("allocopt.serve", "templates"),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = _money
    env.filters["pct"] = _pct
    env.filters["pts"] = _pts
    return env


def _host_of(header: str) -> str:
    if header.startswith("["):
        return header.split("]", 1)[0] + "]"
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class _Guard:
    """Method, token and Host checks plus the security headers, around the whole app."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        response = self._check(request)
        if response is not None:
            await response(scope, receive, send)
            return

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                have = {k.decode().lower() for k, _ in headers}
                for k, v in HEADERS.items():
                    if k.lower() not in have:
                        headers.append((k.encode(), v.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _check(self, request: Request) -> Response | None:
        if self.token is None:
            host = _host_of(request.headers.get("host", ""))
            if host not in LOOPBACK_HOSTS:
                return _plain("host not allowed: this server answers on its loopback name", 403)
        else:
            auth = request.headers.get("authorization", "")
            given = auth[7:] if auth[:7].lower() == "bearer " else request.cookies.get(COOKIE, "")
            query = request.query_params.get("token")
            if query is not None and _same(query, self.token) and request.method == "GET":
                rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
                url = request.url.path + ("?" + urlencode(rest) if rest else "")
                redirect = RedirectResponse(url, status_code=303, headers=HEADERS)
                redirect.set_cookie(COOKIE, self.token, httponly=True, samesite="strict", path="/")
                return redirect
            if not _same(given, self.token):
                return _plain(
                    "401 unauthorized: send 'Authorization: Bearer <token>' or open "
                    "/?token=<token> once",
                    401,
                    {"WWW-Authenticate": 'Bearer realm="allocopt"'},
                )
        if request.method not in ("GET", "HEAD"):
            return _plain(
                "405 method not allowed: this server is read-only", 405, {"Allow": "GET, HEAD"}
            )
        return None


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def _plain(text: str, status: int, extra: dict[str, str] | None = None) -> Response:
    return PlainTextResponse(text + "\n", status_code=status, headers={**HEADERS, **(extra or {})})


def create_app(monitor: Monitor, *, token: str | None = None, poll: float = 1.0) -> ASGIApp:
    """The ASGI application; a watcher thread polls the actuals every ``poll`` seconds while it
    runs (started and stopped by the app's lifespan)."""
    env = _env()
    static = {
        name: resources.files("allocopt.serve").joinpath("static", name).read_bytes()
        for name in STATIC
    }
    plan, plan_b = monitor.plan, monitor.plan_b

    def page(request: Request, template: str, status: int = 200, **ctx: Any) -> Response:
        snap = monitor.snapshot()
        res = snap.result
        html = env.get_template(template).render(
            plan=plan,
            plan_b=plan_b,
            snap=snap,
            res=res,
            summary=res.summary if res is not None else None,
            path=request.url.path,
            **ctx,
        )
        return Response(html, status_code=status, media_type="text/html; charset=utf-8")

    def not_found(request: Request, message: str) -> Response:
        return page(request, "notfound.html", status=404, message=message)

    def company(request: Request) -> Response:
        return page(
            request, "scope.html", view=views.scope_view(plan, monitor.snapshot(), "company", None)
        )

    def unit(level: str) -> Callable[[Request], Response]:
        def handler(request: Request) -> Response:
            ident = request.query_params.get("id", "")
            try:
                view = views.scope_view(plan, monitor.snapshot(), level, ident)
            except views.NotFound as exc:
                return not_found(request, str(exc))
            return page(request, "scope.html", view=view)

        return handler

    def rep(request: Request) -> Response:
        ident = request.query_params.get("id", "")
        try:
            view = views.rep_view(plan, monitor.snapshot(), ident)
        except views.NotFound as exc:
            return not_found(request, str(exc))
        except AllocoptError as exc:  # e.g. the run folder lost a file: say so, keep serving
            return page(request, "notfound.html", status=500, message=exc.render())
        return page(request, "rep.html", view=view)

    def compare(request: Request) -> Response:
        if plan_b is None:
            return not_found(
                request, "compare mode needs two run folders: allocopt serve RUN_A RUN_B"
            )
        by = request.query_params.get("by", "region")
        if by not in ("company", "region", "team", "rep"):
            by = "region"
        view = views.compare_view(plan, plan_b, monitor.snapshot(), by)
        return page(request, "compare.html", view=view)

    def state(request: Request) -> Response:
        snap = monitor.snapshot()
        res = snap.result
        body = {
            "version": snap.version,
            "error": snap.error,
            "error_b": snap.error_b,
            "source": snap.source,
            "sha256": snap.source_sha256,
            "loaded_at": snap.loaded_at,
            "checked_at": snap.checked_at,
            "as_of": res.as_of.isoformat() if res is not None else None,
            "company": res.summary["company"] if res is not None else None,
        }
        return Response(json.dumps(body), media_type="application/json")

    def summary(request: Request) -> Response:
        res = monitor.snapshot().result
        if res is None:
            return JSONResponse({"error": monitor.snapshot().error}, status_code=503)
        return Response(json.dumps(res.summary, default=str), media_type="application/json")

    def static_file(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return _plain("404 not found", 404)
        return Response(
            static[name], media_type=STATIC[name], headers={"Cache-Control": "no-cache"}
        )

    def favicon(request: Request) -> Response:
        return Response(b"", status_code=204)

    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        monitor.poll()
        thread = threading.Thread(
            target=monitor.watch, args=(stop, poll), name="allocopt-watch", daemon=True
        )
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)

    methods = ["GET", "HEAD"]
    routes = [
        Route("/", company, methods=methods),
        Route("/region", unit("region"), methods=methods),
        Route("/team", unit("team"), methods=methods),
        Route("/rep", rep, methods=methods),
        Route("/compare", compare, methods=methods),
        Route("/api/state", state, methods=methods),
        Route("/api/summary", summary, methods=methods),
        Route("/static/{name}", static_file, methods=methods),
        Route("/favicon.ico", favicon, methods=methods),
    ]

    async def missing(request: Request, exc: Exception) -> Response:
        return not_found(request, f"no page {request.url.path}")

    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {404: missing}
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers)
    return _Guard(app, token)
