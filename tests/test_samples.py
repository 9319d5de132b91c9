"""The bundled sample projects: every injected fault is found with its reason code, and nothing else.

`expected_faults.csv` in each sample project is the generator's ground truth (pipelines/synth.py),
written independently of the pipeline's rules.
"""

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipelines.cli import FORM_ORDER
from pipelines.ingest import ingest_in_process
from pipelines.readers.canonical import sniff
from pipelines.settings import DataHome

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "projects"


@pytest.fixture(scope="module")
def sample_home(tmp_path_factory):
    home = DataHome(tmp_path_factory.mktemp("samples"))
    shutil.copytree(SAMPLES, home.projects)
    for project in sorted(p.name for p in home.projects.iterdir()):
        exports = sorted((home.project_dir(project) / "exports").iterdir(),
                         key=lambda f: (FORM_ORDER.index(sniff(f)[0]), f.name))
        for export in exports:
            ingest_in_process(home, project, export)
    return home


@pytest.mark.parametrize("project", sorted(p.name for p in SAMPLES.iterdir() if (p / "expected_faults.csv").exists()))
def test_sample_faults_are_found_with_their_reason_codes(sample_home, project):
    expected = pd.read_csv(sample_home.project_dir(project) / "expected_faults.csv")
    with duckdb.connect(str(sample_home.warehouse_db), read_only=True) as con:
        found = con.execute("SELECT submission_id, reason FROM quarantine WHERE project_id = ? UNION ALL "
                            "SELECT submission_id, reason FROM warnings WHERE project_id = ?", [project, project]).df()
        ignored = con.execute("SELECT sum(duplicates) FROM batches WHERE project_id = ?", [project]).fetchone()[0]
    flagged = expected[expected["kind"] != "ignored"]
    wanted = set(map(tuple, flagged[["submission_id", "reason"]].to_numpy()))
    got = set(map(tuple, found.to_numpy()))
    assert wanted - got == set(), "injected faults not found"
    # A reused photo is flagged on both submissions that show it; the generator names one of them.
    partners = {(r.related_submission_id, r.reason) for r in flagged.itertuples() if r.reason == "photo_reused"}
    assert got - wanted - partners == set(), "rows flagged that no fault explains"
    assert ignored == (expected["kind"] == "ignored").sum()
