"""Real Dagster runs of the batch and cookstove-period assets, in an instance inside the data home."""

import json

import dagster as dg
import duckdb
import pytest
from support import stove, visit, write_export

from pipelines import ingest, orchestration, periods
from pipelines.definitions import build_definitions
from pipelines.project import load_project


def run_batch(home, file):
    project = load_project(home, "T-CS-1")
    upload = ingest.store_upload(home, project, file)
    instance = orchestration.instance_for(home)
    instance.add_dynamic_partitions("survey_batches", [upload.partition_key])
    job = build_definitions(home).resolve_job_def("ingest_batch")
    return job.execute_in_process(partition_key=upload.partition_key, instance=instance, raise_on_error=False), upload


def test_batch_assets_run_the_blocking_gx_check_and_commit(home, tmp_path):
    file = write_export(tmp_path / "d.csv", "stove_distribution", [stove(1), stove(2, stove_model="M9")])
    result, upload = run_batch(home, file)
    assert result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["row_rules"].passed
    assert checks["row_rules"].metadata["rows/bad_value"].value == 1
    materialized = {e.asset_key.to_user_string(): e for e in result.get_asset_materialization_events()}
    accepted = materialized["surveys/accepted_rows"].step_materialization_data.materialization.metadata
    assert accepted["accepted"].value == 1 and accepted["quarantined/bad_value"].value == 1
    assert ingest.batch_is_committed(home, upload)


def test_blocking_check_stops_the_commit_when_validation_cannot_run(home, tmp_path, monkeypatch):
    file = write_export(tmp_path / "d.csv", "stove_distribution", [stove(1)])
    broken = ingest.load_suite("stove_distribution")
    broken["expectations"].append({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "no_such_column"},
                                   "meta": {"reason": "bad_value"}, "severity": "critical"})
    monkeypatch.setattr(ingest, "load_suite", lambda name: broken)
    result, upload = run_batch(home, file)
    assert not result.success
    assert not result.get_asset_check_evaluations()[0].passed
    assert "surveys/accepted_rows" not in {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert not ingest.batch_is_committed(home, upload)


def test_period_assets_write_a_verifier_package(home, tmp_path):
    orchestration.ingest(home, "T-CS-1", write_export(tmp_path / "d.csv", "stove_distribution", [stove(i) for i in range(1, 5)]))
    orchestration.ingest(home, "T-CS-1", write_export(tmp_path / "u.csv", "cookstove_usage", [visit(i) for i in range(1, 5)]))
    project = load_project(home, "T-CS-1")
    orchestration.run_period(home, project, "MP1", with_package=True)
    package = periods.package_dir(home, "T-CS-1", "MP1")
    manifest = json.loads((package / "manifest.json").read_text())
    assert {"report.duckdb", "parquet/emission_reductions.parquet", "parquet/stove_distribution.parquet"} <= set(manifest["files"])
    with duckdb.connect(str(package / "report.duckdb"), read_only=True) as con:
        er = con.execute("SELECT vintage, er_tco2e, issuable_tco2e FROM emission_reductions ORDER BY vintage").fetchall()
        assert [v for v, _, _ in er] == [2024, 2025]
        steps = con.execute("SELECT count(*) FROM calculation_steps").fetchone()[0]
        assert steps > 10
        assert con.execute("SELECT typeof(geom) FROM stove_distribution LIMIT 1").fetchone()[0] == "GEOMETRY"
        columns = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns").fetchall()}
    assert not {"respondent_name", "phone"} & columns


def test_period_partitions_are_registered_in_the_shared_instance(home):
    instance = orchestration.instance_for(home)
    orchestration.register_periods(instance, home)
    assert instance.get_dynamic_partitions("ams_ii_g_periods") == ["T-CS-1:MP1"]
    assert str(home.dagster_home) in str(instance.root_directory)
