"""The VM0047 period assets in a real Dagster run: two periods of a tree project, and the verifier package."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import dagster as dg
import duckdb
import geopandas as gpd
import pandas as pd
import pytest

from assets.partitions import vm0047_periods
from pipelines import periods
from pipelines.definitions import build_definitions
from pipelines.monitoring import trees
from pipelines.project import load_project
from pipelines.report.spatial import load_spatial
from pipelines.settings import DataHome


def _tree_scenario():
    # The tree project of the monitoring tests (exports, ingest, hand-worked numbers), used as is.
    path = Path(__file__).parents[1] / "pipelines" / "monitoring" / "test_trees.py"
    spec = importlib.util.spec_from_file_location("tree_scenario", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


scenario = _tree_scenario()
PID = scenario.PID


def run_period(home: DataHome, instance: dg.DagsterInstance, period_id: str) -> dg.ExecuteInProcessResult:
    job = build_definitions(home).resolve_job_def("vm0047_period")
    return job.execute_in_process(partition_key=f"{PID}:{period_id}", instance=instance, raise_on_error=False)


def ephemeral_instance() -> dg.DagsterInstance:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(vm0047_periods.name, [f"{PID}:MP1", f"{PID}:MP2"])
    return instance


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    home = scenario.build_tree_project(tmp_path_factory.mktemp("vm0047_assets"))
    instance = ephemeral_instance()
    return home, {period_id: run_period(home, instance, period_id) for period_id in ("MP1", "MP2")}


def test_both_periods_materialize(runs):
    home, results = runs
    for period_id, result in results.items():
        assert result.success, period_id
        keys = {event.asset_key for event in result.get_asset_materialization_events()}
        assert keys == {dg.AssetKey(["vm0047", name]) for name in
                        ("tree_sample", "strata", "emission_reductions", "calculation_steps", "stratum_statistics",
                         "event_summary", "plot_checks", "verifier_package")}
        for table in ("tree_sample", "strata", "emission_reductions", "calculation_steps", "stratum_statistics",
                      "event_summary"):
            assert trees.results_file(home, table, PID, period_id).exists(), (table, period_id)


def test_removals_match_the_hand_worked_numbers(runs):
    home, _ = runs
    first = scenario.expected_event("MP1", 0.0)
    second = scenario.expected_event("MP2", first["credited"])
    for period_id, want in (("MP1", first), ("MP2", second)):
        er = pd.read_parquet(trees.results_file(home, "emission_reductions", PID, period_id))
        assert list(er.columns) == ["project_id", "period_id", "vintage", "er_tco2e", "issuable_tco2e"]
        assert er["er_tco2e"].tolist() == pytest.approx(list(want["vintages"].values()), rel=1e-12)
        event = pd.read_parquet(trees.results_file(home, "event_summary", PID, period_id)).iloc[0]
        assert event["credited_stock_tco2e"] == pytest.approx(want["credited"], rel=1e-12)


def test_dagster_and_plain_chain_agree(runs):
    home, _ = runs
    project = load_project(home, PID)
    plain = periods.compute_period(home, project, "MP2")
    stored = {name: pd.read_parquet(trees.results_file(home, asset, PID, "MP2"))
              for name, asset in (("emission_reductions", "emission_reductions"), ("strata", "stratum_statistics"),
                                  ("event_summary", "event_summary"), ("calculation_steps", "calculation_steps"))}
    for name, frame in stored.items():
        pd.testing.assert_frame_equal(frame, plain.tables[name], check_dtype=False)


def test_uncertainty_check_warns(runs):
    _, results = runs
    evaluations = {e.check_name: e for e in results["MP1"].get_asset_check_evaluations()}
    assert set(evaluations) == {"uncertainty_within_allowance", "planting_density"}
    evaluation = evaluations["uncertainty_within_allowance"]
    # U_p of the scenario is about 30 %: above the 10 % allowance, so UNC is deducted and the check warns.
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert "deducted" in evaluation.description


def test_density_check_reports_plots_above_50_units_per_ha(runs):
    _, results = runs
    evaluation = {e.check_name: e for e in results["MP1"].get_asset_check_evaluations()}["planting_density"]
    plots = pd.read_parquet(trees.results_file(runs[0], "plot_checks", PID, "MP1"))
    dense = plots[plots["units_per_ha"] > 50]
    assert evaluation.passed == dense.empty
    assert list(plots["planting_units"]) == list(plots["tagged_trees"] + plots["bund_saplings"])
    assert plots["units_per_ha"].to_numpy() == pytest.approx((plots["planting_units"] / plots["area_ha"]).to_numpy())


def test_verifier_package(runs):
    home, _ = runs
    package = periods.package_dir(home, PID, "MP1")
    assert (package / "report.duckdb").is_file() and (package / "README.md").is_file()
    manifest = json.loads((package / "manifest.json").read_text())
    for name in ("emission_reductions", "calculation_steps", "parameters", "quarantine", "strata", "tree_sample",
                 "event_summary", "tree_planting", "tree_survival", "bund_plantation", "bund_tree_measure", "plots"):
        assert f"parquet/{name}.parquet" in manifest["files"], name
        assert (package / "parquet" / f"{name}.parquet").is_file()

    con = duckdb.connect(str(package / "report.duckdb"), read_only=True)
    try:
        load_spatial(con)
        er = con.execute("SELECT project_id, period_id, vintage, er_tco2e, issuable_tco2e FROM emission_reductions").df()
        assert er["vintage"].tolist() == [2024] and er["er_tco2e"].iloc[0] > 0
        types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                 "WHERE table_name = 'bund_plantation'").fetchall())
        assert types["geom"].startswith("GEOMETRY") and "bund_line_wkt" in types
        kinds = con.execute("SELECT DISTINCT ST_GeometryType(geom)::VARCHAR FROM bund_plantation").fetchall()
        assert kinds == [("LINESTRING",)]
        # T11 is planted after MP1 and T12 is quarantined.
        assert con.execute("SELECT count(*) FROM tree_planting WHERE geom IS NOT NULL").fetchone()[0] == 10
        assert con.execute("SELECT count(*) FROM plots WHERE ST_GeometryType(geom)::VARCHAR = 'POLYGON'").fetchone()[0] == 2
        reasons = con.execute("SELECT reason, count(*) FROM quarantine GROUP BY 1 ORDER BY 1").fetchall()
        assert reasons == [("bad_value", 2), ("unknown_tree", 1)]
    finally:
        con.close()
    bunds = gpd.read_parquet(package / "parquet" / "bund_plantation.parquet")
    assert bunds.crs.to_epsg() == 4326 and (bunds.geometry.geom_type == "LineString").all()


def test_mp2_before_mp1_fails_with_the_user_error(tmp_path):
    home = scenario.build_tree_project(tmp_path / "home")
    result = run_period(home, ephemeral_instance(), "MP2")
    assert not result.success
    failures = [event for event in result.all_events if event.is_step_failure]
    assert len(failures) == 1
    error = failures[0].step_failure_data.error
    assert "run `mrv run --project T-AR-1 --period MP1` first" in error.to_string()
    assert not trees.results_file(home, "event_summary", PID, "MP2").exists()


def run_range(home: DataHome, instance: dg.DagsterInstance, first: str, last: str) -> dg.ExecuteInProcessResult:
    """What `dg launch --job vm0047_period --partition-range A...B` and a UI backfill do: one run, two tags."""
    job = build_definitions(home).resolve_job_def("vm0047_period")
    tags = {"dagster/asset_partition_range_start": f"{PID}:{first}", "dagster/asset_partition_range_end": f"{PID}:{last}"}
    return job.execute_in_process(tags=tags, instance=instance, raise_on_error=False)


def test_a_range_of_periods_in_one_run_equals_one_run_per_period(runs, tmp_path):
    home, _ = runs
    ranged = scenario.build_tree_project(tmp_path / "home")
    instance = ephemeral_instance()
    result = run_range(ranged, instance, "MP1", "MP2")
    assert result.success
    # every asset of the job materialized for both periods, in this one run
    materialized = {(e.asset_key.path[-1], e.partition) for e in result.get_asset_materialization_events()}
    assert materialized == {(name, f"{PID}:{period}") for period in ("MP1", "MP2") for name in
                            ("tree_sample", "strata", "emission_reductions", "calculation_steps", "stratum_statistics",
                             "event_summary", "plot_checks", "verifier_package")}
    # MP2 built on MP1 inside the same run: the stored tables equal those of two separate runs
    for period_id in ("MP1", "MP2"):
        for table in ("tree_sample", "strata", "emission_reductions", "calculation_steps", "stratum_statistics",
                      "event_summary", "plot_checks"):
            pd.testing.assert_frame_equal(pd.read_parquet(trees.results_file(ranged, table, PID, period_id)),
                                          pd.read_parquet(trees.results_file(home, table, PID, period_id)))
        package = json.loads((periods.package_dir(ranged, PID, period_id) / "manifest.json").read_text())
        assert (package["project_id"], package["period_id"]) == (PID, period_id)
    event = pd.read_parquet(trees.results_file(ranged, "event_summary", PID, "MP2")).iloc[0]
    assert event["previous_period_id"] == "MP1"
    # one evaluation per check for the range, naming each period
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {"uncertainty_within_allowance", "planting_density"}
    assert f"{PID}:MP1: " in evaluations["uncertainty_within_allowance"].description
    assert f"{PID}:MP2: " in evaluations["uncertainty_within_allowance"].description


def test_a_range_starting_after_an_uncomputed_period_fails_with_the_user_error(tmp_path):
    home = scenario.build_tree_project(tmp_path / "home")
    result = run_range(home, ephemeral_instance(), "MP2", "MP2")
    assert not result.success
    failures = [event for event in result.all_events if event.is_step_failure]
    assert "run `mrv run --project T-AR-1 --period MP1` first" in failures[0].step_failure_data.error.to_string()
