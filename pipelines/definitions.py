"""The one place where the pieces are joined into Dagster definitions.

`build_definitions(home)` binds every asset to a data home; the module-level `defs` (what
``dagster dev -w workspace.yaml`` and ``dg`` load) uses ``$MRV_HOME`` or ``data/``.
"""

from __future__ import annotations

import os
import warnings

import dagster as dg

# Partitioned asset checks (partitions_def on @asset_check) are "preview" in Dagster 1.13 but are the
# documented way to check one partition at a time; the warning says nothing a user can act on.
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

import assets
import assets.sensors
from assets.partitions import ams_ii_g_periods, survey_batches, vm0047_periods
from pipelines.errors import UserError
from pipelines.resources import MrvHome, PeriodTablesIOManager
from pipelines.settings import DataHome

BATCH_EXECUTORS = ("in_process", "multiprocess", "celery")


def batch_executor(choice: str | None = None) -> dg.ExecutorDefinition:
    """Where the steps of ``ingest_batch`` run: ``$MRV_BATCH_EXECUTOR`` (docs/production.md).

    ``in_process`` (default): steps take about a second each, and running them in the run's own process
    avoids paying a fresh Python (dagster, pandas, geopandas imports) per step; runs still run in
    parallel with each other. ``multiprocess``: a process per step. ``celery``: steps go to
    ``dagster-celery`` workers; the broker and result backend come from ``$MRV_CELERY_BROKER`` /
    ``$MRV_CELERY_BACKEND`` when set, else from the run config's ``execution`` block.
    """
    choice = choice or os.environ.get("MRV_BATCH_EXECUTOR", "in_process")
    if choice == "in_process":
        return dg.in_process_executor
    if choice == "multiprocess":
        return dg.multiprocess_executor
    if choice == "celery":
        try:
            from dagster_celery import celery_executor
        except ImportError:
            raise UserError("MRV_BATCH_EXECUTOR=celery needs dagster-celery: pip install -e '.[distributed]'") from None
        broker = os.environ.get("MRV_CELERY_BROKER")
        if not broker:
            return celery_executor
        return celery_executor.configured({"broker": broker, "backend": os.environ.get("MRV_CELERY_BACKEND", broker)},
                                          name="celery")
    raise UserError(f"MRV_BATCH_EXECUTOR={choice!r} is not an executor: use one of {', '.join(BATCH_EXECUTORS)}")


def ingest_batch_job(executor: dg.ExecutorDefinition) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job("ingest_batch", selection=dg.AssetSelection.groups("surveys"),
                               partitions_def=survey_batches, executor_def=executor,
                               description="Stage, validate and commit one uploaded batch.")


# A period is one project's computation, a step after the other: in the run's own process.
ams_ii_g_period_job = dg.define_asset_job(
    "ams_ii_g_period", selection=dg.AssetSelection.groups("ams_ii_g"), partitions_def=ams_ii_g_periods,
    executor_def=dg.in_process_executor,
    description="Compute a cookstove monitoring period and write its verifier package.")
vm0047_period_job = dg.define_asset_job(
    "vm0047_period", selection=dg.AssetSelection.groups("vm0047"), partitions_def=vm0047_periods,
    executor_def=dg.in_process_executor,
    description="Compute a tree monitoring period (VM0047 census) and write its verifier package.")


def build_definitions(home: DataHome) -> dg.Definitions:
    return dg.Definitions(
        assets=dg.load_assets_from_package_module(assets),
        asset_checks=dg.load_asset_checks_from_package_module(assets),
        sensors=[assets.sensors.project_periods, assets.sensors.upload_folder],
        schedules=assets.sensors.nightly_schedules,
        jobs=[ingest_batch_job(batch_executor()), ams_ii_g_period_job, vm0047_period_job],
        resources={
            "mrv_home": MrvHome(path=str(home.root)),
            "period_tables": PeriodTablesIOManager(path=str(home.root)),
        },
    )


defs = build_definitions(DataHome.from_env())
