"""The analyst's backfill path (docs/analyst.md), for real: `mrv dev`, its daemon and Dagster's GraphQL API.

A data home with two cookstove projects (T-CS-A with two monitoring periods, T-CS-B with one; stove
serials differ, since a serial seen in two projects is quarantined) is ingested through
`pipelines.orchestration`, its period partitions are registered, and `mrv dev --port <free port>`
serves it. The test then does what the UI's *Materialize → Launch backfill* on the `ams_ii_g_period`
job does, the `launchPartitionBackfill` mutation with the job's partition set, its assets and every
period key (the parameters LaunchAssetChoosePartitionsDialog.tsx sends), and waits for the
daemon to finish it. That gives one verifier package version per period (the daemon runs the range in
one run: the period assets have a single-run backfill policy).
Next it changes fNRB in T-CS-A's project.yaml and backfills that project's periods again. That adds
a second version per period whose diff shows fNRB and the emission reductions, and the first
version stays as it was. Two more tests run `dg launch --job ams_ii_g_period` from the repository
root, the command-line way: with `--partition <key>` for one period, `--partition-range A...B` for a
range.

Both tests start from copies of one seeded data home, so neither depends on the other.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from e2e.infra import dagster_dev, log_tail, need
from support import COOKSTOVE_YAML, make_project, stove, visit, write_export

from pipelines import orchestration, versions
from pipelines.periods import package_dir
from pipelines.settings import REPO_ROOT, DataHome

pytestmark = pytest.mark.e2e

JOB = "ams_ii_g_period"
LOCATION = "field_mrv"  # workspace.yaml
PERIOD_PARTITIONS = "ams_ii_g_periods"
LOCATION_TIMEOUT = 120  # seconds for the code location to serve the job after /server_info answers
BACKFILL_TIMEOUT = 300  # seconds for the daemon to launch and finish every run of a backfill
DG_TIMEOUT = 180  # seconds for `dg launch` to materialize one period
AMS_II_G_ASSETS = {"ams_ii_g/usage_sample", "ams_ii_g/device_years", "ams_ii_g/emission_reductions",
                   "ams_ii_g/calculation_steps", "ams_ii_g/emission_reductions_by_model", "ams_ii_g/verifier_package"}

MP1 = "  - {{id: MP1, start: 2024-07-01, end: 2025-06-30}}\n"
MP2 = "  - {{id: MP2, start: 2025-07-01, end: 2026-06-30}}\n"
assert MP1 in COOKSTOVE_YAML, "support.COOKSTOVE_YAML changed its MP1 line"
TWO_PERIODS_YAML = COOKSTOVE_YAML.replace(MP1, MP1 + MP2)
FNRB, NEW_FNRB = "fnrb: 0.30", "fnrb: 0.20"
assert FNRB in COOKSTOVE_YAML, "support.COOKSTOVE_YAML changed its fnrb line"

# project -> (stove numbers, usage-visit dates: one survey round per period). Numbers, and so serials
# (SN0001…, SN0101…), submission ids, households and phones, never repeat across projects.
PROJECTS = {
    "T-CS-A": (range(1, 7), {"MP1": "2025-03-10", "MP2": "2025-10-14"}),
    "T-CS-B": (range(101, 107), {"MP1": "2025-03-12"}),
}
PERIOD_KEYS = sorted(f"{pid}:{period}" for pid, (_, rounds) in PROJECTS.items() for period in rounds)


# --- the data home ---------------------------------------------------------------------------


def _visits(pid: str, numbers: range, rounds: dict[str, str]) -> list[dict]:
    rows = []
    for period, day in rounds.items():
        for k, i in enumerate(numbers):
            start = pd.Timestamp(f"{day}T08:00:00+05:30") + pd.Timedelta(minutes=15 * k)
            rows.append(visit(i, id=f"v{i}-{period}", project_id=pid, visit_date=day, photo_stove=f"use_{i}_{period}.jpg",
                              start=start.isoformat(), end=(start + pd.Timedelta(minutes=10)).isoformat()))
    return rows


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The root of a data home with both projects ingested and their periods registered (copy it, don't use it)."""
    root = tmp_path_factory.mktemp("backfill")
    home = DataHome(root / "seed")
    make_project(home, "T-CS-A", TWO_PERIODS_YAML)
    make_project(home, "T-CS-B")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(home.dagster_home))  # orchestration sets it; restored afterwards
        for pid, (numbers, rounds) in PROJECTS.items():
            stoves = orchestration.ingest(home, pid, write_export(
                root / f"{pid}-distribution.csv", "stove_distribution", [stove(i, project_id=pid) for i in numbers]))
            usage = orchestration.ingest(home, pid, write_export(
                root / f"{pid}-usage.csv", "cookstove_usage", _visits(pid, numbers, rounds)))
            assert (stoves.accepted, stoves.quarantined) == (len(numbers), 0), stoves
            assert (usage.accepted, usage.quarantined) == (len(numbers) * len(rounds), 0), usage
        instance = orchestration.instance_for(home)
        orchestration.register_periods(instance, home)
        assert sorted(instance.get_dynamic_partitions(PERIOD_PARTITIONS)) == PERIOD_KEYS
    return home.root


