"""Real verifier packages of the two bundled sample projects, built once for the report tests.

The exports under data/projects/*/exports are ingested in-process (no Dagster), every period is
computed and written with `write_period_package`, exactly as `mrv report` does. Tests that change a
package or the data home work on a copy (`package_copy`, `home_copy`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.cli import FORM_ORDER
from pipelines.ingest import ingest_in_process
from pipelines.periods import compute_period, write_period_package
from pipelines.project import load_project
from pipelines.readers.canonical import sniff
from pipelines.settings import DataHome

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "projects"
COOKSTOVES = "IN-MP-CS-001"
TREES = "IN-MH-AF-001"


@pytest.fixture(scope="session")
def report_home(tmp_path_factory: pytest.TempPathFactory) -> DataHome:
    home = DataHome(tmp_path_factory.mktemp("report-home"))
    shutil.copytree(SAMPLES, home.projects)
    for project_id in (COOKSTOVES, TREES):
        exports = sorted((home.project_dir(project_id) / "exports").iterdir(),
                         key=lambda f: (FORM_ORDER.index(sniff(f)[0]), f.name))
        for export in exports:
            ingest_in_process(home, project_id, export)
        project = load_project(home, project_id)
        for period in project.periods:
            write_period_package(home, compute_period(home, project, period.id))
    return home


@pytest.fixture(scope="session")
def packages(report_home: DataHome) -> dict[str, Path]:
    """``{"cookstoves": MP1 package, "trees": MP2 package, "trees_mp1": MP1 package}`` (latest versions)."""
    from pipelines.periods import package_dir

    return {"cookstoves": package_dir(report_home, COOKSTOVES, "MP1"),
            "trees": package_dir(report_home, TREES, "MP2"),
            "trees_mp1": package_dir(report_home, TREES, "MP1")}


@pytest.fixture
def package_copy(packages: dict[str, Path], tmp_path: Path):
    """A function returning a private copy of one of the packages."""
    def copy(kind: str) -> Path:
        target = tmp_path / f"{kind}-copy"
        shutil.copytree(packages[kind], target)
        return target
    return copy


@pytest.fixture
def home_copy(report_home: DataHome, tmp_path: Path) -> DataHome:
    """A private copy of the whole data home (warehouse, results, reports)."""
    root = tmp_path / "home"
    shutil.copytree(report_home.root, root, ignore=shutil.ignore_patterns(".locks"))
    return DataHome(root)
