"""Partitions: one key per uploaded batch, one key per monitoring period of a project.

Keys are ``<project_id>:<batch_id>`` and ``<project_id>:<period_id>``. Both are dynamic, stored in
the Dagster instance: the ``mrv`` commands and the sensors add them, so the CLI and the UI see the
same partitions. Periods are split per methodology because each methodology has its own assets.
"""

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import dagster as dg

from pipelines.periods import period_context
from pipelines.project import MonitoringPeriod, Project
from pipelines.settings import DataHome

survey_batches = dg.DynamicPartitionsDefinition(name="survey_batches")
ams_ii_g_periods = dg.DynamicPartitionsDefinition(name="ams_ii_g_periods")
vm0047_periods = dg.DynamicPartitionsDefinition(name="vm0047_periods")

PERIOD_PARTITIONS = {"cdm-ams-ii-g": ams_ii_g_periods, "vm0047-census": vm0047_periods}


# ----------------------------------------------------------------------------- period runs
#
# A period run computes one period, or a whole range of them: the period assets have a single-run
# backfill policy, so a UI backfill or `dg launch --partition-range A...B` materializes the range in
# one run (Dagster requires it for CLI ranges) and VM0047 periods are computed in order within it.

PERIOD_BACKFILL = dg.BackfillPolicy.single_run()
# `backfill_policy` is "beta" in Dagster 1.13; it is the documented way to run a range in one run.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)


@dataclass(frozen=True)
class PeriodPartition:
    key: str
    project: Project
    period: MonitoringPeriod


def run_periods(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
                home: DataHome) -> list[PeriodPartition]:
    """The periods of this run in calculation order: per project, earliest period first."""
    periods = []
    for key in context.partition_keys:
        _, project, period = period_context(home, key)
        periods.append(PeriodPartition(key, project, period))
    return sorted(periods, key=lambda p: (p.project.project_id, p.period.start))


def period_metadata(values: Mapping[str, Mapping[str, object]]) -> dict[str, object]:
    """Output metadata of a run: one period's values as they are; for a range, ``<period key> <name>``."""
    if len(values) == 1:
        return dict(next(iter(values.values())))
    return {f"{key} {name}": value for key, named in values.items() for name, value in named.items()}


@dataclass(frozen=True)
class PeriodCheck:
    passed: bool
    description: str
    metadata: Mapping[str, object]


def period_check_result(checks: Mapping[str, PeriodCheck]) -> dg.AssetCheckResult:
    """One WARN check result for the run: passed when every period passed; a range lists each period."""
    if len(checks) == 1:
        description = next(iter(checks.values())).description
    else:
        description = "; ".join(f"{key}: {check.description}" for key, check in checks.items())
    return dg.AssetCheckResult(passed=all(check.passed for check in checks.values()),
                               severity=dg.AssetCheckSeverity.WARN, description=description,
                               metadata=period_metadata({key: check.metadata for key, check in checks.items()}))
