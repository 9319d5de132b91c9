"""One benchmark stage in its own process; prints a JSON line with seconds and peak RSS (MiB).

Stages: register (the whole ingest of the stove register), read, validate, geo, commit (of the usage
batch), methodology (the period), report (the verifier package).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def peak_rss_mib() -> float:
    """This process's peak resident memory. ``ru_maxrss`` is not used: Linux carries the parent's peak
    over fork and exec, so a stage started by a large parent would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(stage: str, home_path: str, project_id: str, file: str | None) -> None:
    import pyarrow.parquet as pq

    from pipelines import ingest
    from pipelines.periods import compute_period, write_period_package
    from pipelines.project import load_project
    from pipelines.settings import DataHome

    home = DataHome(Path(home_path))
    project = load_project(home, project_id)
    import great_expectations  # noqa: F401  (its ~6 s import is a per-process cost, not a per-row one)

    start = time.perf_counter()
    rows = 0
    if stage in ("read", "validate", "geo", "commit"):
        upload = ingest.store_upload(home, project, Path(file))
    if stage == "register":
        rows = ingest.ingest_in_process(home, project_id, Path(file)).rows_read
    elif stage == "read":
        rows = sum(ingest.stage_batch(home, upload).values())
    elif stage == "validate":
        results = ingest.check_row_rules(home, upload, project)
        rows = pq.read_metadata(ingest.stage_dir(home, upload) / f"{ingest.table_name(upload.form)}.parquet").num_rows
        assert not any(r.errors for r in results.values())
    elif stage == "geo":
        from pipelines.quality.geo import outside_by_more_than_accuracy

        frame = ingest.read_stage(home, upload)[None]
        start = time.perf_counter()
        outside_by_more_than_accuracy(frame["latitude"], frame["longitude"], frame["gps_accuracy_m"], project.boundary)
        rows = len(frame)
    elif stage == "commit":
        rows = ingest.commit_batch(home, upload, project).rows_read
    elif stage == "methodology":
        result = compute_period(home, project, "MP1")
        rows = len(result.tables["cookstove_usage"])
        seconds, peak_mib = time.perf_counter() - start, peak_rss_mib()
        import pickle

        # Handing the result to the report stage is the benchmark's own cost: not timed, not in the peak.
        with open(Path(home_path) / "bench_result.pickle", "wb") as handle:
            pickle.dump(result, handle, protocol=pickle.HIGHEST_PROTOCOL)
        print(json.dumps({"stage": stage, "seconds": seconds, "rows": rows, "peak_mib": peak_mib}))
        return
    elif stage == "report":
        import pickle

        with open(Path(home_path) / "bench_result.pickle", "rb") as handle:
            result = pickle.load(handle)
        start = time.perf_counter()
        write_period_package(home, result)
        rows = len(result.tables["cookstove_usage"])
    seconds = time.perf_counter() - start
    peak_mib = peak_rss_mib()
    print(json.dumps({"stage": stage, "seconds": seconds, "rows": rows, "peak_mib": peak_mib}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
