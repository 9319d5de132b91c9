"""One benchmark stage in its own process; prints a JSON line with seconds and peak RSS (MiB)."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def main(stage: str, home_path: str, project_id: str, file: str | None) -> None:
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
    if stage == "read":
        rows = sum(ingest.stage_batch(home, upload).values())
    elif stage == "validate":
        results = ingest.check_row_rules(home, upload, project)
        rows = len(ingest.read_stage(home, upload)[None])
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
        import pickle

        (Path(home_path) / "bench_result.pickle").write_bytes(pickle.dumps(result))
    elif stage == "report":
        import pickle

        result = pickle.loads((Path(home_path) / "bench_result.pickle").read_bytes())
        start = time.perf_counter()
        write_period_package(home, result)
        rows = len(result.tables["cookstove_usage"])
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"stage": stage, "seconds": seconds, "rows": rows, "peak_mib": peak_mib}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
