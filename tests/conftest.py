"""Fixtures shared by the whole suite; helpers live in `support` (tests/ is on the path)."""

from pathlib import Path

import pytest
from support import make_project

from pipelines.settings import DataHome


@pytest.fixture
def home(tmp_path: Path) -> DataHome:
    """A data home holding one small cookstove project, T-CS-1."""
    home = DataHome(tmp_path / "home")
    make_project(home)
    return home
