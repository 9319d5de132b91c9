"""Monitoring periods across methodologies: look-up, computation without Dagster, packaging."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines import warehouse
from pipelines.errors import UserError
from pipelines.monitoring.result import PeriodResult
from pipelines.parameters import resolve_parameters
from pipelines.project import PARTITION_SEPARATOR, MonitoringPeriod, Project, load_project
from pipelines import versions
from pipelines.report.package import code_version, write_package
from pipelines.settings import DataHome


def period_context(home: DataHome, partition_key: str) -> tuple[DataHome, Project, MonitoringPeriod]:
    project_id, _, period_id = partition_key.partition(PARTITION_SEPARATOR)
    project = load_project(home, project_id)
    return home, project, project.period(period_id)


def compute_period(home: DataHome, project: Project, period_id: str) -> PeriodResult:
    """Compute a monitoring period without Dagster (tests, benchmarks)."""
    period = project.period(period_id)
    parameters = resolve_parameters(project)
    if project.methodology == "cdm-ams-ii-g":
        from pipelines.monitoring import cookstoves

        return cookstoves.compute_period(home, project, period, parameters)
    if project.methodology == "vm0047-census":
        from pipelines.monitoring import trees

        return trees.compute_period(home, project, period, parameters)
    raise UserError(f"no calculation for methodology {project.methodology}")


def project_findings(home: DataHome, project: Project) -> dict[str, pd.DataFrame]:
    """Quarantine, warnings and upload lineage of the project, for the verifier package."""
    forms = list(project.forms)
    with warehouse.connect(home) as con:
        quarantine = con.execute(
            "SELECT submission_id, form, reason, detail, project_id, batch_id, source_row, runner_id FROM quarantine "
            "WHERE project_id = ? AND list_contains(?, form) ORDER BY form, batch_id, source_row, reason",
            [project.project_id, forms]).df()
        warnings = con.execute(
            "SELECT submission_id, form, reason, detail, project_id, batch_id, source_row, runner_id FROM warnings "
            "WHERE project_id = ? AND list_contains(?, form) ORDER BY form, batch_id, source_row, reason",
            [project.project_id, forms]).df()
        batches = con.execute(
            "SELECT batch_id, project_id, form, flavour, source_file, sha256, uploaded_at, rows_read, accepted, "
            "duplicates, quarantined, warned, committed_at FROM batches WHERE project_id = ? ORDER BY uploaded_at, batch_id",
            [project.project_id]).df()
    return {"quarantine": quarantine, "warnings": warnings, "batches": batches}


def package_dir(home: DataHome, project_id: str, period_id: str) -> Path:
    """The newest version of a period's verifier package."""
    return versions.latest_dir(home, project_id, period_id)


def write_period_package(home: DataHome, result: PeriodResult) -> Path:
    """Write the verifier package of a computed period as a version in the data home.

    Unchanged inputs (parameters, code, batches) rewrite the same version; anything else adds one.
    """
    project = load_project(home, result.project_id)
    version = versions.new_version(result.project_id, result.period_id, home,
                                   parameters_sha256=result.parameters_sha256, code_version=code_version(),
                                   methodology_version=result.methodology_version,
                                   er_tco2e=float(result.emission_reductions["er_tco2e"].sum()))
    target = versions.version_dir(home, result.project_id, result.period_id, version.version)
    extra = {**project_findings(home, project),
             "report_version": pd.DataFrame([{"version": version.version, "fingerprint": version.fingerprint,
                                              "batches": version.batches}])}
    write_package(result, extra, target)
    versions.record_version(home, result.project_id, result.period_id, version)
    return target
