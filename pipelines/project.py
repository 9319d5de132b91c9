"""Projects: `project.yaml`, boundary and plots, read from the data home.

A project folder is ``$MRV_HOME/projects/<project_id>/`` (see contracts/pipeline.md). Loading
checks what a project file must say and turns every mistake into a one-line `UserError` naming
the file and key.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely
import yaml

from pipelines.errors import UserError
from pipelines.settings import DataHome

METHODOLOGY_FORMS: dict[str, tuple[str, ...]] = {
    "cdm-ams-ii-g": ("stove_distribution", "cookstove_usage"),
    "vm0047-census": ("tree_planting", "tree_survival", "bund_plantation"),
}
"""The survey forms each methodology reads."""

PARTITION_SEPARATOR = ":"


@dataclass(frozen=True)
class MonitoringPeriod:
    """A monitoring period; both dates inclusive."""

    id: str
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class Project:
    project_id: str
    name: str
    methodology: str
    country: str
    folder: Path
    periods: tuple[MonitoringPeriod, ...]
    parameter_overrides: dict[str, Any] = field(default_factory=dict)
    article6: dict[str, Any] = field(default_factory=dict)
    boundary_file: str = "boundary.geojson"
    plots_file: str | None = None

    @property
    def forms(self) -> tuple[str, ...]:
        return METHODOLOGY_FORMS[self.methodology]

    def period(self, period_id: str) -> MonitoringPeriod:
        for period in self.periods:
            if period.id == period_id:
                return period
        known = ", ".join(p.id for p in self.periods)
        raise UserError(f"project {self.project_id} has no monitoring period {period_id!r} (periods: {known})")

    def previous_period(self, period_id: str) -> MonitoringPeriod | None:
        """The monitoring period that ends before `period_id` starts, latest first; None for the first."""
        current = self.period(period_id)
        earlier = [p for p in self.periods if p.end < current.start]
        return max(earlier, key=lambda p: p.end) if earlier else None

    def partition_key(self, period_id: str) -> str:
        return f"{self.project_id}{PARTITION_SEPARATOR}{period_id}"

    @cached_property
    def boundary(self) -> shapely.Geometry:
        """The project boundary as one (Multi)Polygon in EPSG:4326."""
        frame = _read_geojson(self.folder / self.boundary_file)
        geometry = shapely.union_all(shapely.make_valid(frame.geometry.values))
        if geometry.geom_type not in ("Polygon", "MultiPolygon"):
            raise UserError(f"{self.folder / self.boundary_file}: boundary must be a Polygon or MultiPolygon, found {geometry.geom_type}")
        return geometry

    @cached_property
    def plots(self) -> gpd.GeoDataFrame:
        """Plot polygons with column ``plot_id`` (tree projects)."""
        if not self.plots_file:
            raise UserError(f"{self.folder / 'project.yaml'}: key 'plots' is required for methodology {self.methodology}")
        path = self.folder / self.plots_file
        frame = _read_geojson(path)
        if "plot_id" not in frame.columns:
            raise UserError(f"{path}: every plot needs a 'plot_id' property")
        frame["plot_id"] = frame["plot_id"].astype(str)
        return frame[["plot_id", "geometry"]]


def _read_geojson(path: Path) -> gpd.GeoDataFrame:
    if not path.exists():
        raise UserError(f"{path}: file not found")
    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise UserError(f"{path}: not a readable GeoJSON file ({exc})") from None
    if frame.crs is None:
        frame = frame.set_crs("EPSG:4326")
    elif frame.crs.to_epsg() != 4326:
        frame = frame.to_crs("EPSG:4326")
    return frame


def parse_date(value: Any, where: str) -> dt.date:
    """A YAML date or an ISO string as a date; `UserError` naming `where` otherwise."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise UserError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def load_project(home: DataHome, project_id: str) -> Project:
    """Read and check ``projects/<project_id>/project.yaml``."""
    folder = home.project_dir(project_id)
    path = folder / "project.yaml"
    if not path.exists():
        known = ", ".join(list_project_ids(home)) or "none"
        raise UserError(f"unknown project {project_id!r}: {path} not found (projects: {known})")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, ValueError) as exc:  # PyYAML raises ValueError for impossible dates
        raise UserError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    for key in ("project_id", "name", "methodology", "country", "boundary", "monitoring_periods"):
        if key not in doc:
            raise UserError(f"{path}: required key {key!r} is missing")
    if str(doc["project_id"]) != project_id:
        raise UserError(f"{path}: project_id {doc['project_id']!r} does not match its folder {project_id!r}")
    methodology = str(doc["methodology"])
    if methodology not in METHODOLOGY_FORMS:
        raise UserError(f"{path}: unknown methodology {methodology!r} (known: {', '.join(METHODOLOGY_FORMS)})")
    periods = []
    for i, item in enumerate(doc["monitoring_periods"] or []):
        where = f"{path}: monitoring_periods[{i}]"
        if not isinstance(item, dict) or not {"id", "start", "end"} <= set(item):
            raise UserError(f"{where}: needs id, start and end")
        period = MonitoringPeriod(str(item["id"]), parse_date(item["start"], where), parse_date(item["end"], where))
        if period.end < period.start:
            raise UserError(f"{where}: end {period.end} is before start {period.start}")
        if PARTITION_SEPARATOR in period.id:
            raise UserError(f"{where}: period id must not contain {PARTITION_SEPARATOR!r}")
        periods.append(period)
    if len({p.id for p in periods}) != len(periods):
        raise UserError(f"{path}: monitoring period ids must be unique")
    return Project(
        project_id=project_id,
        name=str(doc["name"]),
        methodology=methodology,
        country=str(doc["country"]),
        folder=folder,
        periods=tuple(sorted(periods, key=lambda p: p.start)),
        parameter_overrides=dict(doc.get("parameters") or {}),
        article6=dict(doc.get("article6") or {"authorized": False}),
        boundary_file=str(doc["boundary"]),
        plots_file=str(doc["plots"]) if doc.get("plots") else None,
    )


def list_project_ids(home: DataHome) -> list[str]:
    if not home.projects.exists():
        return []
    return sorted(p.name for p in home.projects.iterdir() if (p / "project.yaml").exists())


def load_projects(home: DataHome) -> list[Project]:
    return [load_project(home, pid) for pid in list_project_ids(home)]


def boundary_geojson(project: Project) -> str:
    return json.dumps(shapely.geometry.mapping(project.boundary))
