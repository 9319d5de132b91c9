"""Running it like a data platform: upload folder sensor, nightly schedule, report versions, concurrency."""

import datetime as dt
import os
import subprocess
import sys
import threading
import time

import dagster as dg
import pytest
from support import COOKSTOVE_YAML, make_project, stove, visit, write_export

from pipelines import ingest, orchestration, versions, warehouse
from pipelines.definitions import build_definitions
from pipelines.errors import WarehouseBusy
from pipelines.project import load_project


def evaluate_sensor(home, name):
    defs = build_definitions(home)
    instance = orchestration.instance_for(home)
    sensor = defs.resolve_sensor_def(name)
    context = dg.build_sensor_context(instance=instance, definitions=defs, resources={"mrv_home": defs.resources["mrv_home"]})
    return sensor(context), instance, defs  # the sensor's own result, as the daemon receives it


def test_upload_folder_sensor_registers_ingests_and_files_away(home, tmp_path):
    inbox = home.project_dir("T-CS-1") / "upload"
    write_export(inbox / "dist.csv", "stove_distribution", [stove(1), stove(2)])
    (inbox / "notes.txt").write_text("not an export")
    result, instance, defs = evaluate_sensor(home, "upload_folder")
    assert len(result.run_requests) == 1
    key = result.run_requests[0].partition_key
    assert key.startswith("T-CS-1:")
    assert (inbox / "done" / "dist.csv").exists() and not (inbox / "dist.csv").exists()
    error = (inbox / "rejected" / "notes.txt.error.txt").read_text()
    assert "unsupported file type" in error
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    run = defs.resolve_job_def("ingest_batch").execute_in_process(partition_key=key, instance=instance)
    assert run.success
    assert ingest.read_summary(home, ingest.load_upload(home, key)).accepted == 2
    again, _, _ = evaluate_sensor(home, "upload_folder")
    assert not again.run_requests  # nothing waiting: the folder was emptied


def test_nightly_schedule_requests_only_open_periods(home):
    make_project(home, "T-CS-1", COOKSTOVE_YAML.replace(
        "  - {{id: MP1, start: 2024-07-01, end: 2025-06-30}}",
        "  - {{id: MP0, start: 2023-07-01, end: 2024-06-30}}\n  - {{id: MP1, start: 2024-07-01, end: 2025-06-30}}"))
    defs = build_definitions(home)
    schedule = defs.resolve_schedule_def("nightly_ams_ii_g_period")
    when = dt.datetime(2025, 8, 1, 2, 0, tzinfo=dt.timezone.utc)
    context = dg.build_schedule_context(scheduled_execution_time=when, resources={"mrv_home": defs.resources["mrv_home"]})
    requests = list(schedule(context))
    assert [r.partition_key for r in requests] == ["T-CS-1:MP1"]  # MP0 closed more than 90 days ago


def test_nightly_schedule_runs_a_projects_open_periods_in_one_run_in_order(home, tmp_path):
    make_project(home, "T-CS-1", COOKSTOVE_YAML.replace(
        "  - {{id: MP1, start: 2024-07-01, end: 2025-06-30}}",
        "  - {{id: MP1, start: 2024-07-01, end: 2025-06-30}}\n  - {{id: MP2, start: 2025-07-01, end: 2026-06-30}}"))
    orchestration.ingest(home, "T-CS-1", write_export(tmp_path / "d.csv", "stove_distribution", [stove(i) for i in range(1, 6)]))
    orchestration.ingest(home, "T-CS-1", write_export(tmp_path / "u.csv", "cookstove_usage", [visit(i) for i in range(1, 6)]))
    defs = build_definitions(home)
    when = dt.datetime(2025, 8, 1, 2, 0, tzinfo=dt.timezone.utc)  # MP1 ended a month ago, MP2 is running: both open
    context = dg.build_schedule_context(scheduled_execution_time=when, resources={"mrv_home": defs.resources["mrv_home"]})
    [request] = list(defs.resolve_schedule_def("nightly_ams_ii_g_period")(context))
    assert request.partition_key is None
    assert (request.tags["dagster/asset_partition_range_start"], request.tags["dagster/asset_partition_range_end"]) == \
        ("T-CS-1:MP1", "T-CS-1:MP2")
    # the run the daemon would launch for that request
    instance = orchestration.instance_for(home)
    orchestration.register_periods(instance, home)
    result = defs.resolve_job_def("ams_ii_g_period").execute_in_process(
        tags=request.tags, instance=instance, raise_on_error=False)
    assert result.success
    assert {e.partition for e in result.get_asset_materialization_events()} == {"T-CS-1:MP1", "T-CS-1:MP2"}
    assert [v.version for v in versions.list_versions(home, "T-CS-1", "MP2")] == ["v001"]


