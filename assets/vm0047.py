"""Verra VM0047 census monitoring periods: tree sample and strata -> removals -> verifier package.

A period's removals build on the preceding period's credited stock. That stock is read from the
stored ``vm0047/event_summary`` Parquet of the preceding period (see `pipelines.monitoring.trees`),
not declared as a Dagster input: the two are different partitions of the same asset. A run over a
range of periods (see `assets.partitions`) computes them in order and stores each period's event
summary before the next period reads it.
"""

import math

import dagster as dg
import pandas as pd

from assets.partitions import (PERIOD_BACKFILL, PeriodCheck, PeriodPartition, period_check_result, period_metadata,
                               run_periods, vm0047_periods)
from assets.surveys import accepted_rows
from pipelines.monitoring import trees
from pipelines.parameters import resolve_parameters
from pipelines.periods import write_period_package
from pipelines.resources import MrvHome
from pipelines.settings import DataHome

GROUP = "vm0047"
ALL_BATCHES = dg.AssetDep(accepted_rows, partition_mapping=dg.AllPartitionMapping())
TABLE_KINDS = {"pandas", "parquet"}
Tables = dict[str, pd.DataFrame]


def _number(value: float) -> dg.MetadataValue:
    value = float(value)
    return dg.MetadataValue.float(value) if math.isfinite(value) else dg.MetadataValue.text(str(value))


def _survey_rows(home: DataHome, p: PeriodPartition) -> dict[str, pd.DataFrame]:
    return {"plantings": trees.load_plantings(home, p.project, p.period),
            "survival": trees.load_survival_visits(home, p.project, p.period),
            "bund_visits": trees.load_bund_visits(home, p.project, p.period),
            "measures": trees.load_bund_tree_measures(home, p.project, p.period)}


@dg.asset(key=[GROUP, "tree_sample"], group_name=GROUP, partitions_def=vm0047_periods, deps=[ALL_BATCHES],
          backfill_policy=PERIOD_BACKFILL, io_manager_key="period_tables", kinds=TABLE_KINDS)
def tree_sample(context: dg.AssetExecutionContext, mrv_home: MrvHome) -> Tables:
    """Every measured live tree of the period (tagged trees and bund trees) with its diameter, biomass and carbon."""
    home = mrv_home.home
    samples, metadata = {}, {}
    for p in run_periods(context, home):
        sample = trees.tree_sample(p.project, p.period, resolve_parameters(p.project), **_survey_rows(home, p))
        samples[p.key] = sample
        metadata[p.key] = {"trees_measured": len(sample), "carbon_t": float(sample["carbon_t"].sum()),
                           "below_threshold": int(sample["below_threshold"].sum())}
    context.add_output_metadata(period_metadata(metadata))
    return samples


@dg.asset(key=[GROUP, "strata"], group_name=GROUP, partitions_def=vm0047_periods, deps=[ALL_BATCHES],
          backfill_policy=PERIOD_BACKFILL, io_manager_key="period_tables", kinds=TABLE_KINDS)
def strata(context: dg.AssetExecutionContext, mrv_home: MrvHome) -> Tables:
    """Census counts per species: planting units, and dead, not found and unvisited units among them."""
    home = mrv_home.home
    tables, metadata = {}, {}
    for p in run_periods(context, home):
        counts = trees.strata(p.project, p.period, resolve_parameters(p.project), **_survey_rows(home, p))
        tables[p.key] = counts
        metadata[p.key] = {"strata": len(counts), "planting_units": int(counts["n_planted"].sum()),
                           "dead_units": int(counts["n_dead"].sum())}
    context.add_output_metadata(period_metadata(metadata))
    return tables


