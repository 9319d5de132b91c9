"""DuckDB's spatial extension, loaded offline from the `duckdb-extension-spatial` wheel.

``INSTALL spatial`` downloads from the internet; the PyPI wheel ships the signed extension file
instead, which ``LOAD '<path>'`` loads with no network.
"""

from __future__ import annotations

from pathlib import Path

import duckdb


def extension_path() -> Path:
    import duckdb_extension_spatial

    folder = Path(duckdb_extension_spatial.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    path = folder / "spatial.duckdb_extension"
    if not path.exists():
        raise RuntimeError(f"no spatial extension for DuckDB {duckdb.__version__} in {folder}; "
                           "install duckdb-extension-spatial of the same version as duckdb")
    return path


def load_spatial(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"LOAD '{extension_path()}'")
