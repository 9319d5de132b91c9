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