@dg.multi_asset(
    name="vm0047_removals",
    outs={
        "emission_reductions": dg.AssetOut(key=[GROUP, "emission_reductions"], io_manager_key="period_tables",
                                           description="Net removals per vintage (tCO2e), unrounded and floored for issuance.",
                                           kinds=TABLE_KINDS),
        "calculation_steps": dg.AssetOut(key=[GROUP, "calculation_steps"], io_manager_key="period_tables",
                                         description="Every intermediate value of the VM0047 census chain, in order.",
                                         kinds=TABLE_KINDS),
        "stratum_statistics": dg.AssetOut(key=[GROUP, "stratum_statistics"], io_manager_key="period_tables",
                                          description="Per species: census counts, mortality, sample statistics and carbon stock.",
                                          kinds=TABLE_KINDS),
        "event_summary": dg.AssetOut(key=[GROUP, "event_summary"], io_manager_key="period_tables",
                                     description="Stock, uncertainty, removals, buffer and credited stock of the period "
                                                 "(the next period builds on it).",
                                     kinds=TABLE_KINDS),
    },
    ins={"tree_sample": dg.AssetIn(key=[GROUP, "tree_sample"]), "strata": dg.AssetIn(key=[GROUP, "strata"])},
    group_name=GROUP, partitions_def=vm0047_periods, backfill_policy=PERIOD_BACKFILL,
)
def removals(context: dg.AssetExecutionContext, mrv_home: MrvHome, tree_sample: Tables, strata: Tables):
    """Removals = ΔC_t(1 − UNC_t) − ΔC_prev(1 − UNC_prev), less the buffer, per vintage (VM0047 v1.1 eq. 33, contract conventions)."""
    home = mrv_home.home
    er, steps, table, summary = {}, {}, {}, {}
    er_metadata, event_metadata = {}, {}
    for p in run_periods(context, home):  # in period order: each period reads the stored summary of the one before
        previous = trees.load_previous_event(home, p.project, p.period)
        er[p.key], steps[p.key], table[p.key], summary[p.key] = trees.removals(
            p.project, p.period, resolve_parameters(p.project), strata[p.key], tree_sample[p.key], previous)
        trees.store_event_summary(home, summary[p.key])
        event = summary[p.key].iloc[0]
        er_metadata[p.key] = {"er_tco2e": float(er[p.key]["er_tco2e"].sum()),
                              "issuable_tco2e": int(er[p.key]["issuable_tco2e"].sum())}
        event_metadata[p.key] = {"stock_t_c": _number(event["stock_t_c"]), "u_p": _number(event["u_p"]),
                                 "unc": _number(event["unc"]), "eligible": bool(event["eligible"]),
                                 "credited_stock_tco2e": _number(event["credited_stock_tco2e"]),
                                 "previous_period": str(event["previous_period_id"])}
    context.add_output_metadata(period_metadata(er_metadata), output_name="emission_reductions")
    context.add_output_metadata(period_metadata(event_metadata), output_name="event_summary")
    return er, steps, table, summary


@dg.asset_check(asset=dg.AssetKey([GROUP, "event_summary"]), name="uncertainty_within_allowance",
                partitions_def=vm0047_periods,
                description="U_p at most the uncertainty allowance; above it the excess is deducted from the stock change, "
                            "and above 100 % nothing is credited.")
def uncertainty_within_allowance(context: dg.AssetCheckExecutionContext, mrv_home: MrvHome,
                                 event_summary: Tables) -> dg.AssetCheckResult:
    checks = {}
    for p in run_periods(context, mrv_home.home):
        allowance = float(resolve_parameters(p.project).values["uncertainty_allowance"])
        event = event_summary[p.key].iloc[0]
        u_p, unc, eligible = float(event["u_p"]), float(event["unc"]), bool(event["eligible"])
        if u_p <= allowance:
            description = f"U_p {u_p:.2%} within the {allowance:.0%} allowance: no deduction"
        elif eligible:
            description = f"U_p {u_p:.2%} above the {allowance:.0%} allowance: UNC {unc:.2%} deducted"
        else:
            description = "no confidence interval within 100 % (U_p > 1 or too few measured trees): no removals credited"
        checks[p.key] = PeriodCheck(passed=bool(u_p <= allowance), description=description,
                                    metadata={"u_p": _number(u_p), "unc": _number(unc), "allowance": allowance,
                                              "eligible": eligible})
    return period_check_result(checks)


