"""The verifier package: ``report.duckdb``, Parquet/GeoParquet copies and a SHA-256 manifest.

Written into a temporary folder beside the target and swapped in whole, so a crash never leaves a
half-written package where a verifier could find it. Personal data never enters it: the canonical
tables do not hold it, and `write_package` refuses any table that does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import duckdb
import geopandas as gpd
import pandas as pd
import pyarrow as pa

import pipelines
from pipelines.atomic import sha256_file as _sha256
from pipelines.atomic import atomic_directory
from pipelines.forms import PERSONAL_QUESTIONS
from pipelines.monitoring.result import PeriodResult
from pipelines.report.html import render_report
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
- `report.html` — the monitoring report as one page (maps, charts, parameter table, calculation chain,
  Article 6); opens offline in any browser and prints to PDF.
- `manifest.json` — SHA-256 of every file, code and methodology versions, parameter-set hash.
  Check the package with `mrv verify <this folder>`.

Tables
{tables}

To recompute: `calculation_steps` lists every intermediate value in order with its equation and
reference; `parameters` gives every input value with its source; the survey tables hold the
accepted rows behind the numbers (with `batch_id`, `source_file`, `source_row` for lineage) and
`quarantine` every excluded row with its reasons.
"""


def code_version() -> str:
    """Package version, the git commit of the checkout, and a hash of uncommitted code changes if any.

    Uncommitted edits to the code, schemas or parameter files change the result, so they must change
    the version a report records (and hence its report-version fingerprint).
    """
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    commit = git("rev-parse", "--short=12", "HEAD").strip()
    if not commit:
        return pipelines.__version__
    diff = git("diff", "HEAD", "--", "pipelines", "assets", "schemas", "data/parameters", "data/reference")
    dirty = f".dirty-{hashlib.sha256(diff.encode()).hexdigest()[:8]}" if diff else ""
    return f"{pipelines.__version__}+{commit}{dirty}"




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


