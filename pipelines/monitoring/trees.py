"""A tree monitoring period under Verra VM0047 (census-based), from the warehouse to a `PeriodResult`.

The pieces — measured-tree sample, census strata, removals — are separate functions of DataFrames
so that each is one Dagster asset; `compute_period` chains them for callers without Dagster.

A period builds on the one before it (contract: "The previous values are those of the project's
preceding monitoring period"): its removals are measured against the *stored* credited stock of the
preceding period, read from that period's ``event_summary`` Parquet, never recomputed from today's
warehouse — a late upload must not silently change what an earlier, verified period credited.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from pipelines import atomic, warehouse
from pipelines.errors import UserError
from pipelines.methodology import vm0047_census
from pipelines.monitoring.result import PeriodResult
from pipelines.quality.geo import plot_areas_ha, plot_problems
from pipelines.parameters import ParameterSet
from pipelines.project import MonitoringPeriod, Project
from pipelines.settings import DataHome

GROUP = "vm0047"
"""Asset group and first part of the results path (``results/vm0047/<table>/<project>/<period>.parquet``)."""

PLANTING_COLUMNS = ("submission_id, runner_id, plot_id, tree_id, species_code, planted_on, latitude, longitude, "
                    "gps_accuracy_m, photo_tree, started_at, ended_at, submitted_at, batch_id, source_file, source_row")
SURVIVAL_COLUMNS = ("submission_id, runner_id, plot_id, tree_id, visit_date, started_at, ended_at, status, gbh_cm, "
                    "height_m, latitude, longitude, gps_accuracy_m, photo_tree, submitted_at, batch_id, source_file, "
                    "source_row")
BUND_COLUMNS = ("submission_id, runner_id, farmer_id, plot_id, bund_id, visit_date, started_at, ended_at, "
                "bund_line_wkt, species_code, saplings_planted, saplings_alive, latitude, longitude, gps_accuracy_m, "
                "photo_bund, submitted_at, batch_id, source_file, source_row")
MEASURE_COLUMNS = ("m.submission_id, m.repeat_index, m.m_species_code, m.m_gbh_cm, m.m_height_m, m.batch_id, "
                   "m.source_file, m.source_row")

EMISSION_REDUCTION_COLUMNS = ["project_id", "period_id", "vintage", "er_tco2e", "issuable_tco2e"]
EVENT_SUMMARY_COLUMNS = ["project_id", "period_id", "stock_t_c", "delta_c_tco2e", "u_p", "unc", "eligible",
                         "removals_tco2e", "buffer_tco2e", "net_tco2e", "credited_stock_tco2e",
                         "se_total_t_c", "df", "t_value", "adjusted_stock_tco2e", "previous_period_id",
                         "credited_stock_prev_tco2e"]
"""One row per period. The first eleven columns are what the next period and the verifier read."""

GEOMETRY_TABLES = {"tree_planting": "point", "tree_survival": "point", "bund_plantation": "bund_line_wkt",
                   "plots": "geometry_wkt"}


# ----------------------------------------------------------------------------- loaders

def load_plantings(home: DataHome, project: Project, period: MonitoringPeriod) -> pd.DataFrame:
    """Accepted planting records of the project planted on or before the end of the period (the census)."""
    return warehouse.read_accepted(home, "tree_planting", PLANTING_COLUMNS, project.project_id,
                                   where="AND planted_on <= ?", params=(period.end,),
                                   order_by="tree_id, submission_id", dates=("planted_on",))


def load_survival_visits(home: DataHome, project: Project, period: MonitoringPeriod) -> pd.DataFrame:
    """Accepted remeasurement visits to tagged trees of the project dated within the period."""
    return warehouse.read_accepted(home, "tree_survival", SURVIVAL_COLUMNS, project.project_id,
                                   where="AND visit_date BETWEEN ? AND ?", params=(period.start, period.end),
                                   order_by="tree_id, visit_date, submission_id", dates=("visit_date",))


def load_bund_visits(home: DataHome, project: Project, period: MonitoringPeriod) -> pd.DataFrame:
    """Accepted bund plantation visits of the project dated within the period."""
    return warehouse.read_accepted(home, "bund_plantation", BUND_COLUMNS, project.project_id,
                                   where="AND visit_date BETWEEN ? AND ?", params=(period.start, period.end),
                                   order_by="bund_id, visit_date, submission_id", dates=("visit_date",))


def load_bund_tree_measures(home: DataHome, project: Project, period: MonitoringPeriod) -> pd.DataFrame:
    """Accepted ``tree_measure`` rows of the accepted bund visits of the project dated within the period."""
    with warehouse.connect(home) as con:
        return con.execute(f"SELECT {MEASURE_COLUMNS} FROM bund_tree_measure m "
                           "JOIN bund_plantation b ON b.submission_id = m.submission_id AND b.project_id = m.project_id "
                           "WHERE m.accepted AND b.accepted AND m.project_id = ? AND b.visit_date BETWEEN ? AND ? "
                           "ORDER BY m.submission_id, m.repeat_index",
                           [project.project_id, period.start, period.end]).df()


def results_file(home: DataHome, table: str, project_id: str, period_id: str) -> Path:
    """Where a period table of this slice is stored (the layout of `PeriodTablesIOManager`)."""
    return home.results / GROUP / table / project_id / f"{period_id}.parquet"


def load_previous_event(home: DataHome, project: Project, period: MonitoringPeriod) -> pd.DataFrame | None:
    """The stored ``event_summary`` of the preceding monitoring period; None for the first period.

    Raises `UserError` when the preceding period has not been computed yet.
    """
    previous = project.previous_period(period.id)
    if previous is None:
        return None
    path = results_file(home, "event_summary", project.project_id, previous.id)
    if not path.exists():
        raise UserError(f"{project.project_id} {period.id} builds on the stored result of {previous.id}, which is "
                        f"not there ({path}): run `mrv run --project {project.project_id} --period {previous.id}` first")
    return pd.read_parquet(path)


def store_event_summary(home: DataHome, summary: pd.DataFrame) -> Path:
    """Store a period's ``event_summary`` where the next period reads it (as the Dagster IO manager does)."""
    row = summary.iloc[0]
    target = results_file(home, "event_summary", str(row["project_id"]), str(row["period_id"]))
    atomic.write_parquet(target, summary)
    return target


