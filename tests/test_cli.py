"""The mrv command as a user runs it: exit codes, one-line errors, no tracebacks."""

import os
import subprocess
import sys
from pathlib import Path

import duckdb
from support import COOKSTOVE_YAML, make_project, stove, visit, write_export

MRV = [sys.executable, "-m", "pipelines.cli"]


def mrv(home, *args, cwd=None):
    env = {**os.environ, "MRV_HOME": str(home.root)}
    return subprocess.run([*MRV, *map(str, args)], env=env, capture_output=True, text=True, cwd=cwd, timeout=300)


def test_ingest_run_report_from_any_directory(home, tmp_path):
    dist = write_export(tmp_path / "dist.csv", "stove_distribution", [stove(1), stove(2), stove(3, household_id="")])
    use = write_export(tmp_path / "use.xlsx", "cookstove_usage", [visit(1), visit(2)], "kobo")
    elsewhere = tmp_path / "somewhere"
    elsewhere.mkdir()
    first = mrv(home, "ingest", dist, "--project", "T-CS-1", cwd=elsewhere)
    assert first.returncode == 0, first.stderr
    assert "accepted 2" in first.stdout and "missing_required" in first.stdout and "feedback" in first.stdout
    assert mrv(home, "ingest", use, "--project", "T-CS-1").returncode == 0
    again = mrv(home, "ingest", dist, "--project", "T-CS-1")
    assert again.returncode == 0 and "already ingested" in again.stdout
    run = mrv(home, "run", "--project", "T-CS-1", "--period", "MP1")
    assert run.returncode == 0, run.stderr
    assert "vintage 2024" in run.stdout and "vintage 2025" in run.stdout
    out = tmp_path / "package"
    report = mrv(home, "report", "--project", "T-CS-1", "--period", "MP1", "--out", out)
    assert report.returncode == 0, report.stderr
    with duckdb.connect(str(out / "report.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM emission_reductions").fetchone()[0] == 2
    assert list(elsewhere.iterdir()) == []  # nothing written in the current directory


def test_user_mistakes_exit_2_with_one_line(home, tmp_path):
    garbage = tmp_path / "garbage.csv"
    garbage.write_text("hello,world\n1,2\n")
    cases = [
        ("ingest", garbage, "--project", "T-CS-1"),
        ("ingest", tmp_path / "missing.csv", "--project", "T-CS-1"),
        ("ingest", garbage, "--project", "NO-SUCH"),
        ("run", "--project", "T-CS-1", "--period", "MP9"),
        ("run", "--project", "T-CS-NOBOLD", "--period", "MP1"),  # raised inside the Dagster run
    ]
    make_project(home, "T-CS-NOBOLD", COOKSTOVE_YAML.replace("  b_old_t_per_device_year: 2.0\n", ""))
    for args in cases:
        result = mrv(home, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("mrv: error:"), result.stderr
        assert "pipelines." not in lines[0]  # no exception class paths in a user's message
        assert "Traceback" not in result.stderr


def test_help_lists_the_commands(home):
    result = mrv(home, "--help")
    assert result.returncode == 0
    for command in ("ingest", "run", "report", "demo"):
        assert command in result.stdout