def _geo(frame: pd.DataFrame, kind: str, plain: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """GeoDataFrame of a table: ``point`` from latitude/longitude, else `kind` names a WKT column
    (`plain` is ``_plain(frame)`` when the caller has it already)."""
    if kind == "point":
        geometry = gpd.points_from_xy(frame["longitude"], frame["latitude"], crs="EPSG:4326")
    else:
        geometry = gpd.GeoSeries.from_wkt(frame[kind], crs="EPSG:4326")
    return gpd.GeoDataFrame(_plain(frame) if plain is None else plain, geometry=geometry, crs="EPSG:4326")


def _arrow(plain: pd.DataFrame) -> pa.Table | pd.DataFrame:
    """The table as Arrow for DuckDB, which reads Arrow in place but copies pandas text value by value
    (the same column types either way; a frame Arrow cannot hold goes as it is)."""
    try:
        return pa.Table.from_pandas(plain, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return plain


SITE_VISIT_TABLE = "site_visit_sample"
"""The table `mrv sample` adds; its CSV copy ``site_visit_sample.csv`` sits beside report.html."""


def _store_tables(building: Path, tables: dict[str, pd.DataFrame], geometry: dict[str, str]) -> None:
    """Write `tables` into ``report.duckdb`` (created or amended) and ``parquet/``."""
    parquet_dir = building / "parquet"
    parquet_dir.mkdir(exist_ok=True)
    con = duckdb.connect(str(building / "report.duckdb"))
    try:
        load_spatial(con)
        for name, frame in tables.items():
            plain = _plain(frame)
            kind = geometry.get(name)
            if kind:
                _geo(frame, kind, plain).to_parquet(parquet_dir / f"{name}.parquet", index=False)
            else:
                plain.to_parquet(parquet_dir / f"{name}.parquet", index=False)
            con.register("incoming", _arrow(plain))
            if kind == "point":
                con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT *, ST_Point(longitude, latitude) AS geom FROM incoming')
            elif kind:
                con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT *, ST_GeomFromText("{kind}") AS geom FROM incoming')
            else:
                con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM incoming')
            con.unregister("incoming")
        con.execute("CHECKPOINT")
    finally:
        con.close()


def _site_visit_meta(tables: dict[str, pd.DataFrame]) -> dict | None:
    sample = tables.get(SITE_VISIT_TABLE)
    if sample is None or sample.empty:
        return None
    first = sample.iloc[0]
    return {"seed": int(first["seed"]), "n_requested": int(first["n_requested"]), "n_drawn": int(len(sample)),
            "stratified_by": str(first["stratified_by"]), "table": SITE_VISIT_TABLE, "csv": f"{SITE_VISIT_TABLE}.csv"}


def _finish(building: Path, tables: dict[str, pd.DataFrame], manifest: dict) -> None:
    """README, report.html, the site-visit CSV and, last, the manifest hashing every file."""
    info = dict(zip(tables["report_info"]["key"], tables["report_info"]["value"]))
    descriptions = "\n".join(f"- `{name}` ({len(frame)} rows)" for name, frame in sorted(tables.items()))
    (building / "README.md").write_text(PACKAGE_README.format(
        project_id=info.get("project_id", ""), period_id=info.get("period_id", ""),
        methodology_version=info.get("methodology_version", ""), tables=descriptions), encoding="utf-8")
    (building / "report.html").write_text(render_report(tables), encoding="utf-8")
    if SITE_VISIT_TABLE in tables:
        tables[SITE_VISIT_TABLE].to_csv(building / f"{SITE_VISIT_TABLE}.csv", index=False)
    manifest = {k: v for k, v in manifest.items() if k not in ("files", "site_visit_sample")}
    visit_meta = _site_visit_meta(tables)
    if visit_meta:
        manifest["site_visit_sample"] = visit_meta
    files = sorted(p for p in building.rglob("*") if p.is_file() and p.name != "manifest.json")
    manifest["files"] = {str(p.relative_to(building)): _sha256(p) for p in files}
    (building / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def write_package(result: PeriodResult, extra_tables: dict[str, pd.DataFrame], out_dir: Path, *,
                  extra_geometry: dict[str, str] | None = None, info: dict[str, str] | None = None) -> Path:
    """Write the verifier package of `result` into `out_dir` (replacing it whole).

    `extra_geometry` names the extra tables that carry coordinates ("point" or a WKT column);
    `info` adds keys to ``report_info`` (project name, country, period dates).
    """
    tables = {**result.tables, **extra_tables}
    geometry = {**result.geometry_tables, **(extra_geometry or {})}
    _refuse_personal_data(tables)
    generated_at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    metadata = {
        "project_id": result.project_id,
        "period_id": result.period_id,
        "methodology": result.methodology,
        "methodology_version": result.methodology_version,
        "code_version": code_version(),
        "parameters_sha256": result.parameters_sha256,
        "generated_at": generated_at,
    }
    rows = {**metadata, **{k: str(v) for k, v in (info or {}).items() if k not in metadata}}
    tables["report_info"] = pd.DataFrame({"key": list(rows), "value": list(rows.values())})
    with atomic_directory(out_dir) as building:
        _store_tables(building, tables, geometry)
        _finish(building, tables, metadata)
    return out_dir


def read_tables(package_dir: Path) -> dict[str, pd.DataFrame]:
    """Every table of a package from its Parquet copies (without the GeoParquet ``geometry`` column)."""
    tables = {}
    for path in sorted((package_dir / "parquet").glob("*.parquet")):
        frame = pd.read_parquet(path)
        tables[path.stem] = frame.drop(columns=["geometry"], errors="ignore")
    return tables


def add_tables(package_dir: Path, new_tables: dict[str, pd.DataFrame], geometry: dict[str, str] | None = None) -> Path:
    """Add (or replace) tables in an existing package, atomically: report.duckdb, Parquet, report.html,
    README and manifest are all brought up to date, and the manifest records the amendment."""
    _refuse_personal_data(new_tables)
    manifest_path = package_dir / "manifest.json"
    if not manifest_path.exists():
        raise FileNotFoundError(f"{package_dir} is not a verifier package (no manifest.json)")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    manifest.setdefault("amendments", []).append({"at": now, "tables": sorted(new_tables), "code_version": code_version()})
    with atomic_directory(package_dir) as building:
        shutil.copytree(package_dir, building, dirs_exist_ok=True)
        _store_tables(building, new_tables, geometry or {})
        tables = read_tables(building)
        _finish(building, tables, manifest)
    return package_dir
