"""The Dagster code location: asset keys are deliberate, and `dagster dev` and `dg` load the same module."""

import tomllib
from pathlib import Path

import yaml

from pipelines.definitions import defs

REPO = Path(__file__).resolve().parents[1]

EXPECTED_ASSETS = {
    "surveys/batch_upload", "surveys/accepted_rows", "surveys/review_writeback",
    "ams_ii_g/usage_sample", "ams_ii_g/device_years", "ams_ii_g/emission_reductions", "ams_ii_g/calculation_steps",
    "ams_ii_g/emission_reductions_by_model", "ams_ii_g/verifier_package",
    "vm0047/tree_sample", "vm0047/strata", "vm0047/emission_reductions", "vm0047/calculation_steps",
    "vm0047/stratum_statistics", "vm0047/event_summary", "vm0047/plot_checks", "vm0047/verifier_package",
}


def test_asset_keys_are_deliberate():
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == EXPECTED_ASSETS
    assert all("/" in k for k in keys)  # <domain>/<noun>


def test_every_asset_has_a_description():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assert graph.get(key).description, key.to_user_string()


def test_workspace_yaml_and_tool_dg_point_at_the_same_module():
    workspace = yaml.safe_load((REPO / "workspace.yaml").read_text())
    module = workspace["load_from"][0]["python_module"]["module_name"]
    dg_project = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["dg"]["project"]
    assert module == dg_project["code_location_target_module"] == "pipelines.definitions"


def test_jobs_and_sensor_are_defined():
    for job in ("ingest_batch", "ams_ii_g_period", "vm0047_period"):
        assert defs.resolve_job_def(job)
    assert defs.resolve_sensor_def("project_periods")


def test_the_batch_executor_is_chosen_by_mrv_batch_executor(monkeypatch, tmp_path):
    import dagster as dg
    import pytest

    from pipelines.definitions import build_definitions
    from pipelines.errors import UserError
    from pipelines.settings import DataHome

    def executor_of_ingest_batch() -> str:
        return build_definitions(DataHome(tmp_path)).resolve_job_def("ingest_batch").executor_def.name

    monkeypatch.delenv("MRV_BATCH_EXECUTOR", raising=False)
    assert executor_of_ingest_batch() == dg.in_process_executor.name
    monkeypatch.setenv("MRV_BATCH_EXECUTOR", "multiprocess")
    assert executor_of_ingest_batch() == dg.multiprocess_executor.name
    # the period jobs stay in-process whatever the batch executor
    assert build_definitions(DataHome(tmp_path)).resolve_job_def("vm0047_period").executor_def.name == "in_process"
    monkeypatch.setenv("MRV_BATCH_EXECUTOR", "k8s")
    with pytest.raises(UserError, match="MRV_BATCH_EXECUTOR='k8s' is not an executor"):
        executor_of_ingest_batch()
    dagster_celery = pytest.importorskip("dagster_celery")  # the `distributed` / `e2e` extra
    monkeypatch.setenv("MRV_BATCH_EXECUTOR", "celery")
    monkeypatch.delenv("MRV_CELERY_BROKER", raising=False)
    assert build_definitions(DataHome(tmp_path)).resolve_job_def("ingest_batch").executor_def is dagster_celery.celery_executor
    monkeypatch.setenv("MRV_CELERY_BROKER", "redis://broker.example:6379/0")
    configured = build_definitions(DataHome(tmp_path)).resolve_job_def("ingest_batch").executor_def
    assert configured.name == "celery"
    config = configured.config_schema.resolve_config({}).value["config"]
    assert (config["broker"], config["backend"]) == ("redis://broker.example:6379/0",) * 2
