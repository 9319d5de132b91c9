"""`mrv synth`: scaled projects are deterministic and their injected faults are all found."""

import hashlib

import duckdb
import pytest

from pipelines.ingest import ingest_in_process
from pipelines.settings import DataHome
from pipelines.synth import synth_cookstove_project


def digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((folder / "exports").iterdir())}


def test_same_seed_same_files(tmp_path):
    a = synth_cookstove_project(tmp_path / "a", "S-1", 400, 300, seed=3, batches=2)
    b = synth_cookstove_project(tmp_path / "b", "S-1", 400, 300, seed=3, batches=2)
    c = synth_cookstove_project(tmp_path / "c", "S-1", 400, 300, seed=4, batches=2)
    assert digest(a.folder) == digest(b.folder) != digest(c.folder)
    assert len(digest(a.folder)) == 4


def test_every_injected_fault_is_found(tmp_path):
    home = DataHome(tmp_path / "home")
    project = synth_cookstove_project(home.projects, "S-2", 600, 500, seed=9, fault_rate=0.01)
    for export in project.exports:  # register first, then visits
        ingest_in_process(home, "S-2", home.project_dir("S-2") / "exports" / export.name)
    with duckdb.connect(str(home.warehouse_db), read_only=True) as con:
        found = set(con.execute("SELECT submission_id, reason FROM quarantine UNION ALL "
                                "SELECT submission_id, reason FROM warnings").fetchall())
    injected = project.faults[project.faults["kind"] != "ignored"]
    wanted = set(map(tuple, injected[["submission_id", "reason"]].to_numpy()))
    assert wanted and wanted <= found


def test_each_fault_takes_its_own_share(tmp_path):
    home = DataHome(tmp_path / "home")
    project = synth_cookstove_project(home.projects, "S-3", 2000, 1500, seed=4, fault_rate=0,
                                      fault_rates={"no_gps": 0.1, "wrong_project": 0.02})
    counts = project.faults.groupby(["form", "reason"]).size().to_dict()
    assert counts == {("stove_distribution", "no_gps"): 200, ("cookstove_usage", "no_gps"): 150,
                      ("stove_distribution", "wrong_project"): 40, ("cookstove_usage", "wrong_project"): 30}
    with pytest.raises(ValueError, match="no generated fault gives repeat_visit"):
        synth_cookstove_project(home.projects, "S-4", 20, 10, fault_rates={"repeat_visit": 0.1})
