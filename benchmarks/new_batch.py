"""Cost of one new batch against a project's history: it must grow with the batch, not the history.

For each history size K: a project whose register arrives in K batches of M stoves; after ingesting
the first K − 1, time the K-th register batch and then one usage batch of M visits. Both look up
keys in the warehouse (duplicate serials in every project, unknown stoves, repeat visits, photos,
runners), so a design that re-read or re-validated earlier batches would show times growing with K.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--rows", type=int, default=2000, help="rows per batch (M)")
    args = parser.parse_args()

    import great_expectations  # noqa: F401  (import once, outside the timings)

    from pipelines.ingest import ingest_in_process
    from pipelines.settings import DataHome
    from pipelines.synth import synth_cookstove_project

    workdir = Path(tempfile.mkdtemp(prefix="mrv-newbatch-"))
    results = []
    try:
        for k in args.history:
            home = DataHome(workdir / f"k{k}")
            pid = f"IN-HIST-{k}"
            project = synth_cookstove_project(home.projects, pid, k * args.rows, args.rows, seed=5, fault_rate=0.002,
                                              batches=k)
            exports = home.project_dir(pid) / "exports"
            register = [exports / e.name for e in project.exports if e.form_id == "stove_distribution"]
            usage = [exports / e.name for e in project.exports if e.form_id == "cookstove_usage"]
            for file in register[:-1]:
                ingest_in_process(home, pid, file)
            timings = {}
            for label, file in (("register_batch", register[-1]), ("usage_batch", usage[0])):
                start = time.perf_counter()
                ingest_in_process(home, pid, file)
                timings[label] = time.perf_counter() - start
            results.append({"history_batches": k, "history_rows": (k - 1) * args.rows, "rows_per_batch": args.rows,
                            **timings})
            print(f"history {k - 1:>4} batches ({(k - 1) * args.rows:>8,} rows): new register batch "
                  f"{timings['register_batch']:.2f} s, new usage batch {timings['usage_batch']:.2f} s "
                  f"({args.rows:,} rows each)", flush=True)
    finally:
        out = REPO / "benchmarks" / "results"
        out.mkdir(exist_ok=True)
        (out / "new_batch.json").write_text(json.dumps(results, indent=2))
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
