"""Run assets in the shared Dagster instance: what the ``mrv`` commands do.

The CLI and ``dagster dev`` share one instance (``$MRV_HOME/.dagster``): a batch ingested from the
command line is a partition with its run and check results in the UI, and vice versa.
"""

from __future__ import annotations

import fcntl
import logging
import warnings
from pathlib import Path

import dagster as dg

from pipelines.errors import UserError
from pipelines.project import Project, load_projects
from pipelines.settings import DataHome

warnings.filterwarnings("ignore", category=dg.PreviewWarning)
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
USER_ERRORS = {"UserError", "WarehouseBusy"}


def instance_for(home: DataHome) -> dg.DagsterInstance:
    """The data home's Dagster instance (created on first use, with telemetry off)."""
    home.ensure_dagster_home()
    logging.getLogger("dagster").setLevel(logging.ERROR)
    home.locks.mkdir(parents=True, exist_ok=True)
    # Two commands opening a new data home at once would both create the instance's SQLite schema.
    with open(home.locks / "dagster-instance.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            return dg.DagsterInstance.get()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def register_periods(instance: dg.DagsterInstance, home: DataHome, projects: list[Project] | None = None) -> None:
    """Add a partition for every monitoring period of every project (idempotent)."""
    from assets.partitions import PERIOD_PARTITIONS

    for project in projects if projects is not None else load_projects(home):
        partitions = PERIOD_PARTITIONS[project.methodology]
        keys = [project.partition_key(p.id) for p in project.periods]
        missing = [k for k in keys if not instance.has_dynamic_partition(partitions.name, k)]
        if missing:
            instance.add_dynamic_partitions(partitions.name, missing)


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The user-facing message of a failed run: a UserError's own words, else the first error line."""
    for event in result.all_events:
        if not event.is_step_failure:
            continue
        error = event.step_failure_data.error
        cursor = error
        while cursor is not None:
            if cursor.cls_name in USER_ERRORS:
                # Dagster records "pipelines.errors.UserError: <message>"; the user needs only the message.
                head, sep, rest = cursor.message.partition(": ")
                return (rest if sep and head.split(".")[-1] == cursor.cls_name else cursor.message).strip()
            cursor = cursor.cause
        if error.cls_name == "DagsterAssetCheckFailedError":
            for check in result.get_asset_check_evaluations():
                if not check.passed:
                    return f"validation could not run: {check.description}"
        return error.message.strip().splitlines()[0]
    return "the run failed"


def materialize(home: DataHome, selection: dg.AssetSelection, partition_key: str) -> dg.ExecuteInProcessResult:
    """Materialize a selection for one partition in the shared instance; `UserError` on failure."""
    from pipelines.definitions import build_definitions

    defs = build_definitions(home)
    instance = instance_for(home)
    job = dg.define_asset_job("mrv_cli", selection=selection)
    resolved = dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def("mrv_cli")
    result = resolved.execute_in_process(partition_key=partition_key, instance=instance, raise_on_error=False,
                                         run_config=QUIET)
    if not result.success:
        raise UserError(_failure_message(result))
    return result


def ingest(home: DataHome, project_id: str, file: Path):
    """``mrv ingest``: keep the upload, register its batch partition and run the survey assets."""
    from assets.partitions import survey_batches
    from pipelines import ingest as batch
    from pipelines.project import load_project

    project = load_project(home, project_id)
    upload = batch.store_upload(home, project, file)
    if batch.batch_is_committed(home, upload):
        summary = batch.read_summary(home, upload)
        summary.already_ingested = True
        return summary
    instance = instance_for(home)
    if not instance.has_dynamic_partition(survey_batches.name, upload.partition_key):
        instance.add_dynamic_partitions(survey_batches.name, [upload.partition_key])
    materialize(home, dg.AssetSelection.groups("surveys"), upload.partition_key)
    return batch.read_summary(home, upload)


def run_period(home: DataHome, project: Project, period_id: str, with_package: bool = False) -> None:
    """``mrv run`` (and ``mrv report``): materialize a period's methodology assets."""
    project.period(period_id)
    group = {"cdm-ams-ii-g": "ams_ii_g", "vm0047-census": "vm0047"}[project.methodology]
    instance = instance_for(home)
    register_periods(instance, home, [project])
    selection = dg.AssetSelection.groups(group)
    if not with_package:
        selection = selection - dg.AssetSelection.assets(dg.AssetKey([group, "verifier_package"]))
    materialize(home, selection, project.partition_key(period_id))
