"""Inline-SVG maps of a verifier package: boundary, plots, bund lines, households or trees, and the
quarantined submissions marked apart.

Coordinates are projected into the project's UTM zone (geopandas/pyproj), so distances and the scale
bar are true to within the zone's distortion (< 0.1 %); north is up. Everything is drawn from the
package's own tables, so the map shows exactly the rows a verifier can query.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipelines.quality.vector import isin
from pipelines.report.svg import FONT, INK, MUTED, QUARANTINE_COLOUR, colour, esc, nice_step

DEAD_COLOUR = "#8a8a8a"
BOUNDARY_COLOUR = "#3d5a3d"
PLOT_COLOUR = "#7a5c2e"
DENSITY_COLOUR = "#E69F00"


@dataclass
class Canvas:
    """Metric bounds mapped onto a `width` × `height` pixel box, north up."""

    minx: float
    miny: float
    maxx: float
    maxy: float
    width: int
    height: int

    @classmethod
    def fit(cls, bounds: tuple[float, float, float, float], width: int, min_height: int = 260,
            max_height: int = 700, pad: float = 0.05, min_span_m: float = 60.0) -> "Canvas":
        minx, miny, maxx, maxy = bounds
        cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
        dx, dy = max(maxx - minx, min_span_m), max(maxy - miny, min_span_m)
        dx, dy = dx * (1 + 2 * pad), dy * (1 + 2 * pad)
        height = int(min(max(width * dy / dx, min_height), max_height))
        if dy / dx > height / width:
            dx = dy * width / height
        else:
            dy = dx * height / width
        return cls(cx - dx / 2, cy - dy / 2, cx + dx / 2, cy + dy / 2, width, height)

    @property
    def metres_per_px(self) -> float:
        return (self.maxx - self.minx) / self.width

    def px(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return ((xs - self.minx) / self.metres_per_px, (self.maxy - ys) / self.metres_per_px)


def _coords_path(coords: np.ndarray, canvas: Canvas, close: bool) -> str:
    if len(coords) == 0:
        return ""
    x, y = canvas.px(coords[:, 0], coords[:, 1])
    head = f"M{x[0]:.1f} {y[0]:.1f}"
    body = "".join(f"L{a:.1f} {b:.1f}" for a, b in zip(x[1:], y[1:]))
    return head + body + ("Z" if close else "")


def _path(geometry: shapely.Geometry, canvas: Canvas) -> str:
    """SVG path data of a (multi)polygon or (multi)line."""
    if geometry is None or geometry.is_empty:
        return ""
    parts = getattr(geometry, "geoms", [geometry])
    out = []
    for part in parts:
        if part.geom_type == "Polygon":
            out.append(_coords_path(np.asarray(part.exterior.coords), canvas, True))
            out.extend(_coords_path(np.asarray(ring.coords), canvas, True) for ring in part.interiors)
        elif part.geom_type == "LineString":
            out.append(_coords_path(np.asarray(part.coords), canvas, False))
        elif part.geom_type in ("MultiPolygon", "MultiLineString", "GeometryCollection"):
            out.append(_path(part, canvas))
    return "".join(out)


def _wkt(values: Iterable[object]) -> gpd.GeoSeries:
    texts = pd.Series(list(values), dtype="object")
    geometry = shapely.from_wkt(texts.where(texts.notna(), None).to_numpy(), on_invalid="ignore")
    return gpd.GeoSeries(geometry, crs="EPSG:4326")


def _points(frame: pd.DataFrame) -> gpd.GeoSeries:
    lat = pd.to_numeric(frame["latitude"], errors="coerce").to_numpy(dtype=float)
    lon = pd.to_numeric(frame["longitude"], errors="coerce").to_numpy(dtype=float)
    return gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326")


class MapData:
    """The package's geometries in one metric CRS."""

    def __init__(self, layers: dict[str, gpd.GeoSeries]):
        present = [s for s in layers.values() if len(s) and s.notna().any()]
        everything = pd.concat(present, ignore_index=True) if present else gpd.GeoSeries([], crs="EPSG:4326")
        everything = everything[everything.notna() & ~everything.is_empty]
        if everything.empty:
            self.crs = None
            self.layers = {}
            return
        finite = everything[np.isfinite(everything.bounds).all(axis=1)]
        self.crs = gpd.GeoSeries(finite, crs="EPSG:4326").estimate_utm_crs()
        self.layers = {name: s.to_crs(self.crs) for name, s in layers.items()}

    def bounds(self, names: Iterable[str]) -> tuple[float, float, float, float] | None:
        frames = [self.layers[n] for n in names if n in self.layers and len(self.layers[n])]
        if not frames:
            return None
        joined = pd.concat(frames, ignore_index=True)
        joined = joined[joined.notna() & ~joined.is_empty]
        b = joined.bounds
        b = b[np.isfinite(b).all(axis=1)]
        if b.empty:
            return None
        return float(b["minx"].min()), float(b["miny"].min()), float(b["maxx"].max()), float(b["maxy"].max())


