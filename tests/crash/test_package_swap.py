"""The verifier package swap, killed at its most delicate instant.

`pipelines.atomic.atomic_directory` replaces an existing package with one atomic exchange
(renameat2 RENAME_EXCHANGE): a kill right after it leaves the new package in place and the old one in
a hidden ``.building-*`` folder, never a listed version without its folder. A random SIGKILL rarely
lands there, so this test puts it there: a child process rewrites an existing version and SIGKILLs
itself right after the swap.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from crash.state import assert_no_half_written_package, listed_versions_exist
from support import make_project, stove, visit, write_export

from pipelines import periods
from pipelines.ingest import ingest_in_process
from pipelines.project import load_project
from pipelines.settings import DataHome

CHILD = r"""
import os, signal, sys
from pathlib import Path

from pipelines import atomic, periods
from pipelines.project import load_project
from pipelines.settings import DataHome

real_exchange = atomic._exchange

def exchange_then_die(a, b):
    done = real_exchange(a, b)
    os.kill(os.getpid(), signal.SIGKILL)
    return done

atomic._exchange = exchange_then_die
home = DataHome(Path(sys.argv[1]))
result = periods.compute_period(home, load_project(home, "T-CS-1"), "MP1")
periods.write_period_package(home, result)
"""


@pytest.fixture(scope="module")
def reported_home(tmp_path_factory):
    """A home with a reported period whose re-report was killed between the two renames of the swap."""
    tmp_path = tmp_path_factory.mktemp("swap")
    home = DataHome(tmp_path / "home")
    make_project(home)
    ingest_in_process(home, "T-CS-1", write_export(tmp_path / "d.csv", "stove_distribution", [stove(i) for i in (1, 2, 3)]))
    ingest_in_process(home, "T-CS-1", write_export(tmp_path / "u.csv", "cookstove_usage", [visit(i) for i in (1, 2, 3)]))
    result = periods.compute_period(home, load_project(home, "T-CS-1"), "MP1")
    periods.write_period_package(home, result)
    child = subprocess.run([sys.executable, "-c", CHILD, str(home.root)], capture_output=True, text=True, timeout=300,
                           env={**os.environ, "MRV_HOME": str(home.root)})
    assert child.returncode == -9, child.stderr  # it did die in the window
    return home


def test_a_kill_during_the_swap_leaves_no_half_written_package(reported_home):
    assert_no_half_written_package(reported_home)
    hidden = [p.name for p in (reported_home.reports / "T-CS-1" / "MP1" / "versions").iterdir() if p.name.startswith(".")]
    assert any(".building-" in name for name in hidden)  # the previous package is not lost, only set aside


def test_a_kill_during_the_swap_leaves_every_listed_version_in_place(reported_home):
    assert listed_versions_exist(reported_home) == []


