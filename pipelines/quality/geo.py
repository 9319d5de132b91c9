"""Geospatial rules: points against the project boundary and plots, vectorised with shapely.

Distances are computed in the UTM zone of the project (metres), so "outside by more than its
accuracy" compares like with like. Points are tested with prepared geometries: containment first
(cheap), distances only for the points outside.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.ops import transform

DEFAULT_ACCURACY_M = 30.0


def utm_crs(geometry: shapely.Geometry) -> pyproj.CRS:
    """The WGS 84 / UTM zone containing the geometry's centroid."""
    centroid = geometry.centroid
    zone = int((centroid.x + 180) // 6) + 1
    return pyproj.CRS.from_epsg((32600 if centroid.y >= 0 else 32700) + zone)


def _projector(crs: pyproj.CRS) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)


def distance_outside_m(latitude: np.ndarray, longitude: np.ndarray, area: shapely.Geometry) -> np.ndarray:
    """Metres from each point to `area` (0 inside; NaN where a coordinate is missing)."""
    latitude = np.asarray(latitude, dtype=float)
    longitude = np.asarray(longitude, dtype=float)
    result = np.full(latitude.shape, np.nan)
    valid = np.isfinite(latitude) & np.isfinite(longitude)
    if not valid.any():
        return result
    shapely.prepare(area)
    inside = np.zeros(latitude.shape, dtype=bool)
    inside[valid] = shapely.contains_xy(area, longitude[valid], latitude[valid]) | shapely.intersects_xy(
        area.boundary, longitude[valid], latitude[valid])
    result[inside] = 0.0
    outside = valid & ~inside
    if outside.any():
        crs = utm_crs(area)
        projector = _projector(crs)
        x, y = projector.transform(longitude[outside], latitude[outside])
        area_m = transform(projector.transform, area)
        result[outside] = shapely.distance(area_m, shapely.points(x, y))
    return result


def outside_by_more_than_accuracy(latitude, longitude, accuracy_m, area: shapely.Geometry) -> tuple[np.ndarray, np.ndarray]:
    """(mask, distance_m): points farther outside `area` than their accuracy (30 m when blank)."""
    distance = distance_outside_m(latitude, longitude, area)
    accuracy = pd.Series(accuracy_m, dtype="float64").fillna(DEFAULT_ACCURACY_M).to_numpy()
    mask = np.nan_to_num(distance, nan=0.0) > accuracy
    return mask, distance


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km (spherical Earth, R = 6371.0088 km)."""
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(v, dtype=float)) for v in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def distance_outside_plots_m(latitude, longitude, plot_ids: pd.Series, plots) -> tuple[np.ndarray, np.ndarray]:
    """(distance_m, known) of each point to the polygon of its own plot; `known` is False for an unknown plot_id."""
    lookup = plots.set_index("plot_id").geometry
    known = plot_ids.astype("str").isin(lookup.index).to_numpy()
    distance = np.full(len(plot_ids), np.nan)
    if known.any():
        crs = utm_crs(shapely.box(*plots.total_bounds))
        projector = _projector(crs)
        x, y = projector.transform(np.asarray(longitude, dtype=float)[known], np.asarray(latitude, dtype=float)[known])
        polygons = lookup.to_crs(crs).reindex(plot_ids.astype("str")[known]).values
        distance[known] = shapely.distance(np.asarray(polygons), shapely.points(x, y))
    return distance, known


def lines_outside_m(wkt: pd.Series, area: shapely.Geometry) -> np.ndarray:
    """For each WKT line, the largest distance (m) of its vertices from `area` (NaN when missing)."""
    result = np.full(len(wkt), np.nan)
    present = wkt.notna().to_numpy()
    if not present.any():
        return result
    lines = shapely.from_wkt(wkt[present].to_numpy())
    coords, index = shapely.get_coordinates(lines, return_index=True)
    distance = distance_outside_m(coords[:, 1], coords[:, 0], area)
    worst = pd.Series(distance).groupby(index).max().to_numpy()
    result[present] = worst
    return result


def plot_problems(plots) -> pd.DataFrame:
    """Invalid (e.g. self-intersecting) and overlapping plots, with figures, for the project report."""
    rows = []
    valid = shapely.is_valid(plots.geometry.values)
    for plot_id, reason in zip(plots.loc[~valid, "plot_id"], shapely.is_valid_reason(plots.geometry.values[~valid])):
        rows.append({"plot_id": plot_id, "problem": "invalid_geometry", "detail": reason, "overlap_ha": np.nan})
    good = plots[valid]
    if len(good) > 1:
        metric = good.to_crs(utm_crs(shapely.box(*good.total_bounds)))
        left, right = metric.sindex.query(metric.geometry, predicate="intersects")
        pairs = left < right
        left, right = left[pairs], right[pairs]
        overlap = shapely.area(shapely.intersection(metric.geometry.values[left], metric.geometry.values[right])) / 10_000
        for i, j, ha in zip(left, right, overlap):
            if ha > 1e-4:
                rows.append({"plot_id": metric["plot_id"].iloc[i], "problem": "overlap",
                             "detail": f"overlaps plot {metric['plot_id'].iloc[j]} by {ha:.4f} ha", "overlap_ha": ha})
    return pd.DataFrame(rows, columns=["plot_id", "problem", "detail", "overlap_ha"])


def plot_areas_ha(plots) -> pd.Series:
    """Area of each plot in hectares (UTM), indexed by plot_id."""
    metric = plots.to_crs(utm_crs(shapely.box(*plots.total_bounds)))
    return pd.Series(metric.geometry.area.to_numpy() / 10_000, index=plots["plot_id"].to_numpy())
