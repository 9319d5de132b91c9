"""Helpers of the end-to-end suites: the skip-or-fail rule, free ports, a throwaway PostgreSQL cluster,
`mrv dev` started, waited for and stopped as a process group.

Imported as ``e2e.infra`` (tests/ is on the path); the fixtures live in conftest.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

REQUIRED = os.environ.get("MRV_E2E", "").strip().lower() == "require"
COMMAND_TIMEOUT = 60  # seconds, for every initdb / pg_ctl call


def need(ok: object, reason: str) -> None:
    """Skip (or, under ``MRV_E2E=require``, fail) unless `ok`."""
    if ok:
        return
    if REQUIRED:
        pytest.fail(f"{reason} (MRV_E2E=require: CI must run this test)", pytrace=False)
    pytest.skip(reason)


def need_module(name: str) -> None:
    try:
        __import__(name)
    except ImportError:
        need(False, f"Python package {name!r} is missing: pip install -e '.[e2e]' (or make install-e2e)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- PostgreSQL --------------------------------------------------------------------------------


def postgres_bindir() -> Path | None:
    """The folder of initdb/pg_ctl: on PATH, else Debian's /usr/lib/postgresql/<version>/bin (newest)."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    versions = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl") if (p.parent / "initdb").exists()]
    versions.sort(key=lambda b: int(b.parent.name) if b.parent.name.isdigit() else 0)
    return versions[-1] if versions else None


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    database: str
    bindir: Path
    log: Path

    def connect(self, database: str | None = None):
        import psycopg2

        return psycopg2.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                                dbname=database or self.database, connect_timeout=10)

    def env(self) -> dict[str, str]:
        """The variables the documented dagster.yaml reads (docs/operations.md)."""
        return {"DAGSTER_PG_HOST": self.host, "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_USERNAME": self.user,
                "DAGSTER_PG_PASSWORD": self.password, "DAGSTER_PG_DB": self.database}


class Cluster:
    """initdb + pg_ctl on a private data directory; as root, every command runs as the `postgres` user."""

    def __init__(self, bindir: Path, base: Path, run_as: str | None):
        self.bindir, self.base, self.run_as = bindir, base, run_as
        self.data = base / "data"
        self.log = base / "server.log"

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bindir / argv[0]), *argv[1:]]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, cwd=self.base)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:2])} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
                               f"\n{self.log_tail()}")
        return result

    def log_tail(self) -> str:
        try:
            return "server log:\n" + "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return ""

    def init(self, user: str, password: str) -> None:
        pwfile = self.base / "pwfile"
        pwfile.write_text(password + "\n")
        if self.run_as:
            shutil.chown(pwfile, self.run_as)
        self.run("initdb", "-D", str(self.data), "-U", user, f"--pwfile={pwfile}", "-A", "scram-sha-256",
                 "-E", "UTF8", "--no-locale", "--no-sync")
        pwfile.unlink()

    def start(self, port: int) -> bool:
        """Start on 127.0.0.1:`port` only (no Unix socket); False when the port was taken meanwhile."""
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"\n# tests/e2e: throwaway server\nlisten_addresses = '127.0.0.1'\nport = {port}\n"
                       "unix_socket_directories = ''\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
        result = self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30", "start", check=False)
        if result.returncode == 0:
            return True
        if "already in use" in self.log_tail():
            return False
        raise RuntimeError(f"pg_ctl start failed:\n{result.stdout}{result.stderr}\n{self.log_tail()}")

    def stop(self) -> None:
        if not (self.data / "postmaster.pid").exists():
            return
        try:
            if self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop", check=False).returncode == 0:
                return
        except subprocess.TimeoutExpired:
            pass
        self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "15", "stop", check=False)


# --- dagster dev -------------------------------------------------------------------------------
# The same start / wait / stop rules as the Dagster UI suite (test_dagster_ui.py), as helpers for
# suites that drive `mrv dev` without a browser.

DEV_STARTUP_TIMEOUT = 120  # seconds for dagster dev to answer /server_info
DEV_STOP_TIMEOUT = 30  # seconds for dagster dev to stop after SIGTERM, before SIGKILL


def mrv_script() -> Path:
    """The project's `mrv` console script next to this interpreter (skip or fail when absent)."""
    mrv = Path(sys.executable).with_name("mrv")
    need(mrv.exists(), f"console script {mrv} not found: pip install -e '.[test,e2e]'")
    return mrv


