"""A cookstove monitoring period under CDM AMS-II.G, from the warehouse to a `PeriodResult`.

The three pieces — usage sample, device-years, emission reductions — are separate functions so
that each is one Dagster asset; `compute_period` chains them for callers without Dagster.
"""

from __future__ import annotations

import pandas as pd

from pipelines import warehouse
from pipelines.methodology import ams_ii_g
from pipelines.monitoring.result import PeriodResult
from pipelines.parameters import ParameterSet
from pipelines.project import MonitoringPeriod, Project
from pipelines.quality.vector import isin
from pipelines.settings import DataHome

STOVE_COLUMNS = ("submission_id, runner_id, household_id, stove_serial, stove_model, commissioned_on, "
                 "consent_carbon_rights, latitude, longitude, gps_accuracy_m, photo_stove, submitted_at, "
                 "batch_id, source_file, source_row")
VISIT_COLUMNS = ("submission_id, runner_id, household_id, stove_serial, visit_date, started_at, ended_at, stove_found, "
                 "stove_in_use, days_used_last_7, baseline_stove_in_use, main_fuel, household_size, stove_condition, "
                 "latitude, longitude, gps_accuracy_m, photo_stove, submitted_at, batch_id, source_file, source_row")
REGISTER = ["stove_serial", "stove_model", "commissioned_on"]


def load_stoves(home: DataHome, project: Project) -> pd.DataFrame:
    """Accepted distribution records of the project (the stove register)."""
    return warehouse.read_accepted(home, "stove_distribution", STOVE_COLUMNS, project.project_id,
                                   order_by="stove_serial", dates=("commissioned_on",))


def load_visits(home: DataHome, project: Project, period: MonitoringPeriod) -> pd.DataFrame:
    """Accepted usage visits of the project dated within the period."""
    return warehouse.read_accepted(home, "cookstove_usage", VISIT_COLUMNS, project.project_id,
                                   where="AND visit_date BETWEEN ? AND ?", params=(period.start, period.end),
                                   order_by="stove_serial, visit_date, submission_id", dates=("visit_date",))


def _ids(project: Project, period: MonitoringPeriod) -> dict[str, str]:
    return {"project_id": project.project_id, "period_id": period.id}


def usage_sample(project: Project, period: MonitoringPeriod, parameters: ParameterSet,
                 stoves: pd.DataFrame, visits: pd.DataFrame) -> pd.DataFrame:
    """One row per stove visited in the period: its latest visit and whether it counts for U."""
    sample = ams_ii_g.select_usage_sample(visits, stoves[REGISTER], period.start, period.end,
                                          parameters.values["technical_life_years"])
    return sample.assign(**_ids(project, period))


def device_years(project: Project, period: MonitoringPeriod, parameters: ParameterSet,
                 stoves: pd.DataFrame) -> pd.DataFrame:
    """Stove-days and device-years per stove model and calendar year of the period."""
    stove_days = ams_ii_g.stove_days_by_vintage(stoves[REGISTER], period.start, period.end,
                                                parameters.values["technical_life_years"])
    return ams_ii_g.device_years(stove_days).assign(**_ids(project, period))


def usage_estimate(parameters: ParameterSet, sample: pd.DataFrame) -> ams_ii_g.UsageEstimate:
    counted = sample["counted"].astype(bool)
    n = int(counted.sum())
    k = int((counted & sample["in_use"].astype(bool)).sum())
    return ams_ii_g.usage_rate(k, n, parameters.values["z"], parameters.values["usage_precision_target"])


def emission_reductions(project: Project, period: MonitoringPeriod, parameters: ParameterSet,
                        sample: pd.DataFrame, years: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(emission_reductions, calculation_steps, emission_reductions_by_model) of the period."""
    usage = usage_estimate(parameters, sample)
    per_model = years[["stove_model", "vintage", "stoves_active", "stove_days", "device_years"]]
    result = ams_ii_g.emission_reductions(per_model, usage, parameters.values)
    ids = _ids(project, period)
    by_vintage = result.by_vintage
    er = pd.DataFrame({
        "project_id": project.project_id, "period_id": period.id,
        "vintage": by_vintage["vintage"].astype("int64"),
        "er_tco2e": by_vintage["er_tco2e"].astype("float64"),
        "issuable_tco2e": by_vintage["issuable_tco2e"].astype("int64"),
    })
    steps = result.steps.to_frame()
    steps.insert(0, "period_id", period.id)
    steps.insert(0, "project_id", project.project_id)
    return er, steps, result.by_model.assign(**ids)


def assemble(project: Project, period: MonitoringPeriod, parameters: ParameterSet, *, stoves: pd.DataFrame,
             visits: pd.DataFrame, sample: pd.DataFrame, years: pd.DataFrame, er: pd.DataFrame,
             steps: pd.DataFrame, by_model: pd.DataFrame | None = None) -> PeriodResult:
    """The period's tables as one `PeriodResult` (what the verifier package holds)."""
    tables = {
        "emission_reductions": er,
        "calculation_steps": steps,
        "parameters": parameters.table,
        "usage_sample": sample,
        "device_years": years,
        "stove_distribution": stoves.assign(project_id=project.project_id),
        "cookstove_usage": visits.assign(project_id=project.project_id,
                                         latest_visit=isin(visits["submission_id"], sample["submission_id"])),
    }
    if by_model is not None:
        tables["emission_reductions_by_model"] = by_model
    usage = usage_estimate(parameters, sample)
    return PeriodResult(
        project_id=project.project_id, period_id=period.id, methodology=project.methodology,
        methodology_version=parameters.methodology_version, parameters_sha256=parameters.sha256,
        tables=tables, geometry_tables={"stove_distribution": "point", "cookstove_usage": "point"},
        summary={"er_tco2e": float(er["er_tco2e"].sum()), "issuable_tco2e": float(er["issuable_tco2e"].sum()),
                 "usage_rate_applied": usage.applied, "usage_sample_n": usage.n, "stoves_registered": len(stoves)},
    )


def compute_period(home: DataHome, project: Project, period: MonitoringPeriod, parameters: ParameterSet) -> PeriodResult:
    """The whole period chain without Dagster."""
    stoves = load_stoves(home, project)
    visits = load_visits(home, project, period)
    sample = usage_sample(project, period, parameters, stoves, visits)
    years = device_years(project, period, parameters, stoves)
    er, steps, by_model = emission_reductions(project, period, parameters, sample, years)
    return assemble(project, period, parameters, stoves=stoves, visits=visits, sample=sample, years=years,
                    er=er, steps=steps, by_model=by_model)
