"""The one place where the pieces are joined into Dagster definitions.

`build_definitions(home)` binds every asset to a data home; the module-level `defs` (what
``dagster dev -w workspace.yaml`` and ``dg`` load) uses ``$MRV_HOME`` or ``data/``.
"""

from __future__ import annotations

import warnings

import dagster as dg

# Partitioned asset checks (partitions_def on @asset_check) are "preview" in Dagster 1.13 but are the
# documented way to check one partition at a time; the warning says nothing a user can act on.
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

import assets
import assets.sensors
from assets.partitions import ams_ii_g_periods, survey_batches, vm0047_periods
from pipelines.resources import MrvHome, PeriodTablesIOManager
from pipelines.settings import DataHome

# Steps take about a second each: running them in the run's own process avoids paying a fresh Python
# (dagster, pandas, geopandas imports) per step. Runs still run in parallel with each other.
ingest_batch_job = dg.define_asset_job(
    "ingest_batch", selection=dg.AssetSelection.groups("surveys"), partitions_def=survey_batches,
    executor_def=dg.in_process_executor, description="Stage, validate and commit one uploaded batch.")
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
        jobs=[ingest_batch_job, ams_ii_g_period_job, vm0047_period_job],
        resources={
            "mrv_home": MrvHome(path=str(home.root)),
            "period_tables": PeriodTablesIOManager(path=str(home.root)),
        },
    )


defs = build_definitions(DataHome.from_env())
