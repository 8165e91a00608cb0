"""Growth curve: time, CPU, memory and per-stage seconds of `allocopt solve` against reps.

    nice -n 10 env PYTHONPATH=src .venv/bin/python benchmarks/curve.py \\
        --reps 1000 2000 5000 10000 20000 --granularity quarter month

Each (granularity, reps) point is one ``benchmarks/sizes.py`` run in its own process, recorded as
``<points>/<granularity>-<reps>.json`` (default ``benchmarks/results/curve/``). A point whose JSON
exists is read, not re-run (``--force`` re-runs it), so the large sizes can be added later on an
idle machine: ``--reps 50000 100000`` adds to the same curve. ``--no-run`` only rebuilds the
summary from the recorded points. The summary (``--out``, default
``benchmarks/results/curve.json``) has per point: wall, CPU, peak memory, load average and the
seconds of the stages below, and per granularity and stage the fitted exponent ``k`` of
``seconds ∝ reps^k`` (least squares in log-log over the points with a plan) and the local
exponents between consecutive sizes. The chart (``--png``, default ``benchmarks/results/curve.png``)
is log-log with a linear reference (slope 1) through the smallest point.

Stages (from the run's manifest and timings):

* ``validate``: loading the scenario and reading + checking + preparing the tables;
* ``alignment``: the key-account MIP (HiGHS time);
* ``quota_lp``: the quota model's LP relaxation (HiGHS, whole or by Dantzig–Wolfe);
* ``quota_integer``: the quota stage after the LP (rounding neighbourhood / block MIPs / assembly);
* ``extract``, ``write``: results tables, verification and the run folder with its report;
* ``other``: wall − the above (process start-up and imports, pre-checks, model building).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REPS = [1000, 2000, 5000, 10000, 20000, 50000, 100000]
STAGES = ("validate", "alignment", "quota_lp", "quota_integer", "extract", "write", "other")
SERIES = ("wall", "cpu", *STAGES)


def _point_path(points: Path, granularity: str, reps: int) -> Path:
    return points / f"{granularity}-{reps}.json"


def _run_point(path: Path, granularity: str, reps: int, work: Path, sets: list[str]) -> None:
    """One sizes.py run (its own process: generation and the solve's memory stay out of ours)."""
    cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "sizes.py"),
        "--reps",
        str(reps),
        "--granularity",
        granularity,
        "--work",
        str(work),
        "--out",
        str(path),
    ]
    for s in sets:
        cmd += ["--set", s]
    print(f"== {granularity} {reps} reps: {' '.join(cmd[1:])}", flush=True)
    proc = subprocess.run(cmd, check=False)
    if proc.returncode != 0:
        print(f"   sizes.py exited {proc.returncode}; no point recorded", flush=True)


def _stage_seconds(res: dict[str, Any]) -> dict[str, float | None]:
    """The per-stage seconds of one sizes.py result (None where the stage did not run)."""
    t = res.get("stage_timings") or {}
    stages = res.get("stages") or {}
    ali = stages.get("alignment") or {}
    quo = stages.get("quotas") or {}
    out: dict[str, float | None] = {
        "validate": t.get("load", 0.0) + t.get("validate", 0.0) if t else None,
        "alignment": ali.get("seconds"),
        "quota_lp": quo.get("lp_seconds"),
        "quota_integer": None,
        "extract": t.get("extract"),
        "write": t.get("write"),
    }
    if quo.get("seconds") is not None:
        out["quota_integer"] = float(quo["seconds"]) - float(quo.get("lp_seconds") or 0.0)
    wall = res.get("wall_seconds")
    known = [v for v in out.values() if v is not None]
    out["other"] = wall - sum(known) if wall is not None and known else None
    return {k: None if v is None else round(float(v), 2) for k, v in out.items()}


