"""The warehouse: one DuckDB file holding every stored survey row, quarantine and batch record.

DuckDB allows one writing process per file, so every connection goes through a file lock
(``$MRV_HOME/.locks/warehouse.lock``): writers take it exclusively, readers shared. A second
writer waits up to ``MRV_LOCK_TIMEOUT`` seconds and then fails with a clear message — never with a
raw DuckDB lock error. A batch is committed in one transaction, so a crash leaves either the whole
batch or none of it.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator

import duckdb

from pipelines.errors import WarehouseBusy
from pipelines.forms import FORM_IDS, load_form
from pipelines.readers.canonical import canonical_schema, table_name
from pipelines.settings import DataHome, lock_timeout_seconds

BATCHES_DDL = """
CREATE TABLE IF NOT EXISTS batches (
    batch_id VARCHAR PRIMARY KEY, project_id VARCHAR, form VARCHAR, flavour VARCHAR,
    source_file VARCHAR, upload_path VARCHAR, sha256 VARCHAR, uploaded_at TIMESTAMPTZ,
    rows_read BIGINT, accepted BIGINT, duplicates BIGINT, quarantined BIGINT, warned BIGINT,
    feedback_path VARCHAR, committed_at TIMESTAMPTZ
)"""

FINDINGS_COLUMNS = {
    "project_id": "VARCHAR", "batch_id": "VARCHAR", "form": "VARCHAR", "submission_id": "VARCHAR",
    "source_row": "BIGINT", "runner_id": "VARCHAR", "reason": "VARCHAR", "detail": "VARCHAR",
}
"""Columns of ``quarantine`` and ``warnings``: one row per (submission, reason)."""


def form_tables() -> dict[str, dict[str, str]]:
    """Warehouse table name -> column types, for every form and repeat group."""
    tables = {}
    for form_id in FORM_IDS:
        form = load_form(form_id)
        tables[table_name(form_id)] = {**canonical_schema(form), "project_id": "VARCHAR", "accepted": "BOOLEAN"}
        for repeat in form.repeats:
            tables[table_name(form_id, repeat)] = {**canonical_schema(form, repeat), "project_id": "VARCHAR", "accepted": "BOOLEAN"}
    return tables


def _ddl(name: str, columns: dict[str, str]) -> str:
    body = ", ".join(f'"{c}" {t}' for c, t in columns.items())
    return f'CREATE TABLE IF NOT EXISTS "{name}" ({body})'


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(BATCHES_DDL)
    for name in ("quarantine", "warnings"):
        con.execute(_ddl(name, FINDINGS_COLUMNS))
    for name, columns in form_tables().items():
        con.execute(_ddl(name, columns))


@contextlib.contextmanager
def _file_lock(home: DataHome, exclusive: bool, timeout: float) -> Iterator[None]:
    home.locks.mkdir(parents=True, exist_ok=True)
    path = home.locks / "warehouse.lock"
    with open(path, "a+") as handle:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(
                        f"warehouse {home.warehouse_db} is busy: another mrv process is writing; "
                        f"waited {timeout:.0f} s (set MRV_LOCK_TIMEOUT to wait longer)") from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def connect(home: DataHome, write: bool = False, timeout: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the warehouse under the file lock (exclusive for writers, shared for readers)."""
    timeout = lock_timeout_seconds() if timeout is None else timeout
    home.warehouse_dir.mkdir(parents=True, exist_ok=True)
    if not write and not home.warehouse_db.exists():
        with connect(home, write=True, timeout=timeout):
            pass  # a new data home: create the empty tables once, so readers find them
    with _file_lock(home, exclusive=write, timeout=timeout):
        con = duckdb.connect(str(home.warehouse_db), read_only=not write)
        try:
            if write:
                create_schema(con)
            yield con
        finally:
            con.close()


def read_accepted(home: DataHome, table: str, columns: str, project_id: str, *, where: str = "",
                  params: tuple = (), order_by: str, dates: tuple[str, ...] = ()):
    """Accepted rows of one project from a form table (extra `where` SQL with `?` parameters), dates parsed."""
    import pandas as pd

    sql = f'SELECT {columns} FROM "{table}" WHERE accepted AND project_id = ? {where} ORDER BY {order_by}'
    with connect(home) as con:
        frame = con.execute(sql, [project_id, *params]).df()
    for column in dates:
        frame[column] = pd.to_datetime(frame[column])
    return frame