# ----------------------------------------------------------------------------- pieces

def _with_ids(project: Project, period: MonitoringPeriod, frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.drop(columns=["project_id", "period_id"], errors="ignore").reset_index(drop=True)
    out.insert(0, "period_id", period.id)
    out.insert(0, "project_id", project.project_id)
    return out


def _census(period: MonitoringPeriod, parameters: ParameterSet, plantings: pd.DataFrame, survival: pd.DataFrame,
            bund_visits: pd.DataFrame, measures: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    values = parameters.values
    return vm0047_census.census_strata(plantings, survival, bund_visits, measures, values["species"],
                                       period.start, period.end, values["dbh_min_cm"], values["carbon_fraction"])


def tree_sample(project: Project, period: MonitoringPeriod, parameters: ParameterSet, plantings: pd.DataFrame,
                survival: pd.DataFrame, bund_visits: pd.DataFrame, measures: pd.DataFrame) -> pd.DataFrame:
    """One row per measured live tree of the period (tagged and bund trees): D, AGB [t] and carbon [t C]."""
    _, sample = _census(period, parameters, plantings, survival, bund_visits, measures)
    return _with_ids(project, period, sample)


def strata(project: Project, period: MonitoringPeriod, parameters: ParameterSet, plantings: pd.DataFrame,
           survival: pd.DataFrame, bund_visits: pd.DataFrame, measures: pd.DataFrame) -> pd.DataFrame:
    """Census counts per species (stratum): planting units N_s and dead units, with their breakdown."""
    counts, _ = _census(period, parameters, plantings, survival, bund_visits, measures)
    return _with_ids(project, period, counts)


def credited_stock_prev(project: Project, period: MonitoringPeriod,
                        previous: pd.DataFrame | None) -> tuple[str | None, float]:
    """(period id, credited stock [t CO2e]) of the preceding period's stored event summary; (None, 0.0) first."""
    expected = project.previous_period(period.id)
    if expected is None:
        return None, 0.0
    if previous is None:
        raise UserError(f"{project.project_id} {period.id} needs the result of {expected.id}: run "
                        f"`mrv run --project {project.project_id} --period {expected.id}` first")
    if len(previous) != 1 or str(previous["period_id"].iloc[0]) != expected.id \
            or str(previous["project_id"].iloc[0]) != project.project_id:
        raise UserError(f"{project.project_id} {period.id}: the stored event summary of {expected.id} is not one row "
                        f"of {project.project_id} {expected.id}; run `mrv run --project {project.project_id} "
                        f"--period {expected.id}` again")
    value = float(previous["credited_stock_tco2e"].iloc[0])
    if not math.isfinite(value):
        raise UserError(f"{project.project_id} {expected.id}: stored credited stock is {value}; "
                        f"run `mrv run --project {project.project_id} --period {expected.id}` again")
    return expected.id, value


def removals(project: Project, period: MonitoringPeriod, parameters: ParameterSet, strata: pd.DataFrame,
             sample: pd.DataFrame, previous: pd.DataFrame | None
             ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(emission_reductions, calculation_steps, strata_table, event_summary) of the period.

    `previous` is the stored ``event_summary`` of the preceding period (None before the first): its
    ``credited_stock_tco2e`` is ΔC_prev (1 − UNC_prev) of VM0047 v1.1 eq. 33.
    """
    previous_id, credited_prev = credited_stock_prev(project, period, previous)
    counts = strata.drop(columns=["project_id", "period_id"], errors="ignore")
    trees = sample.drop(columns=["project_id", "period_id"], errors="ignore")
    result = vm0047_census.compute_event(counts, trees, parameters.values, period.start, period.end, credited_prev)

    by_vintage = result.by_vintage
    er = pd.DataFrame({
        "project_id": project.project_id, "period_id": period.id,
        "vintage": by_vintage["vintage"].astype("int64"),
        "er_tco2e": by_vintage["er_tco2e"].astype("float64"),
        "issuable_tco2e": by_vintage["issuable_tco2e"].astype("int64"),
    })[EMISSION_REDUCTION_COLUMNS]
    steps = result.steps.to_frame()
    steps.insert(0, "period_id", period.id)
    steps.insert(0, "project_id", project.project_id)

    breakdown = [c for c in vm0047_census.STRATA_COLUMNS if c not in ("species_code", "n_planted", "n_dead")]
    table = result.strata_table.merge(counts[["species_code", *breakdown]], on="species_code", how="left")
    summary = pd.DataFrame([{
        "project_id": project.project_id, "period_id": period.id,
        "stock_t_c": result.stock_t_c, "delta_c_tco2e": result.delta_c_tco2e, "u_p": result.u_p,
        "unc": result.unc, "eligible": bool(result.eligible), "removals_tco2e": result.removals_tco2e,
        "buffer_tco2e": result.buffer_tco2e, "net_tco2e": result.net_tco2e,
        "credited_stock_tco2e": result.credited_stock_tco2e,
        "se_total_t_c": result.se_total_t_c, "df": int(result.df), "t_value": result.t_value,
        "adjusted_stock_tco2e": result.adjusted_stock_tco2e, "previous_period_id": previous_id,
        "credited_stock_prev_tco2e": credited_prev,
    }], columns=EVENT_SUMMARY_COLUMNS)
    summary["previous_period_id"] = summary["previous_period_id"].astype("str")
    return er, steps, _with_ids(project, period, table), summary


# ----------------------------------------------------------------------------- the period

DENSITY_LIMIT_PER_HA = 50.0
"""VM0047 v1.1 §4.3(3): the census approach applies to at most 50 planting units per hectare."""


def plots_table(project: Project, plantings: pd.DataFrame, bund_visits: pd.DataFrame) -> pd.DataFrame:
    """Plot polygons (WKT, EPSG:4326) with their area, planting units per hectare and geometry problems.

    Planting units of a plot are its tagged trees planted by the period end plus the ``saplings_planted``
    of its bunds at their latest visit in the period; a plot above 50 units/ha is flagged (a warning
    with the figures, VM0047 v1.1 §4.3(3)). Invalid and overlapping plots are listed too.
    """
    plots = project.plots
    area = plot_areas_ha(plots)
    tagged = plantings.groupby("plot_id")["tree_id"].nunique() if not plantings.empty else pd.Series(dtype="int64")
    latest = vm0047_census._latest(bund_visits, "bund_id") if not bund_visits.empty else bund_visits
    bund = latest.groupby("plot_id")["saplings_planted"].sum() if not latest.empty else pd.Series(dtype="int64")
    ids = plots["plot_id"].astype("str")
    table = pd.DataFrame({
        "project_id": project.project_id, "plot_id": ids.to_numpy(),
        "area_ha": area.reindex(ids).to_numpy(),
        "tagged_trees": tagged.reindex(ids).fillna(0).astype("int64").to_numpy(),
        "bund_saplings": bund.reindex(ids).fillna(0).astype("int64").to_numpy(),
        "geometry_wkt": plots.geometry.to_wkt().to_numpy(),
    })
    table["planting_units"] = table["tagged_trees"] + table["bund_saplings"]
    table["units_per_ha"] = table["planting_units"] / table["area_ha"]
    table["density_above_limit"] = table["units_per_ha"] > DENSITY_LIMIT_PER_HA
    problems = plot_problems(plots).groupby("plot_id")["detail"].agg("; ".join)
    table["geometry_problems"] = table["plot_id"].map(problems).astype("str").where(table["plot_id"].isin(problems.index), "")
    return table


def _latest_ids(visits: pd.DataFrame, key: str) -> set[str]:
    if visits.empty:
        return set()
    # The methodology module's own rule, so the flag marks exactly the visits the numbers use.
    return set(vm0047_census._latest(visits, key)["submission_id"].astype("str"))


def assemble(project: Project, period: MonitoringPeriod, parameters: ParameterSet, *, plantings: pd.DataFrame,
             survival: pd.DataFrame, bund_visits: pd.DataFrame, measures: pd.DataFrame, sample: pd.DataFrame,
             strata: pd.DataFrame, er: pd.DataFrame, steps: pd.DataFrame, summary: pd.DataFrame) -> PeriodResult:
    """The period's tables as one `PeriodResult` (what the verifier package holds).

    `strata` is the strata table of `removals` (census counts with sample statistics and stock).
    """
    pid = project.project_id
    latest_trees = _latest_ids(survival, "tree_id")
    latest_bunds = _latest_ids(bund_visits, "bund_id")
    tables = {
        "emission_reductions": er,
        "calculation_steps": steps,
        "parameters": parameters.table,
        "strata": strata,
        "tree_sample": sample,
        "event_summary": summary,
        "tree_planting": plantings.assign(project_id=pid),
        "tree_survival": survival.assign(project_id=pid,
                                         latest_visit=survival["submission_id"].astype("str").isin(latest_trees)),
        "bund_plantation": bund_visits.assign(
            project_id=pid, latest_visit=bund_visits["submission_id"].astype("str").isin(latest_bunds)),
        "bund_tree_measure": measures.assign(project_id=pid,
                                             in_sample=measures["submission_id"].astype("str").isin(latest_bunds)),
        "plots": plots_table(project, plantings, bund_visits),
    }
    event = summary.iloc[0]
    return PeriodResult(
        project_id=pid, period_id=period.id, methodology=project.methodology,
        methodology_version=parameters.methodology_version, parameters_sha256=parameters.sha256,
        tables=tables, geometry_tables=dict(GEOMETRY_TABLES),
        summary={"er_tco2e": float(er["er_tco2e"].sum()), "issuable_tco2e": float(er["issuable_tco2e"].sum()),
                 "stock_t_c": float(event["stock_t_c"]), "u_p": float(event["u_p"]), "unc": float(event["unc"]),
                 "credited_stock_tco2e": float(event["credited_stock_tco2e"]),
                 "planting_units": float(strata["n_planted"].sum()), "trees_measured": float(len(sample))},
    )


def compute_period(home: DataHome, project: Project, period: MonitoringPeriod, parameters: ParameterSet,
                   store: bool = True) -> PeriodResult:
    """The whole period chain without Dagster.

    With `store`, the period's ``event_summary`` is stored where the Dagster run would store it, so the
    next period can be computed after it either way.
    """
    plantings = load_plantings(home, project, period)
    survival = load_survival_visits(home, project, period)
    bund_visits = load_bund_visits(home, project, period)
    measures = load_bund_tree_measures(home, project, period)
    previous = load_previous_event(home, project, period)
    sample = tree_sample(project, period, parameters, plantings, survival, bund_visits, measures)
    counts = strata(project, period, parameters, plantings, survival, bund_visits, measures)
    er, steps, table, summary = removals(project, period, parameters, counts, sample, previous)
    if store:
        store_event_summary(home, summary)
    return assemble(project, period, parameters, plantings=plantings, survival=survival, bund_visits=bund_visits,
                    measures=measures, sample=sample, strata=table, er=er, steps=steps, summary=summary)
