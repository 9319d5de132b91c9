"""Batch partitions on a real distributed executor: Dagster's Celery executor, a Redis broker, worker processes.

Batches are independent partitions (``survey_batches``, keys ``<project>:<batch>``), so their runs
can be spread over workers. This suite does it for real and checks that the results do not change.
Seven exports of two cookstove projects are ingested twice, each time into a new data home. There
are two rounds: first the stove registers, then the usage visits, because a visit needs its stove
registered. Within a round no batch depends on another.

- **Distributed.** A throwaway ``redis-server`` (Debian package) is Celery's broker and result
  backend. One ``dagster-celery worker start`` with two prefork processes executes the steps. The
  batch partitions are registered in a persistent (SQLite) Dagster instance. The ``ingest_batch`` job
  runs every partition of a round at once, each run orchestrated by its own process. The job has the
  project's own assets and checks, with ``MRV_BATCH_EXECUTOR=celery`` (tests/e2e/distributed_jobs.py).
- **In-process**, meanwhile, in a separate process: exactly what ``mrv ingest`` and ``mrv run`` do
  (`pipelines.orchestration`).

While the first round runs, the test holds the warehouse's write lock until the ``accepted_rows``
steps of two runs have started in the two worker processes. Both must wait and then commit
(pipelines/warehouse.py serialises writers with a file lock).

The checks afterwards:

- both warehouses hold the same accepted rows, quarantine, warnings and per-batch counts;
- the monitoring periods computed from each warehouse give identical Parquet tables (emission reductions
  included);
- the event log shows that every step ran in a Celery pool process, not in the process that
  orchestrated the run and not in the test, and that each step ran once.

Needs Debian ``redis-server`` and the ``e2e`` extra (``dagster-celery[redis]``). Without them the test
is skipped; under ``MRV_E2E=require`` it fails.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from e2e.infra import celery_worker, need_module, redis_binary, redis_server
from support import COOKSTOVE_YAML, make_project, stove, visit, write_export

from pipelines import ingest as batches
from pipelines import orchestration, warehouse
from pipelines.project import load_project
from pipelines.settings import REPO_ROOT, DataHome

pytestmark = pytest.mark.e2e

PROJECTS = ("T-CS-A", "T-CS-B")
PERIOD = "MP1"
WORKER_PROCESSES = 2  # the machine has two cores
RUN_TIMEOUT = 240  # seconds for every run of a round to finish
LOCK_WAIT_TIMEOUT = 120  # seconds for two accepted_rows steps to reach the held warehouse lock
JOB = "ingest_batch"
STEPS = {"surveys__batch_upload", "surveys__batch_upload_row_rules", "surveys__accepted_rows",
         "surveys__accepted_rows_runner_risk", "surveys__review_writeback"}
EXPECTED_QUARANTINE = {"bad_value", "duplicate_stove", "no_gps", "outside_boundary", "unknown_stove"}
VOLATILE_COLUMNS = {"uploaded_at", "committed_at"}  # wall-clock times of the upload and the commit


# --- the exports ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Export:
    name: str
    project: str
    form: str
    rows: list[dict]
    flavour: str = "kobo"


def _timed(rows: list[dict], day: str) -> list[dict]:
    """Submissions 15 minutes apart on `day`, in file order (plausible for one runner's round)."""
    for k, row in enumerate(rows):
        start = pd.Timestamp(f"{day}T08:00:00+05:30") + pd.Timedelta(minutes=15 * k)
        row.update(start=start.isoformat(), end=(start + pd.Timedelta(minutes=10)).isoformat())
    return rows


def _register(project: str, numbers: range, runner: str, **special: dict) -> list[dict]:
    return _timed([stove(i, project_id=project, runner_id=runner, **special.get(str(i), {})) for i in numbers], "2024-03-01")


def _usage(project: str, numbers: list[int], runner: str, **special: dict) -> list[dict]:
    return _timed([visit(i, id=f"v{i}", project_id=project, runner_id=runner, **special.get(str(i), {})) for i in numbers],
                  "2025-03-10")


def exports() -> list[list[Export]]:
    """Two rounds of batches; within a round no batch depends on another.

    Every batch has its own runner, stoves and photos, so no cross-batch rule (duplicate serial,
    runner speed, reused photo, repeat visit) links two batches of a round: their results cannot
    depend on which one commits first. Usage visits need the stoves of round 1 in the warehouse.
    """
    a1 = _register("T-CS-A", range(1, 7), "RA1", **{"6": {"stove_model": "M9"}})  # unknown model: bad_value
    a1.append({**a1[0], "id": "d1-again", "household_id": "H1b", "photo_stove": "dist_1b.jpg"})  # same serial later
    _timed(a1, "2024-03-01")
    registers = [
        Export("A-register-1", "T-CS-A", "stove_distribution", a1),
        Export("A-register-2", "T-CS-A", "stove_distribution",
               _register("T-CS-A", range(11, 17), "RA2", **{"13": {"lat": "", "lon": ""}})),  # no_gps
        Export("B-register-1", "T-CS-B", "stove_distribution",
               _register("T-CS-B", range(101, 107), "RB1", **{"104": {"lat": 23.9}})),  # outside_boundary
        Export("B-register-2", "T-CS-B", "stove_distribution", _register("T-CS-B", range(111, 117), "RB2"), "odk"),
    ]
    usage = [
        Export("A-usage-1", "T-CS-A", "cookstove_usage",
               _usage("T-CS-A", [1, 2, 3, 4, 5, 6, 9999], "RA3", **{"9999": {"stove_serial": "SN9999"}})),  # never registered
        Export("A-usage-2", "T-CS-A", "cookstove_usage", _usage("T-CS-A", list(range(11, 17)), "RA4")),
        Export("B-usage-1", "T-CS-B", "cookstove_usage",
               _usage("T-CS-B", [*range(101, 107), *range(111, 117)], "RB3", **{"105": {"days_used_last_7": "0"}})),
    ]
    return [registers, usage]


def write_exports(folder: Path) -> list[list[tuple[Export, Path]]]:
    return [[(e, write_export(folder / f"{e.name}.csv", e.form, e.rows, e.flavour)) for e in round_] for round_ in exports()]


def new_home(root: Path) -> DataHome:
    home = DataHome(root)
    for project in PROJECTS:
        make_project(home, project, COOKSTOVE_YAML)
    return home


# --- what is compared ----------------------------------------------------------------------------


def warehouse_snapshot(home: DataHome) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every warehouse table: its columns and its rows (sorted), without wall-clock times; paths relative to the home."""
    root = str(home.root)
    snapshot = {}
    with warehouse.connect(home) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall()]
        for table in tables:
            frame = con.execute(f'SELECT * FROM "{table}"').df()
            frame = frame[[c for c in frame.columns if c not in VOLATILE_COLUMNS]]
            rows = sorted(tuple("<null>" if pd.isna(v) else str(v).replace(root, "<home>") for v in row)
                          for row in frame.itertuples(index=False, name=None))
            snapshot[table] = (list(frame.columns), rows)
    return snapshot


def batch_counts(home: DataHome) -> list[tuple]:
    with warehouse.connect(home) as con:
        return con.execute("SELECT project_id, source_file, form, rows_read, accepted, duplicates, quarantined, warned "
                           "FROM batches ORDER BY project_id, source_file").fetchall()


def quarantine_reasons(home: DataHome) -> set[str]:
    with warehouse.connect(home) as con:
        return {r[0] for r in con.execute("SELECT DISTINCT reason FROM quarantine").fetchall()}


def period_tables(home: DataHome) -> dict[str, pd.DataFrame]:
    """Every period result (Parquet per asset, project and period) the period runs wrote."""
    return {str(path.relative_to(home.results)): pd.read_parquet(path) for path in sorted(home.results.rglob("*.parquet"))}


# --- the event log -------------------------------------------------------------------------------


def step_events(instance: dg.DagsterInstance, run_id: str, event_type: dg.DagsterEventType) -> list:
    return [e for e in instance.all_logs(run_id, of_type=event_type) if e.dagster_event is not None]


def started_accepted_rows(instance: dg.DagsterInstance) -> list:
    """STEP_START events of surveys/accepted_rows in every run of the instance so far."""
    events = []
    for run in instance.get_runs(dg.RunsFilter(job_name=JOB)):
        events += [e for e in step_events(instance, run.run_id, dg.DagsterEventType.STEP_START)
                   if e.dagster_event.step_key == "surveys__accepted_rows"]
    return events


# --- run processes ---------------------------------------------------------------------------------


class RunProcess:
    """A spawned process that loads the Celery job once, then runs the calls sent to it (distributed_jobs.serve).

    Once it has executed a run, Dagster's SIGTERM handler (raise KeyboardInterrupt) stays installed in
    the process, so these processes are stopped by closing their pipe, then SIGKILL after a grace
    period, never by a bare SIGTERM.
    """

    def __init__(self, working_directory: str):
        from e2e import distributed_jobs

        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(target=distributed_jobs.serve, args=(child, working_directory), daemon=True)
        self.process.start()
        child.close()

    def submit(self, name: str, *args) -> "RunProcess":
        self.connection.send((name, args))
        return self

    def ready(self) -> bool:
        return self.connection.poll()

    def result(self, timeout: float):
        if not self.connection.poll(timeout):
            raise TimeoutError(f"no answer from run process {self.process.pid} within {timeout} s")
        ok, value = self.connection.recv()
        if not ok:
            pytest.fail(f"run process {self.process.pid} failed:\n{value}", pytrace=False)
        return value

    def stop(self) -> bool:
        """End the process; True when it had to be killed."""
        self.connection.close()  # serve() returns on EOF
        self.process.join(10)
        if not self.process.is_alive():
            return False
        self.process.kill()
        self.process.join(10)
        return True


# --- the test --------------------------------------------------------------------------------------


def run_round(runners: list[RunProcess], instance: dg.DagsterInstance, home: DataHome, round_: list[tuple[Export, Path]],
              run_config: dict, hold_lock: bool) -> tuple[dict[str, tuple[str, bool, int]], list, float | None]:
    """Keep the round's uploads, register their partitions, run them all at once on the Celery executor.

    With `hold_lock`, the test holds the warehouse's write lock until accepted_rows steps of two runs
    have started, then releases it. Returns {partition: (run id, success, orchestrator pid)}, those
    STEP_START events, and the time the lock was released.
    """
    assert len(round_) <= len(runners), "one run process per run of a round"
    keys = [batches.store_upload(home, load_project(home, export.project), path).partition_key for export, path in round_]
    instance.add_dynamic_partitions("survey_batches", keys)
    waiting, released_at = [], None

    def submit() -> dict[str, RunProcess]:
        return {key: runner.submit("run_partition", key, run_config, str(REPO_ROOT)) for key, runner in zip(keys, runners)}

    if hold_lock:
        with warehouse.connect(home, write=True):
            running = submit()
            deadline = time.monotonic() + LOCK_WAIT_TIMEOUT
            while len({e.run_id for e in started_accepted_rows(instance)}) < 2:
                assert not [k for k, r in running.items() if r.ready()], "a run ended while the warehouse lock was held"
                assert time.monotonic() < deadline, "two accepted_rows steps never reached the warehouse lock"
                time.sleep(0.5)
            waiting = started_accepted_rows(instance)
            time.sleep(1.0)
            released_at = time.time()
    else:
        running = submit()
    return {key: tuple(runner.result(RUN_TIMEOUT)) for key, runner in running.items()}, waiting, released_at


def assert_steps_ran_on_the_workers(instance: dg.DagsterInstance, outcomes: dict, pool_pids: tuple[int, ...],
                                    broker: str) -> None:
    """One successful run per partition, each step once, every step in a Celery pool process."""
    assert {key: ok for key, (_, ok, _) in outcomes.items()} == {key: True for key in outcomes}, outcomes
    runs = instance.get_runs(dg.RunsFilter(job_name=JOB))
    assert sorted(r.tags["dagster/partition"] for r in runs) == sorted(outcomes)
    assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
    orchestrators = {pid for _, _, pid in outcomes.values()}
    assert os.getpid() not in orchestrators and not orchestrators & set(pool_pids)
    step_pids = set()
    for key, (run_id, _, orchestrator) in outcomes.items():
        assert instance.get_run_by_id(run_id).run_config["execution"]["config"]["broker"] == broker
        starts = step_events(instance, run_id, dg.DagsterEventType.STEP_START)
        successes = step_events(instance, run_id, dg.DagsterEventType.STEP_SUCCESS)
        assert sorted(e.dagster_event.step_key for e in starts) == sorted(STEPS), key
        assert sorted(e.dagster_event.step_key for e in successes) == sorted(STEPS), key  # once each, none lost
        pids = {e.dagster_event.pid for e in starts}
        assert pids <= set(pool_pids) and orchestrator not in pids, (key, pids, pool_pids, orchestrator)
        step_pids |= pids
        delegated = [e for e in step_events(instance, run_id, dg.DagsterEventType.ENGINE_EVENT)
                     if "in celery worker" in (e.dagster_event.message or "")]
        assert {e.dagster_event.step_key for e in delegated} == STEPS, key
        checks = {(e.dagster_event.event_specific_data.asset_check_key.name, e.dagster_event.event_specific_data.passed)
                  for e in step_events(instance, run_id, dg.DagsterEventType.ASSET_CHECK_EVALUATION)}
        assert ("row_rules", True) in checks, (key, checks)
        materialized = {(e.dagster_event.asset_key.to_user_string(), e.dagster_event.partition)
                        for e in step_events(instance, run_id, dg.DagsterEventType.ASSET_MATERIALIZATION)}
        assert {("surveys/batch_upload", key), ("surveys/accepted_rows", key)} <= materialized, key
    assert step_pids == set(pool_pids), f"the steps ran in {step_pids}, not in every pool process {pool_pids}"


def test_batch_partitions_on_celery_workers_give_the_in_process_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    redis_binary()
    need_module("dagster_celery")
    from e2e import distributed_jobs

    timings: dict[str, float] = {}
    rounds = write_exports(tmp_path / "exports")
    reference = new_home(tmp_path / "in-process")
    distributed = new_home(tmp_path / "celery")
    # orchestration points DAGSTER_HOME at whichever home it works on; monkeypatch restores it afterwards.
    monkeypatch.setenv("DAGSTER_HOME", str(distributed.dagster_home))
    monkeypatch.setenv("MRV_HOME", str(distributed.root))  # what the job pointer loads (distributed_jobs.py)
    monkeypatch.setenv("MRV_BATCH_EXECUTOR", "celery")  # the production setting (pipelines/definitions.py)
    monkeypatch.delenv("MRV_CELERY_BROKER", raising=False)  # the broker comes from the run config
    monkeypatch.setenv("MRV_LOCK_TIMEOUT", "300")  # workers: wait for the lock the test holds (at most LOCK_WAIT_TIMEOUT)
    instance = orchestration.instance_for(distributed)  # persistent: SQLite storage in distributed/.dagster
    assert instance.is_persistent
    worker_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "tests"), str(REPO_ROOT)])}

    # One process per run of a round, as the daemon's run launcher would start them, plus one for the
    # in-process reference, which runs meanwhile. They load the job (imports, definitions) while the
    # broker and the worker start; whatever happens, they are stopped.
    started = time.monotonic()
    runners = [RunProcess(str(REPO_ROOT)) for _ in range(max(len(r) for r in rounds) + 1)]
    try:
        # the same batches in-process, as `mrv ingest` runs them, and their periods, in a data home of their own
        in_process = runners[0].submit(
            "in_process_reference", str(reference.root),
            [(export.project, str(path)) for round_ in rounds for export, path in round_],
            [(project, PERIOD) for project in PROJECTS])
        with redis_server(tmp_path) as broker, \
                celery_worker(broker, broker, "mrv-e2e", tmp_path, worker_env, cwd=REPO_ROOT,
                              concurrency=WORKER_PROCESSES, includes=("e2e.distributed_jobs",)) as worker:
            timings["broker and worker up"] = time.monotonic() - started
            run_config = distributed_jobs.celery_run_config(broker, broker)
            outcomes = {}
            for number, round_ in enumerate(rounds, start=1):
                mark = time.monotonic()
                done, round_waiting, round_released = run_round(runners[1:], instance, distributed, round_, run_config,
                                                                hold_lock=number == 1)
                outcomes.update(done)
                if number == 1:
                    waiting, released_at = round_waiting, round_released
                timings[f"celery round {number} ({len(round_)} batches)"] = time.monotonic() - mark
        in_process.result(RUN_TIMEOUT)
        timings["in-process reference (ingest and periods) done"] = time.monotonic() - started
    finally:
        killed = sum(runner.stop() for runner in runners)

    assert_steps_ran_on_the_workers(instance, outcomes, worker.pool_pids, broker)
    # the warehouse lock: two commits, in different worker processes, waited for it and then committed
    assert len({e.dagster_event.pid for e in waiting}) == 2, [(e.run_id, e.dagster_event.pid) for e in waiting]
    for start in waiting:
        done = [e for e in step_events(instance, start.run_id, dg.DagsterEventType.STEP_SUCCESS)
                if e.dagster_event.step_key == "surveys__accepted_rows"]
        assert len(done) == 1 and start.timestamp < released_at <= done[0].timestamp, (start, done)

    # --- the same warehouse: accepted rows, quarantine, warnings, per-batch counts
    counts = batch_counts(distributed)
    assert counts == batch_counts(reference)
    assert len(counts) == sum(len(r) for r in rounds)
    assert quarantine_reasons(distributed) == EXPECTED_QUARANTINE
    expected, actual = warehouse_snapshot(reference), warehouse_snapshot(distributed)
    assert actual.keys() == expected.keys()
    for table in expected:
        assert actual[table] == expected[table], table

    # --- and the same monitoring period computed from each
    mark = time.monotonic()
    for project_id in PROJECTS:
        orchestration.run_period(distributed, load_project(distributed, project_id), PERIOD)
    timings[f"period runs ({len(PROJECTS)} projects)"] = time.monotonic() - mark
    expected_results, actual_results = period_tables(reference), period_tables(distributed)
    assert actual_results.keys() == expected_results.keys()
    for name, frame in expected_results.items():
        pd.testing.assert_frame_equal(actual_results[name], frame, check_exact=True, obj=name)
    er = {name: float(frame["er_tco2e"].sum()) for name, frame in actual_results.items()
          if name.startswith("ams_ii_g/emission_reductions/")}
    assert len(er) == len(PROJECTS) and all(v > 0 for v in er.values()), er

    print("batches:", counts)
    print("emission reductions:", er)
    print("timings:", {k: round(v, 1) for k, v in timings.items()}, f"(run processes killed at the end: {killed})")
