"""The documented team setup, for real: the Dagster instance of a data home on a PostgreSQL server.

The dagster.yaml is the one in docs/operations.md, read from there, so the documentation cannot
drift from what works. An ingest and a monitoring period run through `pipelines.orchestration`
exactly as `mrv ingest` / `mrv run` do; the runs, partitions, materializations and check results
must then be rows in PostgreSQL (read with SQL and through a second DagsterInstance that shares
nothing with the first but the dagster.yaml), and no SQLite storage may appear in the data home.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from support import make_project, stove, visit, write_export

from pipelines import orchestration
from pipelines.project import load_project
from pipelines.settings import REPO_ROOT, DataHome

pytestmark = pytest.mark.e2e

PERIOD_ASSETS = ["ams_ii_g/usage_sample", "ams_ii_g/device_years", "ams_ii_g/emission_reductions",
                 "ams_ii_g/calculation_steps", "ams_ii_g/emission_reductions_by_model"]


def documented_dagster_yaml() -> str:
    """The first ```yaml block of docs/operations.md that configures postgres storage."""
    text = (REPO_ROOT / "docs" / "operations.md").read_text()
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S) if "postgres_db" in b]
    assert blocks, "docs/operations.md has no ```yaml block with postgres storage"
    return "\n".join(line[3:] if line.startswith("   ") else line for line in blocks[0].splitlines()) + "\n"


@pytest.fixture
def pg_home(postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataHome:
    """A data home whose dagster.yaml (written before any mrv code runs) points at `postgres`."""
    for name, value in postgres.env().items():
        monkeypatch.setenv(name, value)
    home = DataHome(tmp_path / "home")
    make_project(home)
    monkeypatch.setenv("DAGSTER_HOME", str(home.dagster_home))  # ensure_dagster_home sets it; restored after
    home.dagster_home.mkdir(parents=True)
    (home.dagster_home / "dagster.yaml").write_text(documented_dagster_yaml())
    return home


def test_ingest_and_period_are_stored_in_postgres(postgres, pg_home: DataHome, tmp_path: Path):
    home = pg_home
    yaml_before = (home.dagster_home / "dagster.yaml").read_text()
    distribution = orchestration.ingest(home, "T-CS-1", write_export(
        tmp_path / "distribution.csv", "stove_distribution", [stove(i) for i in range(1, 7)] + [stove(7, stove_model="M9")]))
    usage = orchestration.ingest(home, "T-CS-1", write_export(
        tmp_path / "usage.csv", "cookstove_usage", [visit(i) for i in range(1, 7)]))
    assert (distribution.accepted, distribution.quarantined_by_reason) == (6, {"bad_value": 1})
    assert (usage.accepted, usage.quarantined) == (6, 0)
    project = load_project(home, "T-CS-1")
    orchestration.run_period(home, project, "MP1")

    assert (home.dagster_home / "dagster.yaml").read_text() == yaml_before, "mrv must not rewrite an existing dagster.yaml"
    assert not [p.relative_to(home.root) for p in home.dagster_home.rglob("*.db")], "SQLite storage was written"
    assert (home.results / "ams_ii_g" / "emission_reductions" / "T-CS-1" / "MP1.parquet").exists()

    # --- through the instance the pipeline itself uses
    instance = orchestration.instance_for(home)
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
    batches = sorted(instance.get_dynamic_partitions("survey_batches"))
    assert len(batches) == 2 and all(key.startswith("T-CS-1:") for key in batches)
    assert instance.get_dynamic_partitions("ams_ii_g_periods") == ["T-CS-1:MP1"]
    event = instance.get_latest_materialization_event(dg.AssetKey(["ams_ii_g", "emission_reductions"]))
    assert event is not None and event.dagster_event.partition == "T-CS-1:MP1"

    # --- straight from PostgreSQL
    with postgres.connect() as con, con.cursor() as cur:
        cur.execute("SELECT status, count(*) FROM runs GROUP BY status")
        assert dict(cur.fetchall()) == {"SUCCESS": 3}
        cur.execute("SELECT partitions_def_name, partition FROM dynamic_partitions ORDER BY 1, 2")
        assert cur.fetchall() == [("ams_ii_g_periods", "T-CS-1:MP1")] + [("survey_batches", b) for b in batches]
        cur.execute("SELECT asset_key, partition FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'")
        materialized = {(dg.AssetKey(json.loads(k)).to_user_string(), p) for k, p in cur.fetchall()}
        cur.execute("SELECT asset_key, check_name, partition, execution_status FROM asset_check_executions")
        checks = {(dg.AssetKey(json.loads(k)).to_user_string(), c, p, s) for k, c, p, s in cur.fetchall()}
        cur.execute("SELECT count(*) FROM event_logs e JOIN runs r ON r.run_id = e.run_id")
        assert cur.fetchone()[0] > 50  # every step event of the three runs

    for batch in batches:
        assert {("surveys/batch_upload", batch), ("surveys/accepted_rows", batch)} <= materialized
        assert ("surveys/batch_upload", "row_rules", batch, "SUCCEEDED") in checks
    assert {(key, "T-CS-1:MP1") for key in PERIOD_ASSETS} <= materialized
    assert ("ams_ii_g/verifier_package", "T-CS-1:MP1") not in materialized  # run_period without the package

    # --- a teammate's process: another DAGSTER_HOME folder, the same dagster.yaml, nothing else shared
    other = tmp_path / "teammate-dagster-home"
    other.mkdir()
    (other / "dagster.yaml").write_text(yaml_before)
    teammate = dg.DagsterInstance.from_config(str(other))
    try:
        runs = teammate.get_runs()
        assert len(runs) == 3 and {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
        assert sorted(r.tags.get("dagster/partition") for r in runs) == sorted([*batches, "T-CS-1:MP1"])
        assert teammate.get_dynamic_partitions("survey_batches") == instance.get_dynamic_partitions("survey_batches")
    finally:
        teammate.dispose()
        instance.dispose()
    assert not list(other.rglob("*.db"))

    # the check the documentation gives (step 5)
    info = subprocess.run([str(Path(sys.executable).with_name("dagster")), "instance", "info"], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "DAGSTER_HOME": str(home.dagster_home)})
    assert info.returncode == 0, info.stderr
    assert {"PostgresRunStorage", "PostgresEventLogStorage", "PostgresScheduleStorage"} <= set(re.findall(r"Postgres\w+", info.stdout))
