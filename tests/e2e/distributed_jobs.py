"""The batch-ingest job on Dagster's Celery executor, loadable by Celery workers (tests/e2e).

Celery workers do not receive the job itself, only a pointer to it: ``definitions`` in this module,
a function that builds the project's definitions (``pipelines.definitions.build_definitions``) for
the data home in ``$MRV_HOME``, whose ``ingest_batch`` job runs its steps on
``dagster_celery.celery_executor`` under ``MRV_BATCH_EXECUTOR=celery`` (the production setting). The
broker comes from the run config. Every process that loads the pointer (the run's orchestrating
process and each worker) must therefore see the same ``$MRV_HOME`` and ``$MRV_BATCH_EXECUTOR``; the
function (rather than ``pipelines.definitions.defs``) caches the definitions per data home and gives
the workers' warm-up hook below one place to load them.

``run_partition`` is what a run worker does: execute one batch partition of that job against the
persistent instance in ``$DAGSTER_HOME``. The test calls it in separate processes (``serve``), so
several partitions are orchestrated at once, as the daemon's run launcher would do.

A Celery worker started with ``-i e2e.distributed_jobs`` imports this module in its main process;
the ``worker_init`` hook below then imports the pipeline (and Great Expectations) and builds the
definitions once, before the prefork pool is forked, so the pool processes start warm.
"""

from __future__ import annotations

import os
import traceback
import warnings
from pathlib import Path

import dagster as dg
from celery.signals import worker_init
from dagster._core.definitions.reconstruct import ReconstructableJob, ReconstructableRepository

MODULE = __name__  # "e2e.distributed_jobs" with tests/ on the path
JOB = "ingest_batch"
_DEFINITIONS: dict[str, dg.Definitions] = {}  # per data home: every Celery task loads the job again


def definitions() -> dg.Definitions:
    """The project's definitions for ``$MRV_HOME``, as ``MRV_BATCH_EXECUTOR=celery`` configures them."""
    from pipelines.definitions import build_definitions
    from pipelines.settings import DataHome

    if not os.environ.get("MRV_HOME"):
        # DataHome.from_env() would fall back to data/ in the checkout; a worker must never write there by accident.
        raise RuntimeError("MRV_HOME is not set: every Celery worker and run process needs the data home")
    if os.environ.get("MRV_BATCH_EXECUTOR") != "celery":
        raise RuntimeError("MRV_BATCH_EXECUTOR is not 'celery': every Celery worker and run process needs it")
    home = DataHome.from_env()
    if str(home.root) not in _DEFINITIONS:
        _DEFINITIONS[str(home.root)] = build_definitions(home)
    return _DEFINITIONS[str(home.root)]


@worker_init.connect
def _warm_up(**_) -> None:
    """In a Celery worker's main process, before the pool forks: the imports and definitions every step needs."""
    import great_expectations  # noqa: F401  (imported lazily by the row-rules check)

    import pipelines.feedback  # noqa: F401
    import pipelines.ingest  # noqa: F401

    definitions().resolve_job_def(JOB)


def reconstructable_job(working_directory: str) -> ReconstructableJob:
    """``ingest_batch`` as a (module, function) pointer that any process with the same code can load."""
    return ReconstructableRepository.for_module(MODULE, "definitions", working_directory).get_reconstructable_job(JOB)


def celery_run_config(broker: str, backend: str) -> dict:
    """The run config of a distributed batch run: where the Celery broker and result backend are."""
    return {"execution": {"config": {"broker": broker, "backend": backend}},
            "loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def load_job(working_directory: str) -> None:
    """Load the job once in a fresh run process (imports and definitions), before any run is due."""
    reconstructable_job(working_directory).get_definition()


def run_partition(partition_key: str, run_config: dict, working_directory: str) -> tuple[str, bool, int]:
    """Execute one batch partition of the Celery job; (run id, success, pid of this orchestrating process)."""
    # dagster-celery registers its task on a fresh Celery app per run and Celery warns about the name each time.
    warnings.filterwarnings("ignore", message="Task name 'execute_plan' is already registered")
    with dg.DagsterInstance.get() as instance:
        result = dg.execute_job(reconstructable_job(working_directory), instance, run_config=run_config,
                                tags={"dagster/partition": partition_key})
        return result.run_id, result.success, os.getpid()


def in_process_reference(home_root: str, uploads: list[tuple[str, str]], periods: list[tuple[str, str]]) -> None:
    """The reference, in another data home: ``mrv ingest`` file after file, then ``mrv run`` per period (in-process executor)."""
    from pipelines import orchestration
    from pipelines.project import load_project
    from pipelines.settings import DataHome

    home = DataHome(Path(home_root))
    before = os.environ.get("DAGSTER_HOME")
    try:
        for project_id, path in uploads:
            orchestration.ingest(home, project_id, Path(path))  # points DAGSTER_HOME at that home
        for project_id, period_id in periods:
            orchestration.run_period(home, load_project(home, project_id), period_id)
    finally:  # this process may orchestrate a Celery run next, in the distributed home's instance
        if before is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = before


CALLS = {"run_partition": run_partition, "in_process_reference": in_process_reference}


def serve(connection, working_directory: str) -> None:
    """A run process: load the job once, then execute the calls received on `connection`, one at a time.

    Each answer is ``(True, result)`` or ``(False, traceback)``; a closed connection ends the process.
    """
    load_job(working_directory)
    while True:
        try:
            name, args = connection.recv()
        except EOFError:
            return
        try:
            answer = (True, CALLS[name](*args))
        except Exception:  # the test reports it
            answer = (False, traceback.format_exc())
        connection.send(answer)
