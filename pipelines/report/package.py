"""The verifier package: ``report.duckdb``, Parquet/GeoParquet copies and a SHA-256 manifest.

Written into a temporary folder beside the target and swapped in whole, so a crash never leaves a
half-written package where a verifier could find it. Personal data never enters it: the canonical
tables do not hold it, and `write_package` refuses any table that does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from pathlib import Path

import duckdb
import geopandas as gpd
import pandas as pd

import pipelines
from pipelines.atomic import atomic_directory
from pipelines.forms import PERSONAL_QUESTIONS
from pipelines.monitoring.result import PeriodResult
from pipelines.report.spatial import load_spatial
from pipelines.settings import REPO_ROOT

PACKAGE_README = """\
# Verifier package: {project_id}, monitoring period {period_id}

Methodology: {methodology_version}
Net credits per vintage: see `emission_reductions` (er_tco2e unrounded, issuable_tco2e floored).

Files
- `report.duckdb` — every table below in one DuckDB file (open it with `duckdb report.duckdb`);
  point tables carry a `geom` GEOMETRY column (EPSG:4326) besides `latitude`/`longitude`.
- `parquet/<table>.parquet` — the same tables; GeoParquet where they carry geometry.
- `manifest.json` — SHA-256 of every file, code and methodology versions, parameter-set hash.

Tables
{tables}

To recompute: `calculation_steps` lists every intermediate value in order with its equation and
reference; `parameters` gives every input value with its source; the survey tables hold the
accepted rows behind the numbers (with `batch_id`, `source_file`, `source_row` for lineage) and
`quarantine` every excluded row with its reasons.
"""


def code_version() -> str:
    """Package version plus the git commit of the checkout when there is one."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                                text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{pipelines.__version__}+{commit}" if commit else pipelines.__version__


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _refuse_personal_data(tables: dict[str, pd.DataFrame]) -> None:
    for name, frame in tables.items():
        leaked = PERSONAL_QUESTIONS & set(frame.columns)
        if leaked:
            raise ValueError(f"table {name} holds personal data columns {sorted(leaked)}; refusing to write it")


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Arrow-friendly dtypes for DuckDB and Parquet."""
    out = frame.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.StringDtype) or out[column].dtype == object:
            out[column] = out[column].astype("str").where(out[column].notna(), None)
    return out.reset_index(drop=True)


def _geo(frame: pd.DataFrame, kind: str) -> gpd.GeoDataFrame:
    """GeoDataFrame of a table: ``point`` from latitude/longitude, else `kind` names a WKT column."""
    if kind == "point":
        geometry = gpd.points_from_xy(frame["longitude"], frame["latitude"], crs="EPSG:4326")
    else:
        geometry = gpd.GeoSeries.from_wkt(frame[kind], crs="EPSG:4326")
    return gpd.GeoDataFrame(_plain(frame), geometry=geometry, crs="EPSG:4326")


def write_package(result: PeriodResult, extra_tables: dict[str, pd.DataFrame], out_dir: Path) -> Path:
    """Write the verifier package of `result` into `out_dir` (replacing it whole)."""
    tables = {**result.tables, **extra_tables}
    _refuse_personal_data(tables)
    generated_at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    info = pd.DataFrame({"key": ["project_id", "period_id", "methodology", "methodology_version", "code_version",
                                 "parameters_sha256", "generated_at"],
                         "value": [result.project_id, result.period_id, result.methodology, result.methodology_version,
                                   code_version(), result.parameters_sha256, generated_at]})
    tables["report_info"] = info
    with atomic_directory(out_dir) as building:
        parquet_dir = building / "parquet"
        parquet_dir.mkdir()
        con = duckdb.connect(str(building / "report.duckdb"))
        try:
            load_spatial(con)
            for name, frame in tables.items():
                plain = _plain(frame)
                kind = result.geometry_tables.get(name)
                if kind:
                    _geo(frame, kind).to_parquet(parquet_dir / f"{name}.parquet", index=False)
                else:
                    plain.to_parquet(parquet_dir / f"{name}.parquet", index=False)
                con.register("incoming", plain)
                if kind == "point":
                    con.execute(f'CREATE TABLE "{name}" AS SELECT *, ST_Point(longitude, latitude) AS geom FROM incoming')
                elif kind:
                    con.execute(f'CREATE TABLE "{name}" AS SELECT *, ST_GeomFromText("{kind}") AS geom FROM incoming')
                else:
                    con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM incoming')
                con.unregister("incoming")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        descriptions = "\n".join(f"- `{name}` ({len(frame)} rows)" for name, frame in sorted(tables.items()))
        (building / "README.md").write_text(PACKAGE_README.format(
            project_id=result.project_id, period_id=result.period_id,
            methodology_version=result.methodology_version, tables=descriptions), encoding="utf-8")
        files = sorted(p for p in building.rglob("*") if p.is_file())
        manifest = {
            "project_id": result.project_id,
            "period_id": result.period_id,
            "methodology": result.methodology,
            "methodology_version": result.methodology_version,
            "code_version": code_version(),
            "parameters_sha256": result.parameters_sha256,
            "generated_at": generated_at,
            "files": {str(p.relative_to(building)): _sha256(p) for p in files},
        }
        (building / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return out_dir
