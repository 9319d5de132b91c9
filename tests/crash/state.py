"""What a data home holds, and the invariants it must keep whenever a process dies.

Imported as ``crash.state`` (``tests/`` is on the path).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from pipelines import warehouse
from pipelines.settings import DataHome

BATCH_COLUMNS = ["batch_id", "project_id", "form", "flavour", "source_file", "sha256", "rows_read", "accepted",
                 "duplicates", "quarantined", "warned"]


def warehouse_snapshot(home: DataHome) -> dict[str, pd.DataFrame]:
    """Every table of the warehouse, sorted, without the columns that name a path or a time of day."""
    out = {}
    with warehouse.connect(home) as con:
        out["batches"] = con.execute(f"SELECT {', '.join(BATCH_COLUMNS)} FROM batches ORDER BY batch_id").df()
        for name in ("quarantine", "warnings"):
            out[name] = con.execute(f"SELECT * FROM {name} ORDER BY ALL").df()
        for name in warehouse.form_tables():
            out[name] = con.execute(f'SELECT * FROM "{name}" ORDER BY batch_id, source_row').df()
    return out


def assert_same_warehouse(actual: dict[str, pd.DataFrame], expected: dict[str, pd.DataFrame]) -> None:
    assert actual.keys() == expected.keys()
    for name in expected:
        pd.testing.assert_frame_equal(actual[name].reset_index(drop=True), expected[name].reset_index(drop=True),
                                      check_dtype=False, obj=name)


def assert_warehouse_consistent(home: DataHome) -> None:
    """Each batch is there whole or not at all: no row without its batch record, none missing from one."""
    if not home.warehouse_db.exists():
        return
    with warehouse.connect(home) as con:
        batches = con.execute("SELECT batch_id, form, rows_read - duplicates AS kept FROM batches").df()
        assert batches["batch_id"].is_unique
        committed = set(batches["batch_id"])
        for name in ("quarantine", "warnings", *warehouse.form_tables()):
            found = set(r[0] for r in con.execute(f'SELECT DISTINCT batch_id FROM "{name}"').fetchall())
            assert found <= committed, f"{name} holds rows of uncommitted batch(es) {found - committed}"
        for row in batches.itertuples():
            stored = con.execute(f'SELECT count(*) FROM "{row.form}" WHERE batch_id = ?', [row.batch_id]).fetchone()[0]
            assert stored == row.kept, f"batch {row.batch_id}: {stored} rows stored, {row.kept} committed"


def assert_package_complete(folder: Path) -> None:
    """A verifier package: a manifest whose every file exists with its SHA-256, and no other file."""
    manifest_path = folder / "manifest.json"
    assert manifest_path.is_file(), f"{folder} has no manifest.json"
    manifest = json.loads(manifest_path.read_text())
    files = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    assert files - {"manifest.json"} == set(manifest["files"]), f"{folder}: files differ from the manifest"
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, f"{folder / name}: hash differs"


def assert_no_half_written_package(home: DataHome, *out_dirs: Path) -> None:
    """Only complete packages are visible; temporary ``.building-*`` (or ``.old-*``) folders are hidden."""
    for versions in home.reports.glob("*/*/versions"):
        for folder in versions.iterdir():
            if folder.name.startswith("."):
                assert ".building-" in folder.name or ".old-" in folder.name, folder
                continue
            assert_package_complete(folder)
        index = versions.parent / "versions.json"
        if index.exists():
            json.loads(index.read_text())  # never half-written
    for out in out_dirs:
        if out.exists():
            assert_package_complete(out)


def listed_versions_exist(home: DataHome) -> list[str]:
    """Versions recorded in a ``versions.json`` whose package folder is missing."""
    missing = []
    for index in home.reports.glob("*/*/versions.json"):
        for version in json.loads(index.read_text()):
            if not (index.parent / "versions" / version["version"]).is_dir():
                missing.append(f"{index.parent.name}/{version['version']}")
    return missing