def test_a_parameter_change_makes_a_new_version_and_the_diff_shows_it(home, tmp_path):
    orchestration.ingest(home, "T-CS-1", write_export(tmp_path / "d.csv", "stove_distribution", [stove(i) for i in range(1, 6)]))
    orchestration.ingest(home, "T-CS-1", write_export(tmp_path / "u.csv", "cookstove_usage", [visit(i) for i in range(1, 6)]))
    project = load_project(home, "T-CS-1")
    orchestration.run_period(home, project, "MP1", with_package=True)
    orchestration.run_period(home, project, "MP1", with_package=True)  # unchanged inputs: same version
    assert [v.version for v in versions.list_versions(home, "T-CS-1", "MP1")] == ["v001"]
    make_project(home, "T-CS-1", COOKSTOVE_YAML.replace("fnrb: 0.30", "fnrb: 0.07"))
    orchestration.run_period(home, load_project(home, "T-CS-1"), "MP1", with_package=True)
    listed = versions.list_versions(home, "T-CS-1", "MP1")
    assert [v.version for v in listed] == ["v001", "v002"]
    assert listed[0].parameters_sha256 != listed[1].parameters_sha256
    assert (versions.version_dir(home, "T-CS-1", "MP1", "v001") / "report.duckdb").exists()  # still retrievable
    old, new, changes = versions.diff_versions(home, "T-CS-1", "MP1")
    by_name = changes.set_index(["kind", "name", "scope"])
    assert by_name.loc[("parameter", "fnrb", ""), "old"] == 0.30 and by_name.loc[("parameter", "fnrb", ""), "new"] == 0.07
    er = by_name.loc[("step", "emission_reductions", "")]
    assert er["relative_change"] == pytest.approx(0.07 / 0.30 - 1, rel=1e-9)  # ER is linear in fNRB
    assert ("step", "usage_rate_applied", "") not in by_name.index  # unchanged values are not listed


def test_a_second_writer_waits_then_fails_with_a_clear_message(home):
    with warehouse.connect(home, write=True):
        started = time.monotonic()
        with pytest.raises(WarehouseBusy, match="busy: another mrv process is writing"):
            with warehouse.connect(home, write=True, timeout=0.5):
                pass
        assert time.monotonic() - started >= 0.5


def test_a_waiting_writer_proceeds_when_the_first_finishes(home):
    done = []

    def second():
        with warehouse.connect(home, write=True, timeout=10):
            done.append(time.monotonic())

    with warehouse.connect(home, write=True):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)
        released = time.monotonic()
    thread.join(timeout=15)
    assert done and done[0] >= released


def test_two_concurrent_ingest_processes_both_land(home, tmp_path):
    files = [write_export(tmp_path / "a.csv", "stove_distribution", [stove(i) for i in range(1, 40)]),
             write_export(tmp_path / "b.csv", "stove_distribution", [stove(i) for i in range(40, 80)], "odk")]
    env = {**os.environ, "MRV_HOME": str(home.root)}
    procs = [subprocess.Popen([sys.executable, "-m", "pipelines.cli", "ingest", str(f), "--project", "T-CS-1"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in files]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    with warehouse.connect(home) as con:
        assert con.execute("SELECT count(*) FROM stove_distribution WHERE accepted").fetchone()[0] == 79
        assert con.execute("SELECT count(*) FROM batches").fetchone()[0] == 2


def test_review_writeback_follows_a_committed_batch_by_automation_condition(home, tmp_path):
    file = write_export(tmp_path / "d.csv", "stove_distribution", [stove(1)])
    project = load_project(home, "T-CS-1")
    upload = ingest.store_upload(home, project, file)
    instance = orchestration.instance_for(home)
    instance.add_dynamic_partitions("survey_batches", [upload.partition_key])
    defs = build_definitions(home)
    writeback = dg.AssetKey(["surveys", "review_writeback"])
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert first.total_requested == 0  # nothing committed yet: the upstream batch is missing
    orchestration.materialize(home, dg.AssetSelection.groups("surveys") - dg.AssetSelection.assets(writeback),
                              upload.partition_key)
    second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert second.total_requested == 1
    assert second.get_num_requested(writeback) == 1