def _point(doc: dict[str, Any], source: Path) -> dict[str, Any]:
    res = doc["results"][0]
    ok = "error" not in res
    quo = (res.get("stages") or {}).get("quotas") or {}
    return {
        "granularity": res.get("granularity", "quarter"),
        "reps": res["reps"],
        "ok": ok,
        "status": res.get("status"),
        "exit_code": res.get("exit_code", 0),
        "error": res.get("error"),
        "gap": res.get("gap"),
        "lp_gap": quo.get("lp_gap"),
        "objective": quo.get("objective"),
        "quota_method": quo.get("message"),
        "quota_size": {k: quo.get(k) for k in ("n_cols", "n_rows", "n_nonzeros", "n_integer")},
        "wall": res.get("wall_seconds", res.get("wall")),
        "cpu": res.get("cpu_seconds"),
        "peak_memory_mib": res.get("peak_memory_mib"),
        "loadavg": res.get("loadavg"),
        # CPU ÷ wall of the solve process: < 1 when it waited for a core (a shared host)
        # the host was busy when the point ran (1-minute load average ≥ half the CPUs)
        "loaded": bool(
            res.get("loadavg")
            and max(res["loadavg"]["before"][0], res["loadavg"]["after"][0])
            >= 0.5 * (os.cpu_count() or 1)
        ),
        "cpu_share": (
            round(res["cpu_seconds"] / res["wall_seconds"], 3)
            if ok and res.get("wall_seconds")
            else None
        ),
        "date": doc.get("date"),
        "stages": _stage_seconds(res) if ok else None,
        "source": str(source.relative_to(ROOT) if source.is_relative_to(ROOT) else source),
    }


def _fit(xs: list[float], ys: list[float]) -> float | None:
    """Slope of log y on log x by least squares (None with fewer than 2 usable points)."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if y and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    if sxx == 0:
        return None
    return round(sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx, 3)


def _value(p: dict[str, Any], series: str) -> float | None:
    if series in ("wall", "cpu"):
        return p[series]
    return (p["stages"] or {}).get(series)


def _exponents(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Per series: the fitted k of seconds ∝ reps^k and the local k between consecutive sizes;
    for the stages also ``k_cpu_est``, the fit of stage seconds × the point's CPU ÷ wall (the
    stages' wall times are scaled by the contention of their run: an estimate of their CPU
    seconds, assuming the load was even over the run)."""
    ok = sorted((p for p in points if p["ok"]), key=lambda p: p["reps"])
    out: dict[str, Any] = {}
    for s in (*SERIES, "peak_memory_mib"):
        pts = [
            (float(p["reps"]), float(v), p.get("cpu_share"))
            for p in ok
            if (v := p["peak_memory_mib"] if s == "peak_memory_mib" else _value(p, s))
        ]
        xs, ys = [x for x, _, _ in pts], [y for _, y, _ in pts]
        local = []
        for i in range(1, len(xs)):
            if ys[i - 1] > 0 and ys[i] > 0:
                k = math.log(ys[i] / ys[i - 1]) / math.log(xs[i] / xs[i - 1])
                local.append({"from": int(xs[i - 1]), "to": int(xs[i]), "k": round(k, 2)})
        out[s] = {"k": _fit(xs, ys), "local": local, "points": len(xs)}
        if s in STAGES and all(c for _, _, c in pts):
            out[s]["k_cpu_est"] = _fit(xs, [y * float(c) for _, y, c in pts])
    return out