def _svg_open(canvas: Canvas, label: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" class="map" viewBox="0 0 {canvas.width} {canvas.height}" '
            f'width="{canvas.width}" height="{canvas.height}" role="img" aria-label="{esc(label)}" {FONT} font-size="11">',
            f'<title>{esc(label)}</title>',
            f'<rect width="{canvas.width}" height="{canvas.height}" fill="#f7f9f7"/>']


def _scale_bar_and_north(canvas: Canvas) -> str:
    target = canvas.width * canvas.metres_per_px / 5
    length = nice_step(target, 1)
    px = length / canvas.metres_per_px
    x0, y0 = 16, canvas.height - 18
    text = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    half = px / 2
    nx, ny = canvas.width - 22, 16
    return (f'<g class="scale"><rect x="{x0 - 6}" y="{y0 - 20}" width="{px + 12:.1f}" height="30" fill="white" opacity="0.8"/>'
            f'<rect x="{x0}" y="{y0}" width="{half:.1f}" height="5" fill="{INK}"/>'
            f'<rect x="{x0 + half:.1f}" y="{y0}" width="{half:.1f}" height="5" fill="white" stroke="{INK}"/>'
            f'<text x="{x0 + px / 2:.1f}" y="{y0 - 5}" text-anchor="middle" fill="{INK}">{esc(text)}</text></g>'
            f'<g class="north"><path d="M{nx} {ny}l7 18l-7 -5l-7 5z" fill="{INK}"/>'
            f'<text x="{nx}" y="{ny + 30}" text-anchor="middle" fill="{INK}" font-weight="700">N</text></g>')


def _polygons(series: gpd.GeoSeries, canvas: Canvas, *, fill: str, stroke: str, width: float = 1.2,
              dash: str | None = None, opacity: float = 0.18, titles: Iterable[str] | None = None) -> str:
    titles = list(titles) if titles is not None else [None] * len(series)
    out = []
    for geometry, title in zip(series, titles):
        d = _path(geometry, canvas)
        if not d:
            continue
        tip = f"<title>{esc(title)}</title>" if title else ""
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<path d="{d}" fill="{fill}" fill-opacity="{opacity}" fill-rule="evenodd" stroke="{stroke}" '
                   f'stroke-width="{width}"{dash_attr}>{tip}</path>')
    return "".join(out)


def _lines(series: gpd.GeoSeries, canvas: Canvas, colours: list[str], *, width: float = 2.5,
           dash: str | None = None, titles: Iterable[str] | None = None) -> str:
    titles = list(titles) if titles is not None else [None] * len(series)
    out = []
    for geometry, stroke, title in zip(series, colours, titles):
        d = _path(geometry, canvas)
        if not d:
            continue
        tip = f"<title>{esc(title)}</title>" if title else ""
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<path d="{d}" fill="none" stroke="{stroke}" stroke-width="{width}" stroke-linecap="round"'
                   f'{dash_attr}>{tip}</path>')
    return "".join(out)


