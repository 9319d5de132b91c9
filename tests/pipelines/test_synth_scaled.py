"""`mrv synth`: scaled projects are deterministic and their injected faults are all found."""

import hashlib

import duckdb

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