def _chart(summary: dict[str, Any], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    grans = [g for g in ("quarter", "month") if summary["curves"].get(g)]
    fig = Figure(figsize=(6.0 * len(grans) + 4.5, 5.2))
    axes = fig.subplots(1, len(grans) + 1, squeeze=False)[0]
    styles = {"wall": ("black", "-", 2.2), "cpu": ("dimgray", "--", 1.6)}
    colours = dict(zip(STAGES, ("C0", "C1", "C2", "C3", "C4", "C5", "C7"), strict=True))
    for ax, g in zip(axes, grans, strict=False):
        pts = [p for p in summary["curves"][g]["points"] if p["ok"]]
        fits = summary["curves"][g]["exponents"]
        for s in SERIES:
            xy = [(p["reps"], _value(p, s)) for p in pts if (_value(p, s) or 0) > 0]
            if not xy:
                continue
            colour, ls, lw = styles.get(s, (colours.get(s, "C9"), "-", 1.2))
            k = fits[s]["k"]
            ax.plot(
                [x for x, _ in xy],
                [y for _, y in xy],
                color=colour,
                linestyle=ls,
                linewidth=lw,
                marker="o",
                markersize=3,
                label=f"{s} (k={k:.2f})" if k is not None else s,
            )
        failed = [p for p in summary["curves"][g]["points"] if not p["ok"]]
        for p in failed:
            ax.axvline(p["reps"], color="red", linewidth=0.8, linestyle=":")
        walls = [(p["reps"], p["wall"]) for p in pts if p["wall"]]
        if walls:
            x0, y0 = walls[0]
            x1 = max(p["reps"] for p in summary["curves"][g]["points"])
            ax.plot(
                [x0, x1],
                [y0, y0 * x1 / x0],
                color="red",
                linewidth=0.8,
                alpha=0.6,
                label="linear (slope 1)",
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("reps")
        ax.set_ylabel("seconds")
        ax.set_title(f"{g}ly plan ({'4 quarters' if g == 'quarter' else '12 months'})")
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=7, loc="upper left")
    ax = axes[len(grans)]
    for g, colour in zip(grans, ("C0", "C3"), strict=False):
        pts = [p for p in summary["curves"][g]["points"] if p["ok"] and p["peak_memory_mib"]]
        if pts:
            k = summary["curves"][g]["exponents"]["peak_memory_mib"]["k"]
            ax.plot(
                [p["reps"] for p in pts],
                [p["peak_memory_mib"] / 1024 for p in pts],
                marker="o",
                color=colour,
                label=f"{g} (k={k:.2f})" if k else g,
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("reps")
    ax.set_ylabel("peak memory (GiB)")
    ax.set_title("peak memory")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7, loc="upper left")
    fig.suptitle("allocopt solve end to end against reps (log-log; red: failed or linear ref.)")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, nargs="+", default=REPS)
    ap.add_argument(
        "--granularity", nargs="+", choices=("quarter", "month"), default=["quarter", "month"]
    )
    ap.add_argument(
        "--points",
        type=Path,
        default=ROOT / "benchmarks" / "results" / "curve",
        help="folder of the per-point sizes.py JSONs (read when present)",
    )
    ap.add_argument(
        "--work",
        type=Path,
        default=ROOT / "benchmarks" / "out",
        help="where the plans and run folders are generated",
    )
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "curve.json")
    ap.add_argument("--png", type=Path, default=ROOT / "benchmarks" / "results" / "curve.png")
    ap.add_argument("--force", action="store_true", help="re-run points that are recorded")
    ap.add_argument("--no-run", action="store_true", help="only summarise recorded points")
    ap.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        help="a scenario override passed to every solve (repeatable)",
    )
    args = ap.parse_args(argv)

    args.points.mkdir(parents=True, exist_ok=True)
    cpus = os.cpu_count() or 1
    if not args.no_run and os.getloadavg()[0] >= 0.5 * cpus:
        print(
            f"note: load average {os.getloadavg()[0]:.1f} on {cpus} CPUs: wall and stage seconds "
            "will include waiting for a core (each point records its loadavg and CPU ÷ wall)",
            flush=True,
        )
    if not args.no_run:
        for g in args.granularity:
            for n in sorted(args.reps):
                path = _point_path(args.points, g, n)
                if path.exists() and not args.force:
                    print(f"== {g} {n} reps: recorded ({path.name}), not re-run", flush=True)
                    continue
                _run_point(path, g, n, args.work, args.sets)
    # the summary covers every recorded point, not only those of this invocation
    curves: dict[str, Any] = {}
    for g in ("quarter", "month"):
        pts = []
        for path in sorted(args.points.glob(f"{g}-*.json")):
            pts.append(_point(json.loads(path.read_text(encoding="utf-8")), path))
        pts.sort(key=lambda p: p["reps"])
        if pts:
            curves[g] = {"points": pts, "exponents": _exponents(pts)}
    summary = {
        "command": "python benchmarks/curve.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "stages": {
            "validate": "load + validate (reading, checking, preparing the tables)",
            "alignment": "key-account MIP, HiGHS seconds",
            "quota_lp": "quota LP relaxation, HiGHS seconds (whole or Dantzig–Wolfe)",
            "quota_integer": "quota stage after the LP: neighbourhood / block MIPs / assembly",
            "extract": "results tables and verification",
            "write": "run folder and report",
            "other": "wall − the above: start-up, imports, pre-checks, building the models",
        },
        "curves": curves,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"-> {args.out}")
    if curves:
        _chart(summary, args.png)
        print(f"-> {args.png}")
    for g, c in curves.items():
        row = ", ".join(
            f"{s} {c['exponents'][s]['k']}"
            for s in (*SERIES, "peak_memory_mib")
            if c["exponents"][s]["k"] is not None
        )
        print(f"{g}: k = {row}")
        est = ", ".join(
            f"{s} {c['exponents'][s].get('k_cpu_est')}"
            for s in STAGES
            if c["exponents"][s].get("k_cpu_est") is not None
        )
        print(f"{g}: k of the stages × CPU/wall = {est}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
