"""Fixtures of the hostile-input suite (helpers live in `hostile.builders`)."""

import tempfile

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "big_file: generates and streams a several-hundred-MB export (runs in "
                                       "`make test`; deselect with -m 'not big_file')")


@pytest.fixture
def quiet_dirs(tmp_path, monkeypatch):
    """An empty working directory and temp directory for the test; both must stay empty."""
    cwd = tmp_path / "cwd"
    tmp = tmp_path / "tmpdir"
    cwd.mkdir()
    tmp.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    for name in ("TMPDIR", "TEMP", "TMP"):
        monkeypatch.setenv(name, str(tmp))
    yield cwd, tmp
    assert sorted(p.name for p in cwd.iterdir()) == [], "written into the working directory"
    assert sorted(p.name for p in tmp.iterdir()) == [], "written into the temp directory"
