"""End-to-end benchmark: usage visits against a stove register of the same size.

For each size N: generate a synthetic project (N distribution records, N usage visits, 0.2 % of
each fault), ingest the register (timed apart), then time every stage of the usage batch and of the
period in separate processes: read, validate (GX), geo checks, commit (geo + cross-batch rules + warehouse
write), methodology (AMS-II.G period), report (verifier package). The I/O floor is reading the
usage CSV with pyarrow and writing it as Parquet. Peak memory is each stage process's own high-water
mark (VmHWM). Prints a table; writes benchmarks/results/run.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

STAGES = ("read", "validate", "geo", "commit", "methodology", "report")


def run_stage(stage: str, home: Path, project_id: str, file: Path | None = None) -> dict:
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "stage.py"), stage, str(home), project_id,
                          *( [str(file)] if file else [])], capture_output=True, text=True, cwd=REPO)
    if out.returncode != 0:
        raise SystemExit(f"stage {stage} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def io_floor(csv: Path, tmp: Path) -> float:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    start = time.perf_counter()
    table = pacsv.read_csv(csv)
    pq.write_table(table, tmp / "floor.parquet")
    return time.perf_counter() - start


def bench(n: int, workdir: Path) -> dict:
    from pipelines.synth import synth_cookstove_project

    home = workdir / f"n{n}"
    project_id = f"IN-BENCH-{n}"
    started = time.perf_counter()
    project = synth_cookstove_project(home / "projects", project_id, n, n, seed=11, fault_rate=0.002)
    generated = time.perf_counter() - started
    exports = home / "projects" / project_id / "exports"
    register = exports / project.exports[0].name
    visits = exports / project.exports[1].name
    registered = run_stage("register", home, project_id, register)
    stages = {}
    for stage in STAGES:
        stages[stage] = run_stage(stage, home, project_id, visits if stage in ("read", "validate", "geo", "commit") else None)
    end_to_end = sum(s["seconds"] for k, s in stages.items() if k != "geo")  # geo is inside commit
    floor = io_floor(visits, home)
    return {"n": n, "generate_seconds": generated, "register_ingest_seconds": registered["seconds"],
            "register_ingest_peak_mib": registered["peak_mib"],
            "input_mib": visits.stat().st_size / 2**20, "stages": stages, "end_to_end_seconds": end_to_end,
            "io_floor_seconds": floor, "ratio_to_io_floor": end_to_end / floor,
            "peak_mib": max(s["peak_mib"] for s in stages.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 4_000_000])
    parser.add_argument("--keep", action="store_true", help="keep the generated data homes")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="mrv-bench-"))
    results = []
    try:
        for n in args.sizes:
            r = bench(n, workdir)
            results.append(r)
            print(f"\n== {n:,} usage visits against {n:,} stoves ({r['input_mib']:.0f} MiB CSV)")
            print(f"{'stage':<12}{'seconds':>10}{'rows/s':>14}{'peak MiB':>10}")
            for stage, s in r["stages"].items():
                print(f"{stage:<12}{s['seconds']:>10.2f}{s['rows'] / max(s['seconds'], 1e-9):>14,.0f}{s['peak_mib']:>10.0f}")
            print(f"end to end {r['end_to_end_seconds']:.1f} s, I/O floor {r['io_floor_seconds']:.1f} s, "
                  f"ratio {r['ratio_to_io_floor']:.1f}, peak {r['peak_mib']:.0f} MiB "
                  f"(register ingest {r['register_ingest_seconds']:.1f} s, peak {r['register_ingest_peak_mib']:.0f} MiB)")
    finally:
        out = REPO / "benchmarks" / "results"
        out.mkdir(exist_ok=True)
        (out / "run.json").write_text(json.dumps(results, indent=2))
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
