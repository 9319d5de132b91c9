"""Real infrastructure for the end-to-end suites: a throwaway PostgreSQL server, free ports, and the
rule for what happens when the machine lacks a binary.

These tests need system packages (Debian: ``postgresql``, ``chromium``, ``chromium-driver``) and the
``e2e`` extra (``pip install -e .[e2e]``). Without them they are skipped with the reason; with
``MRV_E2E=require`` (set by ``.ci/run``) a missing piece fails the test instead, so CI cannot pass
by skipping.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

from e2e.infra import Cluster, PostgresServer, free_port, need, need_module, postgres_bindir


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: real infrastructure (PostgreSQL server, dagster dev, headless Chromium)")


@pytest.fixture
def postgres(tmp_path: Path):
    """A PostgreSQL server of the Debian packages, private to this test, on a free port of 127.0.0.1.

    Yields a `PostgresServer` with an empty database ``mrv_dagster`` owned by a password-authenticated
    user. PostgreSQL refuses to run as root, so under root the cluster lives in a temporary folder
    owned by the ``postgres`` OS user (pytest's tmp_path is private to root) and every command runs
    through ``runuser``. The server is stopped and its folder removed at teardown.
    """
    bindir = postgres_bindir()
    need(bindir, "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql")
    need_module("psycopg2")
    run_as = None
    if os.geteuid() == 0:
        need(shutil.which("runuser"), "running as root needs runuser (util-linux) to start PostgreSQL as 'postgres'")
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            need(False, "running as root needs the 'postgres' OS user (created by Debian's postgresql package)")
        run_as = "postgres"
        base = Path(tempfile.mkdtemp(prefix="mrv-e2e-pg-"))
        shutil.chown(base, "postgres")
    else:
        base = tmp_path / "postgres"
        base.mkdir()

    cluster = Cluster(bindir, base, run_as)
    user, password = "mrv", secrets.token_urlsafe(16)
    try:
        cluster.init(user, password)
        for _ in range(3):
            port = free_port()
            if cluster.start(port):
                break
        else:
            raise RuntimeError(f"PostgreSQL could not bind a free port\n{cluster.log_tail()}")
        server = PostgresServer("127.0.0.1", port, user, password, "mrv_dagster", bindir, cluster.log)
        admin = server.connect("postgres")
        try:
            admin.autocommit = True
            with admin.cursor() as cur:
                cur.execute("CREATE DATABASE mrv_dagster")
        finally:
            admin.close()
        yield server
    finally:
        cluster.stop()
        if run_as:
            shutil.rmtree(base, ignore_errors=True)
