"""The bundled sample projects: every injected fault is found with its reason code, and nothing else.

`expected_faults.csv` in each sample project is the generator's ground truth (pipelines/synth.py),
written independently of the pipeline's rules.
"""

import shutil
from pathlib import Path

import pytest
from support import assert_faults_match_ground_truth

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
    assert_faults_match_ground_truth(sample_home, project)
