"""``allocopt serve``: a real server process, driven over HTTP and in headless Chromium.

Every test starts ``allocopt serve`` as a subprocess on a free loopback port (``--port 0``; the
URL is read from its first line). Browser tests use the system Chromium through Selenium and skip
with a reason when Chromium, chromedriver or selenium are absent. Screenshots of the main page and
a rep page are written to ``tests/_artifacts/`` (git-ignored) for a reviewer to look at.
"""

from __future__ import annotations

import copy
import http.client
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import pytest
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.compose import track
from allocopt.errors import InputError
from allocopt.pipeline import run
from tests.plans import BASE_TABLES, write_plan

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "scenarios" / "example"
ACTUALS = EXAMPLE / "data" / "actuals.csv"
ARTIFACTS = ROOT / "tests" / "_artifacts"
WAIT = 20.0  # seconds a page may take to show new actuals (the server polls every second)
T = TypeVar("T")


# --- the server process ----------------------------------------------------------------------


@contextmanager
def serving(*args: str) -> Iterator[str]:
    """Run ``allocopt serve ARGS --port 0`` and yield its URL; stop it afterwards."""
    env = {k: v for k, v in os.environ.items() if k != "ALLOCOPT_TOKEN"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    proc = subprocess.Popen(
        [sys.executable, "-m", "allocopt.cli", "serve", *args, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    out = proc.stdout
    threading.Thread(target=lambda: [lines.put(x) for x in out], daemon=True).start()
    try:
        try:
            first = lines.get(timeout=60)
        except queue.Empty:
            pytest.fail("allocopt serve did not start within 60 s")
        found = re.search(r"at (http://\S+/) ", first)
        assert found, first + (proc.stderr.read() if proc.stderr else "")
        yield found.group(1)
        assert proc.poll() is None, "the server died: " + (
            proc.stderr.read() if proc.stderr else ""
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def request(
    url: str, path: str = "/", method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    """One raw HTTP request (no redirect following, the path sent as given)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read().decode("utf-8", "replace")
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


def state(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    status, _, body = request(url, "/api/state", headers=headers)
    assert status == 200, body
    return json.loads(body)


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = WAIT) -> T:
    """Poll ``probe`` until it returns something truthy (bounded)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except Exception as exc:  # a page mid-refresh: try again
            last = exc
        else:
            if last:
                return last
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def money(v: float) -> str:
    return f"{v:,.0f}"


def pct(v: float) -> str:
    return f"{v:.1%}"


def copy_actuals(tmp_path: Path) -> Path:
    path = tmp_path / "actuals.csv"
    shutil.copy(ACTUALS, path)
    return path


def held_back(tmp_path: Path) -> tuple[Path, str]:
    """The example actuals without their last row (written to tmp), and that row: a booking that
    arrives while the server runs."""
    lines = ACTUALS.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "actuals.csv"
    path.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    return path, lines[-1]


def append(path: Path, line: str) -> None:
    text = path.read_text(encoding="utf-8")
    path.write_text(text + ("" if text.endswith("\n") else "\n") + line + "\n", encoding="utf-8")


# --- the browser -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        pytest.skip("Chromium or chromedriver is not installed (Debian: chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def text_of(driver: Any, css: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.CSS_SELECTOR, css).text).strip()


def screenshot(driver: Any, name: str) -> Path:
    """A full-height screenshot into tests/_artifacts/ (printed for the reviewer)."""
    ARTIFACTS.mkdir(exist_ok=True)
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    chrome = int(driver.execute_script("return window.outerHeight - window.innerHeight"))
    driver.set_window_size(1400, min(max(height, 600), 6000) + max(chrome, 0))
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)
    print(f"screenshot: {path}")
    assert path.stat().st_size > 10_000
    return path


def no_alert(driver: Any) -> bool:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        driver.switch_to.alert  # noqa: B018 - raises when no dialog is open
    except NoAlertPresentException:
        return True
    return False


# --- 1. live updates -------------------------------------------------------------------------


def test_page_shows_new_actuals_without_reload(
    example_run: Path, browser: Any, tmp_path: Path
) -> None:
    actuals, row = held_back(tmp_path)
    before = track(example_run, actuals).summary["company"]
    with serving(str(example_run), "--actuals", str(actuals)) as url:
        browser.get(url)
        wait_for(
            "the first numbers",
            lambda: text_of(browser, "#kpi-actual") == money(before["actual_to_date"]),
        )
        assert text_of(browser, "#kpi-attainment") == pct(before["attainment"])
        screenshot(browser, "serve-main.png")
        browser.execute_script("window.__sameDocument = 42")
        append(actuals, row)
        after = track(example_run, actuals).summary["company"]
        rep, amount = row.split(",")[0], float(row.split(",")[-1])
        assert after["actual_to_date"] == pytest.approx(before["actual_to_date"] + amount)
        wait_for(
            "the new actual to date",
            lambda: text_of(browser, "#kpi-actual") == money(after["actual_to_date"]),
        )
        assert text_of(browser, "#kpi-attainment") == pct(after["attainment"])
        assert text_of(browser, "#kpi-pacing") == f"{after['pacing']:+,.0f}"
        assert browser.execute_script("return window.__sameDocument") == 42  # no reload
        # the rep's region row moved too, to what track says
        res = track(example_run, actuals)
        region = str(res.reps.loc[res.reps["rep_id"] == rep, "region_id"].iloc[0])
        m = res.summary["by_region"][region]
        row = text_of(browser, f'#children tr[data-id="{region}"]')
        assert money(m["actual_to_date"]) in row and pct(m["attainment"]) in row


# --- 2. the rep page is explain --rep --------------------------------------------------------


def test_rep_page_matches_explain_rep(example_run: Path, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    rep = "R0042"
    cli = CliRunner().invoke(main, ["explain", str(example_run), "--rep", rep, "--json"])
    assert cli.exit_code == 0, cli.output
    x = json.loads(cli.stdout)
    actuals = copy_actuals(tmp_path)
    rows = track(example_run, actuals).reps
    mine = rows[(rows["rep_id"] == rep) & (rows["product"] == "ALL")].iloc[0]
    with serving(str(example_run), "--actuals", str(actuals)) as url:
        browser.get(url + "rep?id=" + rep)
        wait_for("the rep page", lambda: text_of(browser, "#rep-id") == rep)
        shown = [
            [td.text.strip() for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in browser.find_elements(By.CSS_SELECTOR, "#explain tbody tr")
        ]
        expected = [[p["label"], f"{p['amount']:+,.0f}"] for p in x["parts"]]
        assert shown == [*expected, ["quota", money(x["quota"])]]
        accounts = [
            el.text.strip() for el in browser.find_elements(By.CSS_SELECTOR, "#accounts .acc-id")
        ]
        assert accounts == [a["account_id"] for a in x["key_accounts"]] and accounts
        assert text_of(browser, "#kpi-attainment") == pct(mine["attainment"])
        assert text_of(browser, "#kpi-actual") == money(mine["actual_to_date"])
        assert f"{x['difficulty']['difficulty']:.3f}" in text_of(browser, "#difficulty")
        screenshot(browser, "serve-rep.png")


# --- 3. a bad file shows its error and keeps the numbers --------------------------------------


def test_bad_actuals_show_the_track_error_and_keep_the_numbers(
    example_run: Path, browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    actuals = copy_actuals(tmp_path)
    good = track(example_run, actuals).summary["company"]
    with serving(str(example_run), "--actuals", str(actuals)) as url:
        browser.get(url)
        wait_for(
            "the numbers", lambda: text_of(browser, "#kpi-actual") == money(good["actual_to_date"])
        )
        append(actuals, "R9999,HW,Q1,100")
        with pytest.raises(InputError) as bad:
            track(example_run, actuals)
        cli = CliRunner().invoke(
            main,
            ["track", str(example_run), "--actuals", str(actuals), "--out", str(tmp_path / "t")],
        )
        assert cli.exit_code == 2
        message = "error: " + bad.value.render()
        assert " ".join(message.split()) in " ".join(cli.stderr.split())  # what track prints
        shown = wait_for(
            "the error on the page",
            lambda: browser.find_elements(By.CSS_SELECTOR, "#actuals-error .error-text"),
        )
        assert shown[0].text.strip() == message.strip()
        assert "row 293" in message and "R9999" in message
        assert text_of(browser, "#kpi-actual") == money(good["actual_to_date"])  # kept
        assert text_of(browser, "#kpi-attainment") == pct(good["attainment"])
        assert state(url)["error"] == bad.value.render()
        screenshot(browser, "serve-error.png")
        shutil.copy(ACTUALS, actuals)  # fixed: the error goes, the numbers stay right
        wait_for(
            "the error to clear",
            lambda: not browser.find_elements(By.CSS_SELECTOR, "#actuals-error"),
        )
        assert text_of(browser, "#kpi-actual") == money(good["actual_to_date"])
        actuals.unlink()  # a vanished file is an error too (track's message), never a crash
        with pytest.raises(InputError) as gone:
            track(example_run, actuals)
        wait_for("the missing-file error", lambda: state(url)["error"] == gone.value.render())
        assert state(url)["company"]["actual_to_date"] == good["actual_to_date"]


def test_folder_of_extracts_follows_the_newest(example_run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "extracts"
    folder.mkdir()
    first = folder / "2027-03-15.csv"
    partial, _ = held_back(tmp_path)
    shutil.copy(partial, first)
    before = track(example_run, first).summary["company"]
    with serving(str(example_run), "--actuals", str(folder)) as url:
        s = wait_for("the first extract", lambda: state(url)["company"])
        assert s["actual_to_date"] == before["actual_to_date"]
        second = folder / "2027-03-31.csv"
        shutil.copy(ACTUALS, second)
        os.utime(second, ns=(time.time_ns(), first.stat().st_mtime_ns + 10**9))
        after = track(example_run, second).summary["company"]
        wait_for(
            "the newer extract",
            lambda: state(url)["company"]["actual_to_date"] == after["actual_to_date"],
        )
        assert state(url)["source"].endswith("2027-03-31.csv")


# --- 4. token, host and read-only rules --------------------------------------------------------


def test_non_loopback_host_needs_a_token(example_run: Path) -> None:
    for host in ("0.0.0.0", "192.0.2.10", "example.org"):
        result = CliRunner().invoke(
            main,
            ["serve", str(example_run), "--actuals", str(ACTUALS), "--host", host],
            env={"ALLOCOPT_TOKEN": None},
        )
        assert result.exit_code == 2, result.output
        assert "--token" in result.stderr and host in result.stderr
    bad_run = CliRunner().invoke(main, ["serve", "no-such-run", "--actuals", str(ACTUALS)])
    assert bad_run.exit_code == 2 and "no-such-run" in bad_run.stderr
    early = CliRunner().invoke(
        main, ["serve", str(example_run), "--actuals", str(ACTUALS), "--as-of", "2026-12-31"]
    )
    assert early.exit_code == 2 and "--as-of" in early.stderr


def test_token_read_only_and_no_files_through_urls(example_run: Path, tmp_path: Path) -> None:
    token = "s3cret-T0ken"
    bearer = {"Authorization": f"Bearer {token}"}
    with serving(
        str(example_run), "--actuals", str(copy_actuals(tmp_path)), "--token", token
    ) as url:
        for path in ("/", "/api/state", "/static/style.css", "/rep?id=R0001", "/nope"):
            status, headers, _ = request(url, path)
            assert status == 401, path
            assert request(url, path, headers={"Authorization": "Bearer wrong"})[0] == 401
        assert request(url, "/", headers={"Cookie": "allocopt_token=wrong"})[0] == 401
        status, headers, body = request(url, "/", headers=bearer)
        assert status == 200 and "Company" in body
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        # ?token= once: a cookie (HttpOnly, SameSite=Strict) and a redirect without the token
        status, headers, _ = request(url, f"/team?id=T01&token={token}")
        assert status == 303 and headers["location"] == "/team?id=T01"
        cookie = headers["set-cookie"]
        assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
        jar = {"Cookie": cookie.split(";", 1)[0]}
        assert request(url, "/team?id=T01", headers=jar)[0] == 200
        # read-only
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            assert request(url, "/", method=method, headers=bearer)[0] == 405, method
        # nothing but the pages and the packaged static files
        for path in (
            "/static/../manifest.json",
            "/static/..%2F..%2Fmanifest.json",
            "/static/app.py",
            "/manifest.json",
            "/quotas.csv",
            "/" + quote(str(example_run / "quotas.csv")),
            "/rep?id=../../manifest.json",
            "/team?id=%2Fetc%2Fpasswd",
        ):
            status, _, body = request(url, path, headers=bearer)
            assert status == 404, path
            assert "rep_id" not in body and "resolved_scenario" not in body
        assert request(url, "/static/app.js", headers=bearer)[0] == 200


def test_loopback_without_token_rejects_other_host_names(example_run: Path, tmp_path: Path) -> None:
    with serving(str(example_run), "--actuals", str(copy_actuals(tmp_path))) as url:
        assert url.startswith("http://127.0.0.1:")
        assert request(url, "/")[0] == 200
        assert request(url, "/", headers={"Host": "attacker.example"})[0] == 403  # DNS rebinding
        assert request(url, "/", method="POST")[0] == 405


# --- 5. names and IDs are text, never markup --------------------------------------------------


EVIL_ID = "<script>alert(1)</script>"
EVIL_NAME = '<img src=x onerror="alert(2)">'
EVIL_TEAM = "<b>Team</b><script>alert(3)</script>"


def _evil_run(root: Path) -> tuple[Path, str]:
    """A tiny plan whose rep ID (when the input checks accept it) and names carry markup."""
    for rep_id in (EVIL_ID, "A"):
        reps = copy.deepcopy(BASE_TABLES["reps"])
        reps[0]["rep_id"] = rep_id
        reps[0]["name"] = EVIL_NAME
        reps[1]["name"] = "Bob"
        pot = copy.deepcopy(BASE_TABLES["potential"])
        pot[0]["rep_id"] = rep_id
        acc = copy.deepcopy(BASE_TABLES["accounts"])
        acc[0]["incumbent_rep"] = rep_id
        org = copy.deepcopy(BASE_TABLES["org_units"])
        org[2]["name"] = EVIL_TEAM
        where = root / ("evil-id" if rep_id == EVIL_ID else "evil-name")
        path = write_plan(
            where, tables={"reps": reps, "potential": pot, "accounts": acc, "org_units": org}
        )
        try:
            res = run(path, out=where / "run")
        except InputError:
            continue  # the input checks refuse markup in IDs: names still carry it
        (where / "actuals.csv").write_text(
            f"rep_id,product,period,amount\n{rep_id},P,Q1,100\nB,P,Q1,80\n", encoding="utf-8"
        )
        return res.run_dir, rep_id
    pytest.fail("the tiny plan did not solve")


def test_script_in_names_and_ids_is_shown_as_text(browser: Any, tmp_path: Path) -> None:
    run_dir, rep_id = _evil_run(tmp_path)
    with serving(str(run_dir), "--actuals", str(run_dir.parent / "actuals.csv")) as url:
        status, _, raw = request(url, "/team?id=T1")
        assert status == 200
        assert "<script>alert" not in raw and "<img src=x" not in raw
        assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in raw
        assert "&lt;b&gt;Team&lt;/b&gt;&lt;script&gt;alert(3)&lt;/script&gt;" in raw
        browser.get(url + "team?id=T1")
        wait_for("the team page", lambda: text_of(browser, "#unit-id") == "T1")
        body = text_of(browser, "body")
        assert EVIL_NAME in body and EVIL_TEAM in body and rep_id in body
        assert no_alert(browser)
        assert (
            browser.execute_script(
                "return document.querySelectorAll('main script, main img').length"
            )
            == 0
        )
        browser.get(url + "rep?id=" + quote(rep_id))
        wait_for("the rep page", lambda: text_of(browser, "#rep-id") == rep_id)
        assert text_of(browser, "#rep-name") == EVIL_NAME
        assert EVIL_TEAM in text_of(browser, ".crumbs")
        time.sleep(1.5)  # a live refresh has had time to run: still no dialog
        assert no_alert(browser)
        assert (
            browser.execute_script(
                "return document.querySelectorAll('main script, main img').length"
            )
            == 0
        )


# --- in-process: the watcher, the charts, the payout hook ---------------------------------------


def test_monitor_keeps_last_good_numbers_and_versions(example_run: Path, tmp_path: Path) -> None:
    from allocopt.serve.monitor import Monitor, load_plan

    actuals, row = held_back(tmp_path)
    mon = Monitor(load_plan(example_run, "A"), actuals)
    assert mon.poll() and mon.snapshot().version == 1
    first = mon.snapshot()
    assert first.error is None and first.result is not None
    assert first.result.summary["company"] == track(example_run, actuals).summary["company"]
    assert not mon.poll() and mon.snapshot().version == 1  # nothing changed: same version
    append(actuals, "R0001,HW,Q1,1")  # a duplicate key: track refuses it
    assert mon.poll()
    bad = mon.snapshot()
    assert bad.version == 2 and bad.result is first.result and "duplicate" in (bad.error or "")
    assert not mon.poll()  # the same bad file is not re-read or re-announced
    lines = actuals.read_text(encoding="utf-8").splitlines()
    actuals.write_text("\n".join([*lines[:-1], row]) + "\n", encoding="utf-8")
    assert mon.poll()
    good = mon.snapshot()
    assert good.version == 3 and good.error is None
    assert good.result is not None
    assert good.result.summary["company"] == track(example_run, ACTUALS).summary["company"]
    by_period = good.actual_by_period
    assert by_period is not None
    assert by_period["amount"].sum() == pytest.approx(
        good.result.summary["company"]["actual_to_date"]
    )


def test_charts_count_and_escape() -> None:
    from allocopt.serve import charts

    svg = charts.histogram([0.45, 0.95, 0.99, 1.0, 1.62, float("nan")], 0.9)
    assert "&lt;50%: 1 reps" in svg and "90%: 2 reps" in svg and "100%: 1 reps" in svg
    assert "≥150%: 1 reps" in svg
    evil = charts.Point(EVIL_ID, EVIL_NAME, 0.6, 0.8, True, "/rep?id=%3Cscript%3E")
    svg = charts.scatter([evil], 0.9)
    assert "<script" not in svg and "&lt;img src=x" in svg
    bars = [charts.Bar("Q1", 100.0, 80.0, 1.0), charts.Bar("Q2", 100.0, 30.0, 0.5)]
    svg = charts.pacing(bars)
    assert "80%" in svg and "60%" in svg and "quota to date 50" in svg


def test_payout_shows_expected_payout(example_run: Path, tmp_path: Path) -> None:
    """A run with incentives: shows each rep's expected payout, equal to `allocopt payout`
    with the same actuals; a run without incentives shows none."""
    from allocopt.pipeline import payout_run, run
    from allocopt.serve import views
    from allocopt.serve.monitor import Monitor, load_plan

    plan = load_plan(example_run, "A")
    mon = Monitor(plan, copy_actuals(tmp_path))
    mon.poll()
    assert views.scope_view(plan, mon.snapshot(), "team", "T01")["payout"] is False
    inc_run = run(EXAMPLE / "incentives.yaml", out=tmp_path / "inc", report=False).run_dir
    inc_plan = load_plan(inc_run, "A")
    (tmp_path / "b").mkdir()
    actuals = copy_actuals(tmp_path / "b")
    mon = Monitor(inc_plan, actuals)
    mon.poll()
    snap = mon.snapshot()
    view = views.scope_view(inc_plan, snap, "team", "T01")
    assert view["payout"] is True
    ref = payout_run(inc_run, actuals, draws=500, as_of=snap.result.as_of)  # type: ignore[union-attr]
    want = dict(zip(ref.reps["rep_id"], ref.reps["expected_payout"], strict=True))
    got = {c["id"]: c["payout"] for c in view["children"]}
    assert got and all(abs(got[r] - want[r]) < 1e-6 for r in got)
    assert views.rep_view(inc_plan, snap, "R0002")["payout"] == want["R0002"]
