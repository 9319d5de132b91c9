"""CDM AMS-II.G monitoring periods: usage sample -> device-years -> emission reductions -> verifier package."""

import dagster as dg
import pandas as pd

from assets.partitions import ams_ii_g_periods
from assets.surveys import accepted_rows
from pipelines.monitoring import cookstoves
from pipelines.parameters import resolve_parameters
from pipelines.periods import period_context, write_period_package
from pipelines.resources import MrvHome

GROUP = "ams_ii_g"
ALL_BATCHES = dg.AssetDep(accepted_rows, partition_mapping=dg.AllPartitionMapping())


@dg.asset(key=[GROUP, "usage_sample"], group_name=GROUP, partitions_def=ams_ii_g_periods, deps=[ALL_BATCHES],
          io_manager_key="period_tables", kinds={"pandas", "parquet"})
def usage_sample(context: dg.AssetExecutionContext, mrv_home: MrvHome) -> pd.DataFrame:
    """Latest accepted usage visit per stove in the period, and whether it counts for the usage rate U."""
    home, project, period = period_context(mrv_home.home, context.partition_key)
    parameters = resolve_parameters(project)
    sample = cookstoves.usage_sample(project, period, parameters, cookstoves.load_stoves(home, project),
                                     cookstoves.load_visits(home, project, period))
    usage = cookstoves.usage_estimate(parameters, sample)
    context.add_output_metadata({"n": usage.n, "k": usage.k, "p": usage.p, "relative_precision": usage.relative_precision,
                                 "usage_rate_applied": usage.applied})
    return sample


@dg.asset(key=[GROUP, "device_years"], group_name=GROUP, partitions_def=ams_ii_g_periods, deps=[ALL_BATCHES],
          io_manager_key="period_tables", kinds={"pandas", "parquet"})
def device_years(context: dg.AssetExecutionContext, mrv_home: MrvHome) -> pd.DataFrame:
    """Stove-days and device-years per stove model and calendar year, within each stove's technical life."""
    home, project, period = period_context(mrv_home.home, context.partition_key)
    years = cookstoves.device_years(project, period, resolve_parameters(project), cookstoves.load_stoves(home, project))
    context.add_output_metadata({"device_years": float(years["device_years"].sum())})
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
    group_name=GROUP, partitions_def=ams_ii_g_periods,
)
def emission_reductions(context: dg.AssetExecutionContext, mrv_home: MrvHome, usage_sample: pd.DataFrame,
                        device_years: pd.DataFrame):
    """ER = B_savings × fNRB × NCV × EF × NTG per vintage (CDM AMS-II.G, contract conventions)."""
    _, project, period = period_context(mrv_home.home, context.partition_key)
    er, steps, by_model = cookstoves.emission_reductions(project, period, resolve_parameters(project),
                                                         usage_sample, device_years)
    context.add_output_metadata({"er_tco2e": float(er["er_tco2e"].sum()),
                                 "issuable_tco2e": int(er["issuable_tco2e"].sum())}, output_name="emission_reductions")
    return er, steps, by_model


@dg.asset_check(asset=usage_sample, name="usage_precision", partitions_def=ams_ii_g_periods,
                description="90/10 rule: when the usage survey misses 10 % relative precision, the lower bound is applied.")
def usage_precision(context: dg.AssetCheckExecutionContext, mrv_home: MrvHome, usage_sample: pd.DataFrame) -> dg.AssetCheckResult:
    _, project, _ = period_context(mrv_home.home, context.partition_key)
    usage = cookstoves.usage_estimate(resolve_parameters(project), usage_sample)
    return dg.AssetCheckResult(
        passed=bool(usage.meets_target), severity=dg.AssetCheckSeverity.WARN,
        description="point estimate used" if usage.meets_target else "precision target missed: lower bound applied",
        metadata={"n": usage.n, "relative_precision": float(usage.relative_precision), "usage_rate_applied": usage.applied})


@dg.asset(key=[GROUP, "verifier_package"], group_name=GROUP, partitions_def=ams_ii_g_periods,
          ins={name: dg.AssetIn(key=[GROUP, name]) for name in
               ("usage_sample", "device_years", "emission_reductions", "calculation_steps", "emission_reductions_by_model")},
          kinds={"duckdb", "parquet"})
def verifier_package(context: dg.AssetExecutionContext, mrv_home: MrvHome, usage_sample: pd.DataFrame,
                     device_years: pd.DataFrame, emission_reductions: pd.DataFrame, calculation_steps: pd.DataFrame,
                     emission_reductions_by_model: pd.DataFrame) -> dg.MaterializeResult:
    """The monitoring report for verifiers: report.duckdb, Parquet copies and a SHA-256 manifest."""
    home, project, period = period_context(mrv_home.home, context.partition_key)
    parameters = resolve_parameters(project)
    result = cookstoves.assemble(project, period, parameters, stoves=cookstoves.load_stoves(home, project),
                                 visits=cookstoves.load_visits(home, project, period), sample=usage_sample,
                                 years=device_years, er=emission_reductions, steps=calculation_steps,
                                 by_model=emission_reductions_by_model)
    target = write_period_package(home, result)
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(target)),
                                          "er_tco2e": float(emission_reductions["er_tco2e"].sum())})
