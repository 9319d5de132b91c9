"""CDM AMS-II.G monitoring periods: usage sample -> device-years -> emission reductions -> verifier package.

Each asset computes every period of its run (one, or a backfilled range: see `assets.partitions`)
and passes its tables as ``{period partition key: DataFrame}``.
"""

import dagster as dg
import pandas as pd

from assets.partitions import (PERIOD_BACKFILL, PeriodCheck, ams_ii_g_periods, period_check_result, period_metadata,
                               run_periods)
from assets.surveys import accepted_rows
from pipelines.monitoring import cookstoves
from pipelines.parameters import resolve_parameters
from pipelines.periods import write_period_package
from pipelines.resources import MrvHome

GROUP = "ams_ii_g"
ALL_BATCHES = dg.AssetDep(accepted_rows, partition_mapping=dg.AllPartitionMapping())
Tables = dict[str, pd.DataFrame]


@dg.asset(key=[GROUP, "usage_sample"], group_name=GROUP, partitions_def=ams_ii_g_periods, deps=[ALL_BATCHES],
          backfill_policy=PERIOD_BACKFILL, io_manager_key="period_tables", kinds={"pandas", "parquet"})
def usage_sample(context: dg.AssetExecutionContext, mrv_home: MrvHome) -> Tables:
    """Latest accepted usage visit per stove in the period, and whether it counts for the usage rate U."""
    home = mrv_home.home
    samples, metadata = {}, {}
    for p in run_periods(context, home):
        parameters = resolve_parameters(p.project)
        sample = cookstoves.usage_sample(p.project, p.period, parameters, cookstoves.load_stoves(home, p.project),
                                         cookstoves.load_visits(home, p.project, p.period))
        usage = cookstoves.usage_estimate(parameters, sample)
        samples[p.key] = sample
        metadata[p.key] = {"n": usage.n, "k": usage.k, "p": usage.p, "relative_precision": usage.relative_precision,
                           "usage_rate_applied": usage.applied}
    context.add_output_metadata(period_metadata(metadata))
    return samples


@dg.asset(key=[GROUP, "device_years"], group_name=GROUP, partitions_def=ams_ii_g_periods, deps=[ALL_BATCHES],
          backfill_policy=PERIOD_BACKFILL, io_manager_key="period_tables", kinds={"pandas", "parquet"})
def device_years(context: dg.AssetExecutionContext, mrv_home: MrvHome) -> Tables:
    """Stove-days and device-years per stove model and calendar year, within each stove's technical life."""
    home = mrv_home.home
    years, metadata = {}, {}
    for p in run_periods(context, home):
        years[p.key] = cookstoves.device_years(p.project, p.period, resolve_parameters(p.project),
                                               cookstoves.load_stoves(home, p.project))
        metadata[p.key] = {"device_years": float(years[p.key]["device_years"].sum())}
    context.add_output_metadata(period_metadata(metadata))
    return years


@dg.multi_asset(
    outs={
        "emission_reductions": dg.AssetOut(key=[GROUP, "emission_reductions"], io_manager_key="period_tables",
                                           description="Emission reductions per vintage (tCO2e), unrounded and floored for issuance.",
                                           kinds={"pandas", "parquet"}),
        "calculation_steps": dg.AssetOut(key=[GROUP, "calculation_steps"], io_manager_key="period_tables",
                                         description="Every intermediate value of the AMS-II.G chain, in order.",
                                         kinds={"pandas", "parquet"}),
        "emission_reductions_by_model": dg.AssetOut(key=[GROUP, "emission_reductions_by_model"], io_manager_key="period_tables",
                                                    description="Biomass savings per stove model and vintage.",
                                                    kinds={"pandas", "parquet"}),
    },
    ins={"usage_sample": dg.AssetIn(key=[GROUP, "usage_sample"]), "device_years": dg.AssetIn(key=[GROUP, "device_years"])},
    group_name=GROUP, partitions_def=ams_ii_g_periods, backfill_policy=PERIOD_BACKFILL,
)
def emission_reductions(context: dg.AssetExecutionContext, mrv_home: MrvHome, usage_sample: Tables,
                        device_years: Tables):
    """ER = B_savings × fNRB × NCV × EF × NTG per vintage (CDM AMS-II.G, contract conventions)."""
    er, steps, by_model, metadata = {}, {}, {}, {}
    for p in run_periods(context, mrv_home.home):
        er[p.key], steps[p.key], by_model[p.key] = cookstoves.emission_reductions(
            p.project, p.period, resolve_parameters(p.project), usage_sample[p.key], device_years[p.key])
        metadata[p.key] = {"er_tco2e": float(er[p.key]["er_tco2e"].sum()),
                           "issuable_tco2e": int(er[p.key]["issuable_tco2e"].sum())}
    context.add_output_metadata(period_metadata(metadata), output_name="emission_reductions")
    return er, steps, by_model


@dg.asset_check(asset=usage_sample, name="usage_precision", partitions_def=ams_ii_g_periods,
                description="90/10 rule: when the usage survey misses 10 % relative precision, the lower bound is applied.")
def usage_precision(context: dg.AssetCheckExecutionContext, mrv_home: MrvHome, usage_sample: Tables) -> dg.AssetCheckResult:
    checks = {}
    for p in run_periods(context, mrv_home.home):
        usage = cookstoves.usage_estimate(resolve_parameters(p.project), usage_sample[p.key])
        checks[p.key] = PeriodCheck(
            passed=bool(usage.meets_target),
            description="point estimate used" if usage.meets_target else "precision target missed: lower bound applied",
            metadata={"n": usage.n, "relative_precision": float(usage.relative_precision),
                      "usage_rate_applied": usage.applied})
    return period_check_result(checks)


@dg.asset(key=[GROUP, "verifier_package"], group_name=GROUP, partitions_def=ams_ii_g_periods,
          backfill_policy=PERIOD_BACKFILL,
          ins={name: dg.AssetIn(key=[GROUP, name]) for name in
               ("usage_sample", "device_years", "emission_reductions", "calculation_steps", "emission_reductions_by_model")},
          kinds={"duckdb", "parquet"})
def verifier_package(context: dg.AssetExecutionContext, mrv_home: MrvHome, usage_sample: Tables,
                     device_years: Tables, emission_reductions: Tables, calculation_steps: Tables,
                     emission_reductions_by_model: Tables) -> dg.MaterializeResult:
    """The monitoring report for verifiers: report.duckdb, Parquet copies and a SHA-256 manifest."""
    home = mrv_home.home
    metadata = {}
    for p in run_periods(context, home):
        result = cookstoves.assemble(p.project, p.period, resolve_parameters(p.project),
                                     stoves=cookstoves.load_stoves(home, p.project),
                                     visits=cookstoves.load_visits(home, p.project, p.period),
                                     sample=usage_sample[p.key], years=device_years[p.key],
                                     er=emission_reductions[p.key], steps=calculation_steps[p.key],
                                     by_model=emission_reductions_by_model[p.key])
        target = write_period_package(home, result)
        metadata[p.key] = {"path": dg.MetadataValue.path(str(target)),
                           "er_tco2e": float(emission_reductions[p.key]["er_tco2e"].sum())}
    return dg.MaterializeResult(metadata=period_metadata(metadata))