def log_tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def reset_signals() -> None:
    """In the child, before exec: an inherited "ignore" would make SIGTERM a no-op."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def stop_process_group(process: subprocess.Popen, timeout: float = DEV_STOP_TIMEOUT) -> None:
    """SIGTERM the whole process group `process` leads; SIGKILL whatever is left after `timeout`."""
    pgid = process.pid  # start_new_session: the group id is the leader's pid
    with suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=timeout)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # children (daemon, code server, runs) outlive the leader for a moment
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    with suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


@dataclass(frozen=True)
class DagsterDev:
    url: str  # http://127.0.0.1:<port>
    process: subprocess.Popen
    log: Path


@contextmanager
def dagster_dev(mrv_home: Path, log: Path, cwd: Path, timeout: float = DEV_STARTUP_TIMEOUT):
    """`mrv dev --port <free port>` on `mrv_home` (webserver + daemon) in its own process group.

    Yields once /server_info answers; the whole group is stopped on exit, whatever happened.
    """
    mrv = mrv_script()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}  # mrv dev derives it from MRV_HOME
    env.update(MRV_HOME=str(mrv_home), PYTHONUNBUFFERED="1")
    with log.open("wb") as out:
        process = subprocess.Popen([str(mrv), "dev", "--port", str(port)], cwd=cwd, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                   preexec_fn=reset_signals)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                pytest.fail(f"mrv dev exited with {process.returncode}:\n{log_tail(log)}", pytrace=False)
            with suppress(OSError):
                with urllib.request.urlopen(f"{url}/server_info", timeout=5) as response:
                    if response.status == 200:
                        break
            if time.monotonic() > deadline:
                pytest.fail(f"dagster dev did not answer {url}/server_info within {timeout} s:\n{log_tail(log)}",
                            pytrace=False)
            time.sleep(0.5)
        yield DagsterDev(url, process, log)
    finally:
        stop_process_group(process)


# --- Redis broker and Celery workers ----------------------------------------------------------
# The distributed-executor suite (test_distributed_executor.py): a throwaway redis-server of the
# Debian package as Celery's broker and result backend, and `dagster-celery worker start` workers.

REDIS_STARTUP_TIMEOUT = 30  # seconds for redis-server to answer PING
CELERY_STARTUP_TIMEOUT = 120  # seconds for a Celery worker to answer the broker
CELERY_STOP_TIMEOUT = 30  # seconds for a worker's warm shutdown after SIGTERM, before SIGKILL


def redis_binary() -> str:
    """The redis-server of the Debian package (skip or fail when absent)."""
    binary = shutil.which("redis-server")
    need(binary, "redis-server not found: apt-get install redis-server")
    return binary


def redis_ping(port: int) -> bool:
    """True when a Redis server on 127.0.0.1:`port` answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def redis_server(base: Path, timeout: float = REDIS_STARTUP_TIMEOUT):
    """redis-server on a free port of 127.0.0.1, nothing written to disk; yields ``redis://127.0.0.1:<port>``.

    The server runs in its own process group, which is stopped on exit whatever happened.
    """
    binary = redis_binary()
    log = base / "redis.log"
    for _ in range(3):  # the free port may be taken between free_port() and the bind
        port = free_port()
        with log.open("ab") as out:
            process = subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(base), "--protected-mode", "yes"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                preexec_fn=reset_signals)
        deadline = time.monotonic() + timeout
        while process.poll() is None and not redis_ping(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        if process.poll() is None and redis_ping(port):
            break
        stop_process_group(process, timeout=5)
    else:
        pytest.fail(f"redis-server did not start:\n{log_tail(log)}", pytrace=False)
    try:
        yield f"redis://127.0.0.1:{port}"
    finally:
        stop_process_group(process, timeout=10)


@dataclass(frozen=True)
class CeleryWorker:
    name: str  # the node name, <name>@<host>
    pool_pids: tuple[int, ...]  # the prefork pool's processes, where the steps run
    process: subprocess.Popen
    log: Path


@contextmanager
def celery_worker(broker: str, backend: str, name: str, base: Path, env: dict[str, str], cwd: Path,
                  concurrency: int = 2, includes: tuple[str, ...] = (), timeout: float = CELERY_STARTUP_TIMEOUT):
    """`dagster-celery worker start` with a prefork pool of `concurrency` processes, in its own process group.

    Yields once the worker answers over the broker, with its pool's pids; stopped on exit (warm
    shutdown on SIGTERM, SIGKILL after CELERY_STOP_TIMEOUT).
    """
    cli = Path(sys.executable).with_name("dagster-celery")
    need(cli.exists(), f"{cli} not found: pip install -e '.[e2e]' (dagster-celery)")
    need_module("celery")
    need_module("redis")
    from celery import Celery

    config = base / f"{name}.yaml"  # the executor's config block, read by the worker CLI
    config.write_text(f"execution:\n  config:\n    broker: '{broker}'\n    backend: '{backend}'\n")
    log = base / f"{name}.log"
    # The CLI runs `celery` from PATH: the one next to this interpreter.
    env = {**env, "PATH": f"{cli.parent}{os.pathsep}{env.get('PATH', os.defpath)}", "PYTHONUNBUFFERED": "1"}
    argv = [str(cli), "worker", "start", "-A", "dagster_celery.app", "-y", str(config), "-n", name, "-l", "INFO",
            *[arg for module in includes for arg in ("-i", module)],
            "--", "-c", str(concurrency), "--pool", "prefork", "--without-gossip", "--without-mingle"]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=reset_signals)
    app = Celery("mrv-e2e-probe", broker=broker, backend=backend)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                pytest.fail(f"celery worker exited with {process.returncode}:\n{log_tail(log)}", pytrace=False)
            stats = {node: s for node, s in (app.control.inspect(timeout=1).stats() or {}).items()
                     if node.startswith(f"{name}@")}
            pids = tuple(p for s in stats.values() for p in s.get("pool", {}).get("processes", []))
            if len(pids) == concurrency:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"celery worker {name} did not answer within {timeout} s:\n{log_tail(log)}", pytrace=False)
            time.sleep(0.5)
        yield CeleryWorker(next(iter(stats)), pids, process, log)
    finally:
        app.close()
        stop_process_group(process, timeout=CELERY_STOP_TIMEOUT)