def _copy_home(seed: Path, target: Path) -> DataHome:
    shutil.copytree(seed, target)
    return DataHome(target)


# --- Dagster's GraphQL API -------------------------------------------------------------------

REPOSITORIES = """
query Repositories {
  repositoriesOrError {
    __typename
    ... on RepositoryConnection { nodes { name location { name } pipelines { name } } }
    ... on PythonError { message }
  }
}"""

JOB_QUERY = """
query Job($selector: PipelineSelector!) {
  pipelineOrError(params: $selector) {
    __typename
    ... on Pipeline { name partitionKeysOrError { partitionKeys } }
    ... on PythonError { message }
  }
  assetNodes(pipeline: $selector) { assetKey { path } }
}"""

# dagster_graphql/client/query.py LAUNCH_PARTITION_BACKFILL_MUTATION, as the UI sends it
LAUNCH_BACKFILL = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId launchedRunIds }
    ... on PartitionSetNotFoundError { message }
    ... on PartitionKeysNotFoundError { message }
    ... on InvalidSubsetError { message }
    ... on UnauthorizedError { message }
    ... on PythonError { message stack }
  }
}"""

BACKFILL = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { id status numPartitions partitionNames error { message } }
    ... on BackfillNotFoundError { message }
    ... on PythonError { message }
  }
}"""

BACKFILL_RUNS = """
query BackfillRuns($filter: RunsFilter!) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs {
      results {
        runId status pipelineName
        tags { key value }
        assetMaterializations { assetKey { path } partition }
      }
    }
    ... on PythonError { message }
  }
}"""

