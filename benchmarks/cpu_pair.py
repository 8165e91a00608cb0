"""How much two CPU-bound processes slow each other on this machine (the ceiling of any 2-worker
speed-up): each loop alone, then two copies at once, ``--runs`` times alternately.

    python benchmarks/cpu_pair.py --runs 3 --out benchmarks/results/cpu-pair.json

Loops (``--loops``, default all):

* ``python`` — a pure-Python loop (the interpreter: L1/L2-resident);
* ``matmul`` — NumPy 128×128 matrix products, one BLAS thread (native, compute-bound, the
  operands in L2);
* ``highs`` — HiGHS solving a small transportation LP (60 × 60, cache-resident) again and
  again, one thread (the solver allocopt uses, without allocopt around it);
* ``stream`` — NumPy adds over 64 MiB arrays (twice the 32 MiB L3: memory-bandwidth-bound).

Per loop: slowdown = median paired ÷ median alone, ceiling = 2 × alone ÷ paired (the best
two-process speed-up that loop allows here). CPU seconds are reported too: a slowdown that shows
in CPU time is the hardware (shared caches, memory bandwidth, a hypervisor), one that shows only
in wall time is a third process taking the core.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

# each prints "wall cpu" of its timed part
LOOPS = {
    "python": (
        "import time\nt=time.perf_counter();c=time.process_time();s=0\n"
        "for i in range(30_000_000): s+=i*i\n"
        "print(time.perf_counter()-t, time.process_time()-c)"
    ),
    "matmul": (
        "import time, numpy as np\nrng=np.random.default_rng(0)\n"
        "a=rng.random((128,128));b=rng.random((128,128));c=np.empty_like(a)\n"
        "t=time.perf_counter();p=time.process_time()\n"
        "for _ in range(40_000): np.matmul(a,b,out=c)\n"
        "print(time.perf_counter()-t, time.process_time()-p)"
    ),
    "highs": (
        "import time, numpy as np, highspy\nrng=np.random.default_rng(0);m=n=60\n"
        "cost=rng.random(m*n);sup=rng.random(m)+1;dem=np.full(n,sup.sum()/n)\n"
        "rows=np.r_[np.repeat(np.arange(m),n),m+np.tile(np.arange(n),m)]\n"
        "cols=np.r_[np.arange(m*n),np.arange(m*n)]\n"
        "import scipy.sparse as sp\n"
        "A=sp.csc_matrix((np.ones(2*m*n),(rows,cols)),shape=(m+n,m*n))\n"
        "lp=highspy.HighsLp();lp.num_col_=m*n;lp.num_row_=m+n;lp.col_cost_=cost\n"
        "lp.col_lower_=np.zeros(m*n);lp.col_upper_=np.full(m*n,np.inf)\n"
        "lp.row_lower_=np.r_[np.full(m,-np.inf),dem];lp.row_upper_=np.r_[sup,np.full(n,np.inf)]\n"
        "lp.a_matrix_.format_=highspy.MatrixFormat.kColwise\n"
        "lp.a_matrix_.start_=A.indptr;lp.a_matrix_.index_=A.indices;lp.a_matrix_.value_=A.data\n"
        "t=time.perf_counter();p=time.process_time()\n"
        "for _ in range(400):\n"
        "    h=highspy.Highs();h.setOptionValue('output_flag',False)\n"
        "    h.setOptionValue('threads',1);h.passModel(lp);h.run()\n"
        "    assert h.getModelStatus()==highspy.HighsModelStatus.kOptimal\n"
        "print(time.perf_counter()-t, time.process_time()-p)"
    ),
    "stream": (
        "import time, numpy as np\nn=8*1024*1024\nx=np.ones(n);y=np.ones(n);z=np.empty(n)\n"
        "t=time.perf_counter();p=time.process_time()\n"
        "for _ in range(300): np.add(x,y,out=z)\n"
        "print(time.perf_counter()-t, time.process_time()-p)"
    ),
}
ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _once(code: str, n: int) -> list[tuple[float, float]]:
    env = {**os.environ, **ENV}
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(n)
    ]
    out = []
    for p in procs:
        wall, cpu = p.communicate()[0].split()[-2:]  # HiGHS may print its banner first
        out.append((float(wall), float(cpu)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--loops", default=",".join(LOOPS), help="comma-separated: " + ", ".join(LOOPS))
    ap.add_argument("--out")
    a = ap.parse_args()
    load = [round(x, 2) for x in os.getloadavg()]
    loops: dict[str, object] = {}
    for name in a.loops.split(","):
        alone: list[tuple[float, float]] = []
        paired: list[tuple[float, float]] = []
        for _ in range(a.runs):
            alone += _once(LOOPS[name], 1)
            paired += _once(LOOPS[name], 2)
        wa = statistics.median(w for w, _ in alone)
        wp = statistics.median(w for w, _ in paired)
        ca = statistics.median(c for _, c in alone)
        cp = statistics.median(c for _, c in paired)
        loops[name] = {
            "alone_seconds": [round(w, 3) for w, _ in alone],
            "paired_seconds": [round(w, 3) for w, _ in paired],
            "alone_cpu_seconds": [round(c, 3) for _, c in alone],
            "paired_cpu_seconds": [round(c, 3) for _, c in paired],
            "slowdown_when_paired": round(wp / wa, 3),
            "cpu_slowdown_when_paired": round(cp / ca, 3),
            "speedup_ceiling_two_processes": round(2 * wa / wp, 3),
        }
    res = {
        "command": " ".join(["python", *sys.argv]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "cpus": os.cpu_count(),
        "loadavg_before": load,
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "loops": loops,
    }
    text = json.dumps(res, indent=2)
    print(text)
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
