"""Time `allocopt export --format xlsx` on finished run folders: end to end and the workbook alone.

Example (the monthly 20k plan of benchmarks/sizes.py, its run folder kept in --work)::

    python benchmarks/sizes.py --reps 20000 --granularity month --work /tmp/xw --out /tmp/xw/s.json
    git archive 55358d6 src | tar -x -C /tmp/base          # a source tree to compare with
    nice -n 10 python benchmarks/xlsx_write.py --runs /tmp/xw/run20000-month --src /tmp/base/src \\
        --label before --repeat 1 --out benchmarks/results/xlsx-write-session5.json
    nice -n 10 python benchmarks/xlsx_write.py --runs /tmp/xw/run20000-month --src src \\
        --label after --repeat 3 --out benchmarks/results/xlsx-write-session5.json

For each run folder, in a fresh process with ``--src`` on its PYTHONPATH, ``--repeat`` times:
``export_run(run, "xlsx", ...)`` end to end (reading the run folder included), then the
workbook step alone (``_workbook`` on the tables already read). Wall and CPU seconds (the
process's user + system time: steadier than wall on a shared host), the child's peak memory,
the workbook's size and sha256. A label whose sha256 equals another label's for the same run
folder in the same JSON file is marked ``same_bytes_as`` it: the same command checks that a
faster writer writes the same file. The load average is recorded before and after.
``--format`` csv, varicent, salesforce or xactly times that export end to end instead.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

_CHILD = r"""
import hashlib, json, resource, sys, tempfile, time
from pathlib import Path
from allocopt.outputs import export as ex

run, repeat, fmt = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

def clock():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), r.ru_utime + r.ru_stime

res = {"export_wall": [], "export_cpu": [], "workbook_wall": [], "workbook_cpu": []}
with tempfile.TemporaryDirectory() as tmp:
    for i in range(repeat):
        w0, c0 = clock()
        (path,) = ex.export_run(run, fmt, Path(tmp) / f"x{i}")
        w1, c1 = clock()
        res["export_wall"].append(w1 - w0)
        res["export_cpu"].append(c1 - c0)
        book = path.read_bytes()
        if fmt != "xlsx":
            continue
        manifest = ex._read_manifest(run)
        data = ex.ExportData(run, manifest, ex._scenario(manifest, run))
        data.long  # the tables read (as the export's sheets read them), then the workbook alone
        data.table("annual.csv", ("rep_id", "product", "quota"), ("quota",))
        data.table("rollups.csv", ("unit_id", "level", "product", "period", "quota"), ("quota",))
        data.table("assignments.csv", ("account_id", "incumbent_rep", "owner_rep"))
        w0, c0 = clock()
        book = ex._workbook(data)
        w1, c1 = clock()
        res["workbook_wall"].append(w1 - w0)
        res["workbook_cpu"].append(c1 - c0)
        assert book == path.read_bytes()
res = {k: v for k, v in res.items() if v}
res["sha256"] = hashlib.sha256(book).hexdigest()
res["bytes"] = len(book)
res["peak_memory_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(res))
"""


def _median(xs: list[float]) -> float:
    return round(statistics.median(xs), 2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--runs", type=Path, nargs="+", required=True, help="finished run folders")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--src", default=None, help="PYTHONPATH for the child (a source tree)")
    ap.add_argument("--label", default="run")
    ap.add_argument("--format", default="xlsx", help="another export format, end to end only")
    ap.add_argument("--out", type=Path, default=None, help="JSON file to add the results to")
    args = ap.parse_args(argv)
    env = dict(os.environ)
    if args.src:
        env["PYTHONPATH"] = str(Path(args.src).resolve())
    doc = (
        json.loads(args.out.read_text())
        if args.out and args.out.exists()
        else {
            "command": "python benchmarks/xlsx_write.py (see the module docstring)",
            "machine": {
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
            },
            "results": [],
        }
    )
    for run in args.runs:
        load_before = [round(x, 2) for x in os.getloadavg()]
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(run), str(args.repeat), args.format],
            check=True,
            env=env,
            capture_output=True,
            text=True,
        ).stdout
        child = json.loads(out.strip().splitlines()[-1])
        rows = sum(1 for _ in (run / "quotas.csv").open(encoding="utf-8")) - 1
        res = {
            "label": args.label,
            "format": args.format,
            "command": "python benchmarks/xlsx_write.py " + " ".join(argv or sys.argv[1:]),
            "date": dt.datetime.now().isoformat(timespec="seconds"),
            "run": str(run),
            "quota_rows": rows,
            "repeat": args.repeat,
            **{k: [round(x, 2) for x in child[k]] for k in child if isinstance(child[k], list)},
            **{f"{k}_median": _median(child[k]) for k in child if isinstance(child[k], list)},
            "bytes": child["bytes"],
            "sha256": child["sha256"],
            "peak_memory_mib": round(child["peak_memory_mib"], 1),
            "loadavg": {"before": load_before, "after": [round(x, 2) for x in os.getloadavg()]},
        }
        run_ = res["run"]
        same = [
            r["label"]
            for r in doc["results"]
            if (r["run"], r.get("format", "xlsx"), r["sha256"])
            == (run_, args.format, res["sha256"])
            and r["label"] != args.label
        ]
        if same:
            res["same_bytes_as"] = sorted(set(same))
        print(json.dumps(res))
        doc["results"].append(res)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