FINISHED_BACKFILL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def graphql(url: str, query: str, **variables) -> dict:
    request = urllib.request.Request(f"{url}/graphql", data=json.dumps({"query": query, "variables": variables}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        payload = json.load(response)
    assert not payload.get("errors"), json.dumps(payload["errors"], indent=1)[:3000]
    return payload["data"]


def job_selector(url: str, log: Path) -> dict:
    """The job's PipelineSelector, once the code location serves it (bounded wait)."""
    deadline = time.monotonic() + LOCATION_TIMEOUT
    while True:
        data = graphql(url, REPOSITORIES)["repositoriesOrError"]
        for repo in data.get("nodes", []):
            if repo["location"]["name"] == LOCATION and any(p["name"] == JOB for p in repo["pipelines"]):
                return {"repositoryLocationName": LOCATION, "repositoryName": repo["name"], "pipelineName": JOB}
        if time.monotonic() > deadline:
            pytest.fail(f"code location {LOCATION!r} did not serve job {JOB!r} within {LOCATION_TIMEOUT} s: {data}\n"
                        f"{log_tail(log)}", pytrace=False)
        time.sleep(1)


def launch_backfill(url: str, selector: dict, asset_keys: list[list[str]], partitions: list[str]) -> str:
    """What *Materialize → Launch backfill* on the job page sends (LaunchAssetChoosePartitionsDialog.tsx)."""
    params = {
        "tags": [{"key": "dagster/from_ui", "value": "true"}],
        "assetSelection": [{"path": path} for path in asset_keys],
        "partitionNames": partitions,
        "fromFailure": False,
        "selector": {
            "partitionSetName": f"{JOB}_partition_set",
            "repositorySelector": {"repositoryLocationName": selector["repositoryLocationName"],
                                   "repositoryName": selector["repositoryName"]},
        },
    }
    result = graphql(url, LAUNCH_BACKFILL, backfillParams=params)["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    return result["backfillId"]


def wait_for_backfill(url: str, backfill_id: str, log: Path) -> tuple[dict, list[dict]]:
    """Poll until the daemon has finished the backfill and every one of its runs; (backfill, runs)."""
    deadline = time.monotonic() + BACKFILL_TIMEOUT
    run_filter = {"tags": [{"key": "dagster/backfill", "value": backfill_id}]}
    while True:
        backfill = graphql(url, BACKFILL, id=backfill_id)["partitionBackfillOrError"]
        assert backfill["__typename"] == "PartitionBackfill", backfill
        runs = graphql(url, BACKFILL_RUNS, filter=run_filter)["runsOrError"]
        assert runs["__typename"] == "Runs", runs
        runs = runs["results"]
        if backfill["status"] in FINISHED_BACKFILL and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs):
            return backfill, runs
        if time.monotonic() > deadline:
            pytest.fail(f"backfill {backfill_id} not finished within {BACKFILL_TIMEOUT} s: {backfill['status']}, runs "
                        f"{[(r['runId'][:8], r['status']) for r in runs]}\n{log_tail(log)}", pytrace=False)
        time.sleep(2)


def _tag(run: dict, key: str) -> str | None:
    return next((t["value"] for t in run["tags"] if t["key"] == key), None)


def assert_every_period_materialized_once(backfill: dict, runs: list[dict], partitions: list[str]) -> None:
    """The backfill succeeded and its runs materialized every asset of the job once for each period.

    The period assets have a single-run backfill policy, so the daemon runs a range of periods in one
    run (tagged with the range) rather than one run per period."""
    assert backfill["status"] == "COMPLETED_SUCCESS", (backfill, [(r["runId"], r["status"]) for r in runs])
    assert sorted(backfill["partitionNames"]) == sorted(partitions)
    assert runs, backfill
    for run in runs:
        assert (run["status"], run["pipelineName"]) == ("SUCCESS", JOB), run
    materialized = Counter(("/".join(m["assetKey"]["path"]), m["partition"])
                           for run in runs for m in run["assetMaterializations"])
    assert materialized == Counter((asset, key) for asset in AMS_II_G_ASSETS for key in partitions), materialized


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_intact_package(package: Path) -> dict:
    """report.duckdb and manifest.json are there and every file still has the manifest's SHA-256; the manifest."""
    assert (package / "report.duckdb").is_file() and (package / "manifest.json").is_file(), package
    manifest = json.loads((package / "manifest.json").read_text())
    assert {name: _sha256(package / name) for name in manifest["files"]} == manifest["files"], package
    return manifest


def _fnrb(package: Path) -> float:
    parameters = pd.read_parquet(package / "parquet" / "parameters.parquet")
    return float(parameters.loc[parameters["name"] == "fnrb", "value"].iloc[0])


# --- the tests -------------------------------------------------------------------------------


def test_backfill_every_period_then_recalculate_after_a_parameter_change(seeded: Path, tmp_path: Path):
    home = _copy_home(seeded, tmp_path / "home")
    timings: dict[str, float] = {}
    started = time.monotonic()
    with dagster_dev(home.root, tmp_path / "dagster-dev.log", cwd=REPO_ROOT) as dev:
        timings["dagster dev up"] = time.monotonic() - started
        selector = job_selector(dev.url, dev.log)
        job = graphql(dev.url, JOB_QUERY, selector=selector)
        assert job["pipelineOrError"]["__typename"] == "Pipeline", job
        # the UI offers exactly the registered periods, and the job holds the methodology's assets
        assert sorted(job["pipelineOrError"]["partitionKeysOrError"]["partitionKeys"]) == PERIOD_KEYS
        asset_keys = [node["assetKey"]["path"] for node in job["assetNodes"]]
        assert {"/".join(path) for path in asset_keys} == AMS_II_G_ASSETS

        # 1. every period of both projects
        mark = time.monotonic()
        first_id = launch_backfill(dev.url, selector, asset_keys, PERIOD_KEYS)
        backfill, runs = wait_for_backfill(dev.url, first_id, dev.log)
        timings["backfill of 3 periods"] = time.monotonic() - mark
        assert_every_period_materialized_once(backfill, runs, PERIOD_KEYS)
        first: dict[str, dict] = {}
        for key in PERIOD_KEYS:
            pid, _, period = key.partition(":")
            listed = versions.list_versions(home, pid, period)
            assert [v.version for v in listed] == ["v001"], (key, listed)
            package = package_dir(home, pid, period)
            assert package == versions.version_dir(home, pid, period, "v001")
            first[key] = assert_intact_package(package)
            assert _fnrb(package) == pytest.approx(0.30)
            assert listed[0].er_tco2e > 0, listed

        # 2. fNRB changes for T-CS-A: backfill that project's periods again, the same way
        project_yaml = home.project_dir("T-CS-A") / "project.yaml"
        text = project_yaml.read_text()
        assert text.count(FNRB) == 1, text
        project_yaml.write_text(text.replace(FNRB, NEW_FNRB))
        again = [key for key in PERIOD_KEYS if key.startswith("T-CS-A:")]
        mark = time.monotonic()
        second_id = launch_backfill(dev.url, selector, asset_keys, again)
        backfill, runs = wait_for_backfill(dev.url, second_id, dev.log)
        timings["backfill of 2 periods"] = time.monotonic() - mark
        assert second_id != first_id
        assert_every_period_materialized_once(backfill, runs, again)

    for key in again:
        pid, _, period = key.partition(":")
        old, new, changes = versions.diff_versions(home, pid, period)
        assert (old.version, new.version) == ("v001", "v002"), (key, old, new)
        assert [v.version for v in versions.list_versions(home, pid, period)] == ["v001", "v002"]
        assert new.parameters_sha256 != old.parameters_sha256 and new.batches == old.batches
        assert new.er_tco2e == pytest.approx(old.er_tco2e * 0.20 / 0.30), (old, new)  # ER is linear in fNRB
        changed = changes.set_index(["kind", "name", "scope"])
        fnrb = changed.loc[("parameter", "fnrb", "")]
        assert (fnrb["old"], fnrb["new"]) == (pytest.approx(0.30), pytest.approx(0.20)), changes
        er = changed.loc[("step", "emission_reductions", "")]
        assert (er["old"], er["new"]) == (pytest.approx(old.er_tco2e), pytest.approx(new.er_tco2e)), changes
        assert er["relative_change"] == pytest.approx(-1 / 3), changes
        # the newest package is v002; v001 is still there, unchanged, with the old fNRB
        assert package_dir(home, pid, period) == versions.version_dir(home, pid, period, "v002")
        assert _fnrb(package_dir(home, pid, period)) == pytest.approx(0.20)
        earlier = versions.version_dir(home, pid, period, "v001")
        assert assert_intact_package(earlier) == first[key], key
        assert _fnrb(earlier) == pytest.approx(0.30)
    # T-CS-B was not part of the second backfill and its parameters did not change
    assert [v.version for v in versions.list_versions(home, "T-CS-B", "MP1")] == ["v001"]
    print("timings:", {k: round(v, 1) for k, v in timings.items()})


def test_dg_launch_materializes_one_period(seeded: Path, tmp_path: Path):
    dg_cli = Path(sys.executable).with_name("dg")
    need(dg_cli.exists(), f"{dg_cli} not found: pip install -e . (dagster-dg-cli)")
    home = _copy_home(seeded, tmp_path / "home")
    key = "T-CS-A:MP2"
    env = {**os.environ, "MRV_HOME": str(home.root), "DAGSTER_HOME": str(home.dagster_home)}
    result = subprocess.run([str(dg_cli), "launch", "--job", JOB, "--partition", key], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=DG_TIMEOUT, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"dg launch failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"

    package = package_dir(home, "T-CS-A", "MP2")
    assert package == versions.version_dir(home, "T-CS-A", "MP2", "v001")
    manifest = assert_intact_package(package)
    assert (manifest["project_id"], manifest["period_id"]) == ("T-CS-A", "MP2")
    for pid, period in (("T-CS-A", "MP1"), ("T-CS-B", "MP1")):  # one period, not the others
        assert versions.list_versions(home, pid, period) == [], (pid, period)

    # the run is in the data home's instance, for that partition, and it materialized the whole job
    with dg.DagsterInstance.from_config(str(home.dagster_home)) as instance:
        runs = instance.get_runs(dg.RunsFilter(job_name=JOB))
        assert [(r.tags.get("dagster/partition"), r.status) for r in runs] == [(key, dg.DagsterRunStatus.SUCCESS)]
        for name in AMS_II_G_ASSETS:
            event = instance.get_latest_materialization_event(dg.AssetKey(name.split("/")))
            assert event is not None and event.run_id == runs[0].run_id and event.dagster_event.partition == key, name


def test_dg_launch_materializes_a_range_of_periods_in_one_run(seeded: Path, tmp_path: Path):
    dg_cli = Path(sys.executable).with_name("dg")
    need(dg_cli.exists(), f"{dg_cli} not found: pip install -e . (dagster-dg-cli)")
    home = _copy_home(seeded, tmp_path / "home")
    first, last = "T-CS-A:MP1", "T-CS-A:MP2"  # registered in this order, before T-CS-B:MP1
    env = {**os.environ, "MRV_HOME": str(home.root), "DAGSTER_HOME": str(home.dagster_home)}
    result = subprocess.run([str(dg_cli), "launch", "--job", JOB, "--partition-range", f"{first}...{last}"],
                            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=DG_TIMEOUT,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"dg launch failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"

    # one report per period of the range, and none for the period outside it
    for period in ("MP1", "MP2"):
        manifest = assert_intact_package(package_dir(home, "T-CS-A", period))
        assert (manifest["project_id"], manifest["period_id"]) == ("T-CS-A", period)
        assert [v.version for v in versions.list_versions(home, "T-CS-A", period)] == ["v001"]
    assert versions.list_versions(home, "T-CS-B", "MP1") == []

    # one run, tagged with the range, materialized every asset of the job for both periods
    with dg.DagsterInstance.from_config(str(home.dagster_home)) as instance:
        runs = instance.get_runs(dg.RunsFilter(job_name=JOB))
        assert [(r.tags.get("dagster/asset_partition_range_start"), r.tags.get("dagster/asset_partition_range_end"),
                 r.status) for r in runs] == [(first, last, dg.DagsterRunStatus.SUCCESS)]
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(["ams_ii_g", "emission_reductions"])), limit=10).records
        assert sorted((r.run_id, r.partition_key) for r in records) == [(runs[0].run_id, first), (runs[0].run_id, last)]
        for name in AMS_II_G_ASSETS:
            status = instance.get_status_by_partition(dg.AssetKey(name.split("/")), PERIOD_KEYS,
                                                      dg.DynamicPartitionsDefinition(name=PERIOD_PARTITIONS))
            assert {k for k, v in status.items() if v == dg.AssetPartitionStatus.MATERIALIZED} == {first, last}, name