@dg.asset(key=[GROUP, "plot_checks"], group_name=GROUP, partitions_def=vm0047_periods, deps=[ALL_BATCHES],
          backfill_policy=PERIOD_BACKFILL, io_manager_key="period_tables", kinds=TABLE_KINDS)
def plot_checks(context: dg.AssetExecutionContext, mrv_home: MrvHome) -> Tables:
    """Each plot's area, planting units per hectare (VM0047 limit 50) and geometry problems (invalid, overlapping)."""
    home = mrv_home.home
    tables, metadata = {}, {}
    for p in run_periods(context, home):
        rows = _survey_rows(home, p)
        table = trees.plots_table(p.project, rows["plantings"], rows["bund_visits"])
        tables[p.key] = table
        metadata[p.key] = {"plots": len(table), "max_units_per_ha": _number(table["units_per_ha"].max()),
                           "plots_above_limit": int(table["density_above_limit"].sum()),
                           "plots_with_geometry_problems": int((table["geometry_problems"] != "").sum())}
    context.add_output_metadata(period_metadata(metadata))
    return tables


@dg.asset_check(asset=plot_checks, name="planting_density", partitions_def=vm0047_periods,
                description="VM0047 census approach: at most 50 planting units per hectare per plot; plots valid and not overlapping.")
def planting_density(plot_checks: Tables) -> dg.AssetCheckResult:
    checks = {}
    for key, table in plot_checks.items():
        dense = table[table["density_above_limit"]]
        broken = table[table["geometry_problems"] != ""]
        lines = [f"{r.plot_id}: {r.planting_units} units on {r.area_ha:.2f} ha = {r.units_per_ha:.1f}/ha"
                 for r in dense.itertuples()]
        lines += [f"{r.plot_id}: {r.geometry_problems}" for r in broken.itertuples()]
        checks[key] = PeriodCheck(
            passed=dense.empty and broken.empty,
            description="; ".join(lines) or "every plot within 50 units/ha and geometrically valid",
            metadata={"plots_above_limit": len(dense), "plots_with_geometry_problems": len(broken),
                      "max_units_per_ha": _number(table["units_per_ha"].max())})
    return period_check_result(checks)


@dg.asset(key=[GROUP, "verifier_package"], group_name=GROUP, partitions_def=vm0047_periods,
          backfill_policy=PERIOD_BACKFILL,
          ins={name: dg.AssetIn(key=[GROUP, name]) for name in
               ("tree_sample", "stratum_statistics", "emission_reductions", "calculation_steps", "event_summary")},
          kinds={"duckdb", "parquet"})
def verifier_package(context: dg.AssetExecutionContext, mrv_home: MrvHome, tree_sample: Tables,
                     stratum_statistics: Tables, emission_reductions: Tables,
                     calculation_steps: Tables, event_summary: Tables) -> dg.MaterializeResult:
    """The monitoring report for verifiers: report.duckdb, GeoParquet copies and a SHA-256 manifest."""
    home = mrv_home.home
    metadata = {}
    for p in run_periods(context, home):
        result = trees.assemble(p.project, p.period, resolve_parameters(p.project), **_survey_rows(home, p),
                                sample=tree_sample[p.key], strata=stratum_statistics[p.key],
                                er=emission_reductions[p.key], steps=calculation_steps[p.key],
                                summary=event_summary[p.key])
        target = write_period_package(home, result)
        metadata[p.key] = {"path": dg.MetadataValue.path(str(target)),
                           "er_tco2e": float(emission_reductions[p.key]["er_tco2e"].sum())}
    return dg.MaterializeResult(metadata=period_metadata(metadata))
