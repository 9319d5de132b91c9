"""Crash safety: `mrv ingest`, `mrv run` and `mrv report` killed with SIGKILL at random points.

Each command is started, killed after a random delay from a seeded RNG, checked, killed again, and
finally run to completion. Delays are drawn two ways: a random fraction of the command's normal
duration (anywhere in the run), or a short random time after the command enters its critical step
(the batch's row rules are saved, so the warehouse commit is next; a package folder starts being
built), so that the commit and the package swap are hit, not only Python's start-up.

After every kill: each batch is in the warehouse whole or not at all, and only complete verifier
packages are visible. At the end the warehouse, the period's results and the package equal those
of an uninterrupted run, with every batch counted once. Set MRV_CRASH_ROUNDS to kill more often.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from crash.state import (assert_no_half_written_package, assert_package_complete, assert_same_warehouse,
                         assert_warehouse_consistent, listed_versions_exist, warehouse_snapshot)
from support import make_project, stove, visit, write_export

from pipelines import periods
from pipelines import versions as report_versions
from pipelines.ingest import ingest_in_process
from pipelines.project import load_project
from pipelines.settings import DataHome

MRV = [sys.executable, "-m", "pipelines.cli"]
ROUNDS = int(os.environ.get("MRV_CRASH_ROUNDS", "2"))
SEED = int(os.environ.get("MRV_CRASH_SEED", "20240301"))


def _exports(folder: Path) -> dict[str, Path]:
    stoves = [stove(i) for i in range(1, 41)]
    stoves += [stove(41, household_id=""), stove(42, stove_model="M9"), stove(43, stove_serial="SN0001"),
               stove(44, lat=23.9)]
    visits = [visit(i) for i in range(1, 36)]
    visits += [visit(50, stove_serial="SN9999"), visit(51, household_size="many"), visit(2, id="v2b")]
    return {"dist": write_export(folder / "dist.csv", "stove_distribution", stoves),
            "use": write_export(folder / "use.zip", "cookstove_usage", visits, "odk")}


def _mrv_env(home: DataHome) -> dict[str, str]:
    return {**os.environ, "MRV_HOME": str(home.root), "MRV_LOCK_TIMEOUT": "300"}


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:  # a temporary folder may vanish between listing and looking
        return 0.0


class Killer:
    """Starts a command and SIGKILLs it at a random point; remembers how long full runs take."""

    def __init__(self, home: DataHome, rng: random.Random):
        self.home = home
        self.rng = rng
        self.normal: dict[str, float] = {"ingest": 9.0, "run": 5.0, "report": 6.0}  # updated by full runs
        self.log: list[str] = []

    def _marker(self, kind: str):
        """A callable telling whether the command has entered its critical step."""
        if kind == "ingest":
            def files():
                return list(self.home.staging.glob("*/*/row_rule_failures.parquet"))
        elif kind == "report":
            def files():
                return [p for p in self.home.reports.glob("*/*/versions/.*building-*")]
        else:
            def files():
                return list(self.home.results.glob("*/*/*/*.parquet"))
        start = max((_mtime(p) for p in files()), default=0.0)
        return lambda: any(_mtime(p) > start for p in files())

    def kill_once(self, kind: str, args: list) -> None:
        """Kill one run of the command; a run that ends before its kill time counts, and is retried (twice)."""
        for _ in range(3):
            if self._attempt(kind, args):
                return

    def _attempt(self, kind: str, args: list) -> bool:
        entered = self._marker(kind)
        targeted = self.rng.random() < 0.5
        delay = self.rng.uniform(0.0, 0.8) if targeted else self.rng.uniform(0.1, 0.9) * self.normal[kind]
        proc = subprocess.Popen([*MRV, *map(str, args)], env=_mrv_env(self.home), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        started = time.monotonic()
        deadline = started + delay
        seen = False
        try:
            if targeted:
                while time.monotonic() < started + 300 and proc.poll() is None and not entered():
                    time.sleep(0.01)
                seen = entered()
                deadline = time.monotonic() + delay
            while time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.01)
            killed = proc.poll() is None
            if killed:
                os.kill(proc.pid, signal.SIGKILL)
        finally:
            _, stderr = proc.communicate(timeout=60)
        elapsed = time.monotonic() - started
        what = f"{args[0]} {Path(str(args[1])).name}"
        if killed:
            self.log.append(f"{what}: killed at {elapsed:.2f} s"
                            + (f", {delay:.2f} s after entering its commit/package step" if seen else ""))
        else:
            self.log.append(f"{what}: finished in {elapsed:.2f} s, before its kill time")
        if proc.returncode not in (0, -signal.SIGKILL):
            pytest.fail(f"{args}: exit {proc.returncode} before being killed: {stderr}")
        return killed

    def complete(self, kind: str, args: list) -> subprocess.CompletedProcess:
        started = time.monotonic()
        result = subprocess.run([*MRV, *map(str, args)], env=_mrv_env(self.home), capture_output=True, text=True,
                                timeout=600)
        self.normal[kind] = time.monotonic() - started
        self.log.append(f"{args[0]} {Path(str(args[1])).name}: ran to completion in {self.normal[kind]:.2f} s")
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        return result


def _reference(tmp_path: Path, exports: dict[str, Path]):
    """The uninterrupted run, in process: same ingest steps and period computation the commands run."""
    home = DataHome(tmp_path / "reference")
    make_project(home)
    for name in ("dist", "use"):
        ingest_in_process(home, "T-CS-1", exports[name])
    result = periods.compute_period(home, load_project(home, "T-CS-1"), "MP1")
    return home, result


def test_commands_killed_at_random_points_end_as_an_uninterrupted_run(tmp_path):
    exports = _exports(tmp_path / "exports")
    reference = ThreadPoolExecutor(max_workers=1).submit(_reference, tmp_path, exports)  # meanwhile, in process
    home = DataHome(tmp_path / "home")
    make_project(home)
    out = tmp_path / "verifier"
    killer = Killer(home, random.Random(SEED))
    fewer = max(1, ROUNDS // 2)
    report = ["report", "--project", "T-CS-1", "--period", "MP1", "--out", out]
    steps = [("ingest", ["ingest", exports["dist"], "--project", "T-CS-1"], ROUNDS),
             ("ingest", ["ingest", exports["use"], "--project", "T-CS-1"], fewer),
             ("run", ["run", "--project", "T-CS-1", "--period", "MP1"], fewer),
             ("report", report, ROUNDS),
             ("report", report, fewer)]  # a re-run rewrites the same version: killing it hides nothing either
    for kind, args, rounds in steps:
        for _ in range(rounds):
            killer.kill_once(kind, args)
            assert_warehouse_consistent(home)
            assert_no_half_written_package(home, out)
        killer.complete(kind, args)
        assert_warehouse_consistent(home)
    print("\n".join(killer.log))

    ref_home, ref_result = reference.result()
    assert_same_warehouse(warehouse_snapshot(home), warehouse_snapshot(ref_home))
    er = pd.read_parquet(home.results / "ams_ii_g" / "emission_reductions" / "T-CS-1" / "MP1.parquet")
    pd.testing.assert_frame_equal(er.reset_index(drop=True), ref_result.emission_reductions.reset_index(drop=True),
                                  check_dtype=False)
    listed = report_versions.list_versions(home, "T-CS-1", "MP1")
    folders = sorted(p.name for p in (home.reports / "T-CS-1" / "MP1" / "versions").iterdir()
                     if not p.name.startswith("."))
    # Unchanged inputs rewrite one version (a second appears only if the code changed under the test).
    assert folders == [v.version for v in listed] and len({v.fingerprint for v in listed}) == len(listed)
    assert listed_versions_exist(home) == []
    for package in (home.reports / "T-CS-1" / "MP1" / "versions" / listed[-1].version, out):
        assert_package_complete(package)
        with duckdb.connect(str(package / "report.duckdb"), read_only=True) as con:
            packaged = con.execute("SELECT * FROM emission_reductions ORDER BY vintage").df()
            batches = con.execute("SELECT count(*), count(DISTINCT batch_id) FROM batches").fetchone()
        assert packaged["er_tco2e"].tolist() == pytest.approx(er["er_tco2e"].tolist(), rel=1e-12)
        assert batches == (2, 2)


def test_two_concurrent_ingests_of_different_files_both_land(tmp_path):
    exports = _exports(tmp_path / "exports")
    more = write_export(tmp_path / "exports" / "more.zip", "stove_distribution",
                        [stove(i) for i in range(100, 140)], "odk")
    home = DataHome(tmp_path / "home")
    make_project(home)
    procs = [subprocess.Popen([*MRV, "ingest", str(f), "--project", "T-CS-1"], env=_mrv_env(home),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for f in (exports["dist"], more)]
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (stdout, stderr) in zip(procs, outputs):
        assert proc.returncode == 0, stderr
        assert "ingested as batch" in stdout and "Traceback" not in stderr
    assert_warehouse_consistent(home)
    ref = DataHome(tmp_path / "reference")
    make_project(ref)
    for f in (exports["dist"], more):  # serial serials are disjoint, so the order does not matter
        ingest_in_process(ref, "T-CS-1", f)
    assert_same_warehouse(warehouse_snapshot(home), warehouse_snapshot(ref))
