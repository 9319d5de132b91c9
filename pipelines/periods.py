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
from pipelines.report import article6
from pipelines.report.package import SITE_VISIT_TABLE, code_version, write_package
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
    return {"quarantine": quarantine, "warnings": warnings, "batches": batches,
            "quarantine_locations": quarantine_locations(home, project)}


def quarantine_locations(home: DataHome, project: Project) -> pd.DataFrame:
    """Where the project's quarantined submissions were made: one row per submission with coordinates.

    The rows come from the warehouse form tables (``accepted = false``), matched to the project's
    quarantine by submission and batch (a wrong-project row carries another project id in its own
    column). Only ids, runner, reasons and coordinates are taken: never personal data.
    """
    from pipelines.readers.canonical import table_name

    parts = []
    with warehouse.connect(home) as con:
        for form in project.forms:
            table = table_name(form)
            columns = {r[0] for r in con.execute(f'DESCRIBE "{table}"').fetchall()}
            line = "r.bund_line_wkt" if "bund_line_wkt" in columns else "NULL::VARCHAR"
            parts.append(con.execute(
                f"SELECT q.project_id, q.form, q.submission_id, q.batch_id, min(q.source_row) AS source_row, "
                f"any_value(q.runner_id) AS runner_id, string_agg(DISTINCT q.reason, ', ' ORDER BY q.reason) AS reasons, "
                f"any_value(r.latitude) AS latitude, any_value(r.longitude) AS longitude, any_value({line}) AS line_wkt "
                f'FROM quarantine q JOIN "{table}" r ON r.submission_id = q.submission_id AND r.batch_id = q.batch_id '
                "AND NOT r.accepted WHERE q.project_id = ? AND q.form = ? AND r.latitude IS NOT NULL "
                "AND r.longitude IS NOT NULL GROUP BY q.project_id, q.form, q.submission_id, q.batch_id",
                [project.project_id, form]).df())
    columns = ["project_id", "form", "submission_id", "batch_id", "source_row", "runner_id", "reasons", "latitude",
               "longitude", "line_wkt"]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    return frame[columns].sort_values(["form", "batch_id", "source_row"], ignore_index=True)


def project_boundary(project: Project) -> pd.DataFrame:
    """The project boundary as one row of WKT (EPSG:4326), so the package shows and checks against it."""
    return pd.DataFrame({"project_id": [project.project_id], "boundary_file": [project.boundary_file],
                         "geometry_wkt": [project.boundary.wkt]})


def _kept_site_visits(target: Path) -> pd.DataFrame | None:
    """The site-visit sample of a package version being rewritten (same inputs, so still valid)."""
    path = target / "parquet" / f"{SITE_VISIT_TABLE}.parquet"
    if not path.exists():
        return None
    return pd.read_parquet(path).drop(columns=["geometry"], errors="ignore")


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
                                   er_tco2e=float(result.emission_reductions["er_tco2e"].sum()),
                                   article6=project.article6)
    target = versions.version_dir(home, result.project_id, result.period_id, version.version)
    period = project.period(result.period_id)
    extra = {**project_findings(home, project),
             "report_version": pd.DataFrame([{"version": version.version, "fingerprint": version.fingerprint,
                                              "batches": version.batches}]),
             "article6": article6.article6_table(project, result.emission_reductions),
             "project_boundary": project_boundary(project)}
    geometry = {"quarantine_locations": "point", "project_boundary": "geometry_wkt"}
    kept = _kept_site_visits(target)
    if kept is not None:
        extra[SITE_VISIT_TABLE] = kept
        geometry[SITE_VISIT_TABLE] = "point"
    info = {"project_name": project.name, "country": project.country, "period_start": period.start.isoformat(),
            "period_end": period.end.isoformat(), "activity_type": extra["article6"]["activity_type"].iloc[0]
            if len(extra["article6"]) else article6.ACTIVITY_TYPES.get(project.methodology, "")}
    write_package(result, extra, target, extra_geometry=geometry, info=info)
    versions.record_version(home, result.project_id, result.period_id, version)
    return target
