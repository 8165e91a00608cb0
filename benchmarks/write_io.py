"""Time writing a run folder's tables and its report from a finished run folder: medians.

Example::

    nice -n 10 python benchmarks/write_io.py --runs /tmp/run20k /tmp/run100k --repeat 3 \\
        --src src --label after --out benchmarks/results/write-io.json

Each run folder's CSV tables are read back as frames (pandas' default types: numbers as float
or int, text as str, blanks as NaN); then, in a fresh process per run folder (``--src`` on its
PYTHONPATH), every table is written with ``allocopt.outputs.runfolder.write_csv`` and the report
rendered with ``allocopt.outputs.report.render_report``, ``--repeat`` times. The written bytes
are compared with the run folder's own files (``identical``: every table byte for byte), so
the same command checks that a faster writer writes the same files. The load average is
recorded before and after each run folder.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

_CHILD = r"""
import json, sys, tempfile, time
from pathlib import Path
import pandas as pd
from allocopt.outputs.runfolder import write_csv
from allocopt.outputs.report import render_report

run, repeat = Path(sys.argv[1]), int(sys.argv[2])
names = sorted(p.name for p in run.glob("*.csv"))
frames = {n: pd.read_csv(run / n, keep_default_na=False, na_values=[""]) for n in names}
for df in frames.values():  # text columns as the pipeline holds them (object of str)
    for c in df.columns:
        if df[c].dtype == object or pd.api.types.is_string_dtype(df[c]):
            df[c] = df[c].astype(object).where(df[c].notna(), "")
csv_s, report_s, identical = [], [], {}
with tempfile.TemporaryDirectory() as tmp:
    for _ in range(repeat):
        t = time.perf_counter()
        for n, df in frames.items():
            write_csv(df, Path(tmp) / n)
        csv_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        render_report(run)
        report_s.append(time.perf_counter() - t)
    for n in names:
        identical[n] = (Path(tmp) / n).read_bytes() == (run / n).read_bytes()
rows = {n: len(df) for n, df in frames.items()}
print(json.dumps({"csv_seconds": csv_s, "report_seconds": report_s, "rows": rows,
                  "identical": identical}))
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--runs", type=Path, nargs="+", required=True, help="finished run folders")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--src", default=None, help="PYTHONPATH for the child (a source tree)")
    ap.add_argument("--label", default="run")
    ap.add_argument("--out", type=Path, default=None, help="JSON file to add the results to")
    args = ap.parse_args(argv)
    env = dict(os.environ)
    if args.src:
        env["PYTHONPATH"] = args.src
    results = []
    for run in args.runs:
        load_before = list(os.getloadavg())
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(run), str(args.repeat)],
            check=True,
            env=env,
            capture_output=True,
            text=True,
        ).stdout
        child = json.loads(out.strip().splitlines()[-1])
        res = {
            "label": args.label,
            "run": run.name,
            "rows": child["rows"],
            "csv_seconds": [round(s, 2) for s in child["csv_seconds"]],
            "csv_median_seconds": round(statistics.median(child["csv_seconds"]), 2),
            "report_seconds": [round(s, 2) for s in child["report_seconds"]],
            "report_median_seconds": round(statistics.median(child["report_seconds"]), 2),
            "identical": child["identical"],
            "loadavg": {"before": load_before, "after": list(os.getloadavg())},
        }
        print(json.dumps(res))
        results.append(res)
    if args.out:
        doc = json.loads(args.out.read_text()) if args.out.exists() else {"results": []}
        doc["results"].extend(results)
        args.out.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