def _dots(series: gpd.GeoSeries, canvas: Canvas, fills: list[str], *, radius: float,
          titles: Iterable[str] | None = None, ring: list[bool] | None = None) -> str:
    ok = series.notna() & ~series.is_empty
    if not ok.any():
        return ""
    x, y = canvas.px(series.x.to_numpy(dtype=float), series.y.to_numpy(dtype=float))
    titles = list(titles) if titles is not None else [""] * len(series)
    ring = ring or [False] * len(series)
    out = ['<g stroke="white" stroke-width="0.6">']
    for i in np.flatnonzero(ok.to_numpy()):
        if not (math.isfinite(x[i]) and math.isfinite(y[i])):
            continue
        extra = f' stroke="{INK}" stroke-width="1.3"' if ring[i] else ""
        tip = f"<title>{esc(titles[i])}</title>" if titles[i] else ""
        out.append(f'<circle cx="{x[i]:.1f}" cy="{y[i]:.1f}" r="{radius}" fill="{fills[i]}"{extra}>{tip}</circle>')
    out.append("</g>")
    return "".join(out)


def _crosses(series: gpd.GeoSeries, canvas: Canvas, *, size: float, titles: Iterable[str] | None = None) -> str:
    """Quarantined submissions: a red × with a white halo, drawn last so nothing hides it."""
    ok = series.notna() & ~series.is_empty
    if not ok.any():
        return ""
    x, y = canvas.px(series.x.to_numpy(dtype=float), series.y.to_numpy(dtype=float))
    titles = list(titles) if titles is not None else [""] * len(series)
    out = ['<g class="quarantined">']
    for i in np.flatnonzero(ok.to_numpy()):
        if not (math.isfinite(x[i]) and math.isfinite(y[i])):
            continue
        x0, x1, y0, y1 = x[i] - size, x[i] + size, y[i] - size, y[i] + size
        d = f"M{x0:.1f} {y0:.1f}L{x1:.1f} {y1:.1f}M{x0:.1f} {y1:.1f}L{x1:.1f} {y0:.1f}"
        tip = f"<title>{esc(titles[i])}</title>" if titles[i] else ""
        out.append(f'<g><path d="{d}" stroke="white" stroke-width="4.5"/>'
                   f'<path d="{d}" stroke="{QUARANTINE_COLOUR}" stroke-width="2.4" stroke-linecap="round"/>{tip}</g>')
    out.append("</g>")
    return "".join(out)


def _plot_markers(series: gpd.GeoSeries, canvas: Canvas, ids: list[str], dense: np.ndarray) -> str:
    """At overview scale a one-hectare plot is a few pixels: mark each with a square and its id."""
    points = series.representative_point()
    x, y = canvas.px(points.x.to_numpy(dtype=float), points.y.to_numpy(dtype=float))
    out = ['<g class="plot-markers">']
    for i, plot_id in enumerate(ids):
        if not (math.isfinite(x[i]) and math.isfinite(y[i])):
            continue
        stroke = DENSITY_COLOUR if dense[i] else PLOT_COLOUR
        out.append(f'<rect x="{x[i] - 7:.1f}" y="{y[i] - 7:.1f}" width="14" height="14" fill="none" stroke="{stroke}" '
                   f'stroke-width="1.4"/><text x="{x[i] + 10:.1f}" y="{y[i] - 8:.1f}" fill="{MUTED}" font-size="9.5">'
                   f'{esc(plot_id)}</text>')
    out.append("</g>")
    return "".join(out)


VISIT_COLOUR = "#5a2ca0"


def _visit_marks(series: gpd.GeoSeries, canvas: Canvas, numbers: list[object]) -> str:
    """Units of the site-visit sample: a purple diamond with the visit number."""
    if not len(series):
        return ""
    x, y = canvas.px(series.x.to_numpy(dtype=float), series.y.to_numpy(dtype=float))
    out = ['<g class="site-visits">']
    for i, number in enumerate(numbers):
        if not (math.isfinite(x[i]) and math.isfinite(y[i])):
            continue
        out.append(f'<path d="M{x[i]:.1f} {y[i] - 7:.1f}l7 7l-7 7l-7 -7z" fill="none" stroke="white" stroke-width="3.5"/>'
                   f'<path d="M{x[i]:.1f} {y[i] - 7:.1f}l7 7l-7 7l-7 -7z" fill="none" stroke="{VISIT_COLOUR}" '
                   f'stroke-width="1.8"><title>{esc(f"site visit {number}")}</title></path>'
                   f'<text x="{x[i] + 8:.1f}" y="{y[i] - 6:.1f}" fill="{VISIT_COLOUR}" font-size="10" '
                   f'font-weight="700">{esc(number)}</text>')
    out.append("</g>")
    return "".join(out)


def _visits(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    frame = tables.get("site_visit_sample")
    return frame.reset_index(drop=True) if frame is not None else pd.DataFrame(columns=["visit_no", "latitude", "longitude"])


def _with(frame: pd.DataFrame, **defaults: object) -> pd.DataFrame:
    """`frame` with every column of `defaults` (added with its default value where missing)."""
    missing = {k: v for k, v in defaults.items() if k not in frame.columns}
    return frame.assign(**missing) if missing else frame


def _categories(values: pd.Series) -> dict[str, str]:
    return {str(v): colour(i) for i, v in enumerate(sorted(values.dropna().astype(str).unique()))}


def _quarantine_titles(frame: pd.DataFrame) -> list[str]:
    return [f"quarantined {r.form} {r.submission_id} (runner {r.runner_id}): {r.reasons}"
            for r in frame.itertuples(index=False)]


@dataclass
class MapFigure:
    svg: str
    legend: list[tuple[str, str, str]]
    caption: str
    details: list[tuple[str, str]]  # (title, svg) of zoomed panels


def _boundary(tables: dict[str, pd.DataFrame]) -> gpd.GeoSeries:
    frame = tables.get("project_boundary")
    if frame is None or frame.empty or "geometry_wkt" not in frame:
        return gpd.GeoSeries([], crs="EPSG:4326")
    return _wkt(frame["geometry_wkt"])


def _quarantine(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    frame = tables.get("quarantine_locations")
    if frame is None:
        return pd.DataFrame(columns=["form", "submission_id", "runner_id", "reasons", "latitude", "longitude", "line_wkt"])
    return frame.reset_index(drop=True)


MAX_MAP_POINTS = 20_000
"""Beyond this many points a map draws a fixed random sample of them: a page with a million SVG
circles would not open. The caption says how many are drawn; every row stays in the tables."""


def _thin(points: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """(rows to draw, how many households that is in words): all, or a seeded sample of MAX_MAP_POINTS."""
    if len(points) <= MAX_MAP_POINTS:
        return points, f"{len(points)}"
    drawn = points.sample(MAX_MAP_POINTS, random_state=0).sort_index().reset_index(drop=True)
    return drawn, f"{MAX_MAP_POINTS:,} (a random sample) of {len(points):,}"


def cookstove_map(tables: dict[str, pd.DataFrame], width: int = 960) -> MapFigure | None:
    """Households with a registered stove (colour = stove model, ring = in the usage sample) and
    quarantined submissions (red ×) within the project boundary."""
    stoves = tables.get("stove_distribution")
    if stoves is None or not {"latitude", "longitude"} <= set(stoves.columns):
        return None
    stoves = _with(stoves.reset_index(drop=True), stove_model="stove", stove_serial="", household_id="",
                   commissioned_on="")
    stoves, shown = _thin(stoves)
    quarantine, _ = _thin(_quarantine(tables))
    visits = _visits(tables)
    data = MapData({"boundary": _boundary(tables), "stoves": _points(stoves), "quarantine": _points(quarantine),
                    "visits": _points(visits)})
    bounds = data.bounds(["boundary", "stoves", "quarantine"])
    if bounds is None:
        return None
    canvas = Canvas.fit(bounds, width)
    models = _categories(stoves["stove_model"])
    sample = tables.get("usage_sample")
    visited = sample.loc[sample["counted"].astype(bool), "stove_serial"].astype(str) \
        if sample is not None and {"counted", "stove_serial"} <= set(sample.columns) else []
    ring = isin(stoves["stove_serial"].astype(str), visited).tolist()
    titles = [f"{r.stove_serial} ({r.stove_model}), household {r.household_id}, commissioned {str(r.commissioned_on)[:10]}"
              for r in stoves.itertuples(index=False)]
    out = _svg_open(canvas, "Map of households with stoves and quarantined submissions")
    out.append(_polygons(data.layers["boundary"], canvas, fill="#2f7d32", stroke=BOUNDARY_COLOUR, width=1.8,
                         dash="7 4", opacity=0.07, titles=["project boundary"] * len(data.layers["boundary"])))
    out.append(_dots(data.layers["stoves"], canvas, [models[str(m)] for m in stoves["stove_model"]], radius=3.2,
                     titles=titles, ring=ring))
    out.append(_crosses(data.layers["quarantine"], canvas, size=4.5, titles=_quarantine_titles(quarantine)))
    out.append(_visit_marks(data.layers["visits"], canvas, visits["visit_no"].tolist()))
    out.append(_scale_bar_and_north(canvas))
    out.append("</svg>")
    counts = stoves["stove_model"].astype(str).value_counts()
    legend = [("project boundary", BOUNDARY_COLOUR, "dashed")]
    legend += [(f"stove {m} ({counts.get(m, 0)})", c, "dot") for m, c in models.items()]
    legend += [(f"in the usage sample ({sum(ring)})", INK, "ring"),
               (f"quarantined submission ({len(quarantine)})", QUARANTINE_COLOUR, "cross")]
    if len(visits):
        legend.append((f"site-visit sample ({len(visits)})", VISIT_COLOUR, "diamond"))
    caption = (f"{shown} households with an accepted stove registration; {sum(ring)} of the drawn ones counted in "
               f"the usage sample; {len(quarantine)} quarantined submissions that had coordinates. UTM projection "
               f"({data.crs.name if data.crs else ''}); hover a point for its id.")
    return MapFigure("".join(out), legend, caption, [])


def tree_maps(tables: dict[str, pd.DataFrame], width: int = 960, panels: int = 4) -> MapFigure | None:
    """Plots, bund lines and tagged trees (colour = species, grey = dead or not found at the latest
    visit), quarantined submissions (red ×); plus zoomed panels of the plots with most findings."""
    plantings = tables.get("tree_planting")
    plots = tables.get("plots")
    if plantings is None or plots is None:
        return None
    plantings = _with(plantings.reset_index(drop=True), tree_id="", species_code="tree", plot_id="")
    plantings, _ = _thin(plantings)
    plots = _with(plots.reset_index(drop=True), plot_id="", area_ha=math.nan, planting_units=0, units_per_ha=math.nan,
                  density_above_limit=False)
    if "geometry_wkt" not in plots:
        return None
    bunds = tables.get("bund_plantation", pd.DataFrame())
    bunds = _with(bunds, bund_line_wkt=None, species_code="bund", latest_visit=True, bund_id="", plot_id="",
                  saplings_alive=0, saplings_planted=0)
    bunds = bunds[bunds["latest_visit"].astype(bool)].reset_index(drop=True)
    quarantine, _ = _thin(_quarantine(tables))
    survival = tables.get("tree_survival")
    status = {}
    if survival is not None and not survival.empty and {"latest_visit", "tree_id", "status"} <= set(survival.columns):
        latest = survival[survival["latest_visit"].astype(bool)]
        status = dict(zip(latest["tree_id"].astype(str), latest["status"].astype(str)))
    q_lines = quarantine["line_wkt"] if "line_wkt" in quarantine else pd.Series([], dtype="object")
    visits = _visits(tables)
    data = MapData({"boundary": _boundary(tables), "plots": _wkt(plots["geometry_wkt"]),
                    "bunds": _wkt(bunds["bund_line_wkt"]), "trees": _points(plantings),
                    "quarantine": _points(quarantine), "quarantine_lines": _wkt(q_lines), "visits": _points(visits)})
    bounds = data.bounds(["boundary", "plots", "trees", "quarantine", "bunds"])
    if bounds is None:
        return None
    species = _categories(pd.concat([plantings["species_code"], bunds["species_code"]], ignore_index=True))
    tree_fill = [DEAD_COLOUR if status.get(str(t)) in ("dead", "not_found") else species[str(s)]
                 for t, s in zip(plantings["tree_id"], plantings["species_code"])]
    tree_titles = [f"tree {r.tree_id} ({r.species_code}), plot {r.plot_id}: {status.get(str(r.tree_id), 'no visit in period')}"
                   for r in plantings.itertuples(index=False)]
    bund_titles = [f"bund {r.bund_id} ({r.species_code}), plot {r.plot_id}: {r.saplings_alive} of {r.saplings_planted} alive"
                   for r in bunds.itertuples(index=False)]
    plot_titles = [f"plot {r.plot_id}: {r.area_ha:.2f} ha, {r.planting_units} planting units ({r.units_per_ha:.0f}/ha)"
                   for r in plots.itertuples(index=False)]
    dense = plots["density_above_limit"].fillna(False).astype(bool).to_numpy()

    def draw(canvas: Canvas, radius: float, cross: float, line: float, label: str) -> str:
        out = _svg_open(canvas, label)
        out.append(_polygons(data.layers["boundary"], canvas, fill="#2f7d32", stroke=BOUNDARY_COLOUR, width=1.8,
                             dash="7 4", opacity=0.06, titles=["project boundary"] * len(data.layers["boundary"])))
        for flag, stroke in ((False, PLOT_COLOUR), (True, DENSITY_COLOUR)):
            keep = dense == flag
            out.append(_polygons(data.layers["plots"][keep], canvas, fill=PLOT_COLOUR, stroke=stroke,
                                 width=1.6 if flag else 1.0, opacity=0.16,
                                 titles=[t for t, k in zip(plot_titles, keep) if k]))
        if canvas.metres_per_px > 4:
            out.append(_plot_markers(data.layers["plots"], canvas, plots["plot_id"].astype(str).tolist(), dense))
        out.append(_lines(data.layers["bunds"], canvas, [species[str(s)] for s in bunds["species_code"]], width=line,
                          titles=bund_titles))
        out.append(_lines(data.layers["quarantine_lines"], canvas, [QUARANTINE_COLOUR] * len(quarantine), width=line * 0.8,
                          dash="4 3"))
        out.append(_dots(data.layers["trees"], canvas, tree_fill, radius=radius, titles=tree_titles))
        out.append(_crosses(data.layers["quarantine"], canvas, size=cross, titles=_quarantine_titles(quarantine)))
        out.append(_visit_marks(data.layers["visits"], canvas, visits["visit_no"].tolist()))
        out.append(_scale_bar_and_north(canvas))
        out.append("</svg>")
        return "".join(out)

    overview = draw(Canvas.fit(bounds, width), 2.4, 4.5, 2.2, "Map of plots, bunds, trees and quarantined submissions")

    details = []
    if panels and len(plots):
        plot_geoms = data.layers["plots"]
        q_points = data.layers["quarantine"]
        near = [int(q_points.distance(g).lt(60).sum()) if len(q_points) else 0 for g in plot_geoms]
        ranking = pd.DataFrame({"i": range(len(plots)), "near": near,
                                "units": plots["planting_units"].to_numpy(), "id": plots["plot_id"].astype(str)})
        chosen = ranking.sort_values(["near", "units", "id"], ascending=[False, False, True]).head(panels)
        panel_width = max(220, (width - 12 * (panels - 1)) // panels)
        for row in chosen.itertuples(index=False):
            geometry = plot_geoms.iloc[row.i]
            canvas = Canvas.fit(tuple(geometry.buffer(25).bounds), panel_width, min_height=200, max_height=260, pad=0.02)
            p = plots.iloc[row.i]
            title = (f"plot {p['plot_id']}: {p['area_ha']:.2f} ha, {int(p['planting_units'])} units "
                     f"({p['units_per_ha']:.0f}/ha), {row.near} quarantined nearby")
            details.append((title, draw(canvas, 3.6, 5.0, 3.2, f"Plot {p['plot_id']} in detail")))

    legend = [("project boundary", BOUNDARY_COLOUR, "dashed"), ("plot", PLOT_COLOUR, "area"),
              ("plot above 50 units/ha", DENSITY_COLOUR, "area")]
    legend += [(f"{code} tree / bund", c, "dot") for code, c in species.items()]
    legend += [("dead or not found at latest visit", DEAD_COLOUR, "dot"),
               (f"quarantined submission ({len(quarantine)})", QUARANTINE_COLOUR, "cross")]
    if len(visits):
        legend.append((f"site-visit sample ({len(visits)})", VISIT_COLOUR, "diamond"))
    caption = (f"{len(plots)} plots, {len(bunds)} bunds (latest visit in the period), {len(plantings)} tagged trees, "
               f"{len(quarantine)} quarantined submissions with coordinates. UTM projection "
               f"({data.crs.name if data.crs else ''}); hover a feature for its id.")
    return MapFigure(overview, legend, caption, details)
