"""Synthetic field data: true survey data, injected faults, and real KoboToolbox / ODK Central exports.

Everything is derived from a seed, so the bundled sample projects under ``data/projects/`` regenerate
byte for byte (``python -m pipelines.synth``). The generators are columnar (numpy arrays and pandas
column operations, no Python loop over survey rows), so the same code makes million-row batches.

Three layers, each usable on its own:

1. **Truth** — ``make_*`` return what really happened, one typed DataFrame per form in a canonical
   shape: the question names of ``contracts/forms.md`` as columns; a geopoint ``q`` as ``q_latitude``,
   ``q_longitude``, ``q_altitude``, ``q_accuracy`` (degrees, m, m); ``start`` / ``end`` as local (IST)
   datetimes; dates as datetimes at midnight; plus the submission's ``submission_id`` (UUID),
   ``submitted_at`` (UTC), ``submitter_id`` and ``submitter_name``. Repeat rows carry
   ``submission_id`` and ``repeat_index`` (1-based).
2. **Submissions** — :func:`to_submissions` turns truth into the strings a phone sends for the
   XLSForm in ``schemas/forms/``; :func:`inject_faults` then damages chosen submissions, each fault
   tied to a reason code of the data-quality table in ``contracts/pipeline.md``, and returns the
   ground truth as a table (it never goes into an export).
3. **Exports** — :func:`kobo_tables` / :func:`odk_tables` lay submissions out the way KoboToolbox
   (formpack) and ODK Central (briefcase CSV) do; ``write_kobo_csv``, ``write_kobo_xlsx``,
   ``write_odk_csv`` and ``write_odk_zip`` write the files.

Coordinates are WGS 84 (EPSG:4326). Distances are computed on a local equirectangular grid around the
project (:class:`LocalGrid`), accurate to well under 0.1 % over a 20 km project.
"""

from __future__ import annotations

import argparse
import csv
import functools
import hashlib
import io
import json
import re
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

REPO_ROOT = Path(__file__).resolve().parents[1]
FORMS_DIR = REPO_ROOT / "schemas" / "forms"
PROJECTS_DIR = REPO_ROOT / "data" / "projects"

EARTH_RADIUS_M = 6_371_008.8
IST_OFFSET = pd.Timedelta(hours=5, minutes=30)
FUTURE_YEAR = 2031
# Every zip entry (ODK zips, XLSX workbooks) gets this timestamp so that files are byte-identical.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
XLSX_TIMESTAMP = "2024-01-01T00:00:00Z"

REASON_KIND = {
    "missing_required": "quarantine",
    "bad_value": "quarantine",
    "wrong_project": "quarantine",
    "no_gps": "quarantine",
    "outside_boundary": "quarantine",
    "future_date": "quarantine",
    "unknown_stove": "quarantine",
    "unknown_tree": "quarantine",
    "duplicate_stove": "quarantine",
    "duplicate_tree": "quarantine",
    "duplicate_submission": "ignored",
    "low_gps_accuracy": "warning",
    "short_interview": "warning",
    "runner_too_fast": "warning",
    "photo_reused": "warning",
    "repeat_visit": "warning",
}
FAULT_COLUMNS = [
    "export", "form", "submission_id", "reason", "kind", "fault", "question", "repeat_index",
    "related_submission_id", "detail",
]

KOBO_SYSTEM_COLUMNS = [
    "_id", "_uuid", "_submission_time", "_validation_status", "_notes", "_status", "_submitted_by",
    "__version__", "_tags", "_index",
]
KOBO_REPEAT_COPY_FIELDS = [
    "_id", "_uuid", "_submission_time", "_validation_status", "_notes", "_status", "_submitted_by",
    "__version__", "_tags",
]
ODK_TRAILER_COLUMNS = [
    "KEY", "SubmitterID", "SubmitterName", "AttachmentsPresent", "AttachmentsExpected", "Status",
    "ReviewState", "DeviceID", "Edits", "FormVersion",
]


# ---------------------------------------------------------------------------------------------
# XLSForm layout


@dataclass(frozen=True)
class Question:
    """One question of an XLSForm: its name, type, and the groups that enclose it (outermost first).

    Only what decides export columns; the pipeline's own form reader handles `required`,
    `relevant` and `constraint`.
    """

    name: str
    type: str
    groups: tuple[str, ...] = ()
    repeat: str | None = None


@dataclass(frozen=True)
class FormLayout:
    """What an export's columns are made of: the XLSForm's questions, groups and settings."""

    form_id: str
    title: str
    version: str
    questions: tuple[Question, ...]

    @property
    def repeats(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(q.repeat for q in self.questions if q.repeat))

    def fields(self, repeat: str | None = None) -> list[Question]:
        """Questions of the main table (``repeat=None``) or of one repeat, in form order."""
        return [q for q in self.questions if q.repeat == repeat]

    def question(self, name: str) -> Question:
        return next(q for q in self.questions if q.name == name)


def read_xlsform(path: str | Path) -> FormLayout:
    """Read the survey and settings sheets of an XLSForm file."""
    sheets = pd.read_excel(path, sheet_name=["survey", "settings"], dtype=str)
    survey = sheets["survey"].fillna("")
    settings = sheets["settings"].fillna("").iloc[0]
    questions: list[Question] = []
    stack: list[tuple[str, bool]] = []  # (name, is_repeat)
    # The survey sheet is the form definition (tens of rows), not survey data.
    for row in survey.itertuples(index=False):
        kind = re.sub(r"\s+", "_", row.type.strip())
        if kind in ("begin_group", "begin_repeat"):
            stack.append((row.name.strip(), kind == "begin_repeat"))
        elif kind in ("end_group", "end_repeat"):
            stack.pop()
        elif kind and row.name.strip():
            repeats = [name for name, is_repeat in stack if is_repeat]
            questions.append(Question(
                name=row.name.strip(),
                type=row.type.split()[0],
                groups=tuple(name for name, _ in stack),
                repeat=repeats[-1] if repeats else None,
            ))
    return FormLayout(
        form_id=settings["form_id"].strip(),
        title=(settings.get("form_title", "") or settings["form_id"]).strip(),
        version=settings.get("version", "").strip(),
        questions=tuple(questions),
    )


@functools.cache
def load_form(form_id: str, forms_dir: Path = FORMS_DIR) -> FormLayout:
    """The project's XLSForm ``schemas/forms/<form_id>.xlsx``."""
    return read_xlsform(Path(forms_dir) / f"{form_id}.xlsx")


# ---------------------------------------------------------------------------------------------
# Geometry


@dataclass(frozen=True)
class LocalGrid:
    """Equirectangular metres (x east, y north) around a reference point."""

    lat0: float
    lon0: float

    @classmethod
    def around(cls, geom: shapely.Geometry) -> LocalGrid:
        c = geom.centroid
        return cls(lat0=c.y, lon0=c.x)

    def to_xy(self, lon, lat):
        k = np.cos(np.radians(self.lat0))
        x = np.radians(np.asarray(lon, dtype=float) - self.lon0) * EARTH_RADIUS_M * k
        y = np.radians(np.asarray(lat, dtype=float) - self.lat0) * EARTH_RADIUS_M
        return x, y

    def to_lonlat(self, x, y):
        k = np.cos(np.radians(self.lat0))
        lon = self.lon0 + np.degrees(np.asarray(x, dtype=float) / (EARTH_RADIUS_M * k))
        lat = self.lat0 + np.degrees(np.asarray(y, dtype=float) / EARTH_RADIUS_M)
        return lon, lat

    def project(self, geom):
        return shapely.transform(geom, lambda c: np.column_stack(self.to_xy(c[:, 0], c[:, 1])))

    def unproject(self, geom):
        return shapely.transform(geom, lambda c: np.column_stack(self.to_lonlat(c[:, 0], c[:, 1])))


def make_boundary(lat0: float, lon0: float, width_km: float, height_km: float, rng: np.random.Generator,
                  n_vertices: int = 44) -> shapely.Polygon:
    """An irregular, star-shaped project boundary of about ``width_km`` × ``height_km`` (lon/lat)."""
    theta = np.linspace(0.0, 2 * np.pi, n_vertices, endpoint=False)
    a, b = width_km * 500.0, height_km * 500.0
    r = a * b / np.hypot(b * np.cos(theta), a * np.sin(theta))
    k = np.arange(2, 6)[:, None]
    wobble = (rng.uniform(0.015, 0.05, (4, 1)) * np.cos(k * theta + rng.uniform(0, 2 * np.pi, (4, 1)))).sum(0)
    r = r * (1 + wobble + rng.normal(0, 0.006, n_vertices))
    grid = LocalGrid(lat0, lon0)
    lon, lat = grid.to_lonlat(r * np.cos(theta), r * np.sin(theta))
    return shapely.Polygon(np.column_stack([np.round(lon, 6), np.round(lat, 6)]))


def sample_points(polygons, rng: np.random.Generator, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One uniform random point in each polygon (or ``n`` points in one polygon), by rejection.

    Candidates are drawn in batches over each polygon's bounding box and kept when
    ``shapely.contains_xy`` says so; rejected rows are redrawn until every row has a point.
    Returns ``(lon, lat)``.
    """
    polys = np.full(n, polygons, dtype=object) if n is not None else np.asarray(polygons, dtype=object)
    shapely.prepare(polys)
    bounds = shapely.bounds(polys)
    lon = np.full(len(polys), np.nan)
    lat = np.full(len(polys), np.nan)
    todo = np.arange(len(polys))
    while todo.size:
        u = rng.random((todo.size, 2))
        bx = bounds[todo]
        x = bx[:, 0] + u[:, 0] * (bx[:, 2] - bx[:, 0])
        y = bx[:, 1] + u[:, 1] * (bx[:, 3] - bx[:, 1])
        ok = shapely.contains_xy(polys[todo], x, y)
        lon[todo[ok]], lat[todo[ok]] = x[ok], y[ok]
        todo = todo[~ok]
    return lon, lat


def sample_points_near(lon, lat, sigma_m: float, within: shapely.Polygon, rng: np.random.Generator,
                       grid: LocalGrid) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian scatter (``sigma_m``) around given points, redrawn until inside ``within``."""
    cx, cy = grid.to_xy(lon, lat)
    out_lon = np.full(len(cx), np.nan)
    out_lat = np.full(len(cx), np.nan)
    shapely.prepare(within)
    todo = np.arange(len(cx))
    while todo.size:
        x = cx[todo] + rng.normal(0, sigma_m, todo.size)
        y = cy[todo] + rng.normal(0, sigma_m, todo.size)
        plon, plat = grid.to_lonlat(x, y)
        ok = shapely.contains_xy(within, plon, plat)
        out_lon[todo[ok]], out_lat[todo[ok]] = plon[ok], plat[ok]
        todo = todo[~ok]
    return out_lon, out_lat


def push_outside(lon, lat, boundary: shapely.Polygon, rng: np.random.Generator,
                 min_m: float = 1500.0, max_m: float = 3500.0) -> tuple[np.ndarray, np.ndarray]:
    """Move points to ``min_m``–``max_m`` beyond the nearest edge of ``boundary``.

    Going out through the nearest edge keeps a moved point close to where the runner really was,
    so the move does not also make the runner look implausibly fast.
    """
    grid = LocalGrid.around(boundary)
    poly = grid.project(boundary)
    ring = poly.exterior
    x, y = grid.to_xy(lon, lat)
    pts = shapely.points(x, y)
    edge = shapely.line_interpolate_point(ring, shapely.line_locate_point(ring, pts))
    ex, ey = shapely.get_x(edge), shapely.get_y(edge)
    dx, dy = ex - x, ey - y
    norm = np.hypot(dx, dy)
    cx, cy = poly.centroid.x, poly.centroid.y
    radial = norm < 1.0
    dx = np.where(radial, ex - cx, dx)
    dy = np.where(radial, ey - cy, dy)
    norm = np.hypot(dx, dy)
    out_x = np.empty(len(x))
    out_y = np.empty(len(x))
    todo = np.arange(len(x))
    shapely.prepare(poly)
    while todo.size:
        d = rng.uniform(min_m, max_m, todo.size)
        nx = ex[todo] + dx[todo] / norm[todo] * d
        ny = ey[todo] + dy[todo] / norm[todo] * d
        ok = shapely.distance(poly, shapely.points(nx, ny)) >= 0.8 * min_m
        out_x[todo[ok]], out_y[todo[ok]] = nx[ok], ny[ok]
        todo = todo[~ok]
    return grid.to_lonlat(out_x, out_y)


def make_plots(boundary: shapely.Polygon, n_plots: int, rng: np.random.Generator, *,
               area_ha: tuple[float, float] = (0.6, 1.9), inset_m: float = 400.0,
               spacing_m: float = 480.0) -> pd.DataFrame:
    """Non-overlapping rectangular farm plots (``plot_id``, ``farmer_id``, ``area_ha``, ``geometry``).

    Plots sit on a jittered grid whose spacing exceeds twice a plot's half-diagonal, so they never
    overlap, and lie at least ``inset_m`` inside the boundary.
    """
    grid = LocalGrid.around(boundary)
    inner = grid.project(boundary).buffer(-inset_m)
    minx, miny, maxx, maxy = inner.bounds
    gx, gy = np.meshgrid(np.arange(minx, maxx, spacing_m), np.arange(miny, maxy, spacing_m))
    cx = gx.ravel() + rng.uniform(-50, 50, gx.size)
    cy = gy.ravel() + rng.uniform(-50, 50, gy.size)
    area = rng.uniform(*area_ha, cx.size) * 10_000.0
    aspect = rng.uniform(1.0, 1.8, cx.size)
    w = np.sqrt(area * aspect)
    h = area / w
    ang = rng.uniform(0, np.pi, cx.size)
    sx = np.array([-0.5, 0.5, 0.5, -0.5, -0.5])
    sy = np.array([-0.5, -0.5, 0.5, 0.5, -0.5])
    lx, ly = w[:, None] * sx, h[:, None] * sy
    px = cx[:, None] + lx * np.cos(ang)[:, None] - ly * np.sin(ang)[:, None]
    py = cy[:, None] + lx * np.sin(ang)[:, None] + ly * np.cos(ang)[:, None]
    polys = shapely.polygons(np.stack([px, py], axis=-1))
    keep = np.flatnonzero(shapely.within(polys, inner))
    if keep.size < n_plots:
        raise ValueError(f"the boundary holds only {keep.size} plots, {n_plots} asked for")
    chosen = np.sort(rng.choice(keep, n_plots, replace=False))
    # Number plots like a map: north to south, then west to east.
    chosen = chosen[np.lexsort((cx[chosen], -np.round(cy[chosen], -2)))]
    geoms = grid.unproject(polys[chosen])
    geoms = shapely.set_precision(geoms, 1e-6)
    owner = np.minimum(np.arange(n_plots) - (rng.random(n_plots) < 0.2), n_plots - 1).clip(0)
    return pd.DataFrame({
        "plot_id": "P" + _zfill(np.arange(1, n_plots + 1), 3),
        "farmer_id": "F" + _zfill(owner + 1, 3),
        "area_ha": np.round(shapely.area(grid.project(geoms)) / 10_000.0, 3),
        "geometry": geoms,
    })


# ---------------------------------------------------------------------------------------------
# Small vectorised helpers


def stage_rng(seed: int, stage: str) -> np.random.Generator:
    """An independent generator per stage, so changing one stage does not reshuffle the others."""
    return np.random.default_rng([seed, zlib.crc32(stage.encode())])


def _zfill(values, width: int) -> pd.Series:
    return pd.Series(np.asarray(values)).astype("string").str.zfill(width)


def _uuid4(rng: np.random.Generator, n: int) -> np.ndarray:
    b = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    b[:, 6] = (b[:, 6] & 0x0F) | 0x40
    b[:, 8] = (b[:, 8] & 0x3F) | 0x80
    s = pd.Series(np.frombuffer(b.tobytes().hex().encode(), dtype="S32").astype(str), dtype="string")
    return (s.str[0:8] + "-" + s.str[8:12] + "-" + s.str[12:16] + "-" + s.str[16:20] + "-"
            + s.str[20:32]).to_numpy(dtype=object)


def _token(text: str, n: int, alphabet: str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") -> str:
    """A stable pseudo-random token derived from ``text`` (for ids a server would assign)."""
    digest = hashlib.sha256(text.encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:n])


def _fmt(values, decimals: int) -> pd.Series:
    """Numbers as the strings a phone writes (rounded; blank for NaN)."""
    return pd.Series(np.round(np.asarray(values, dtype=float), decimals)).astype("string")


def _iso_local(ts: pd.Series) -> pd.Series:
    """Local (IST) datetimes as ODK Collect writes ``start``/``end``: ``2024-03-05T10:12:33.123+05:30``."""
    ms = _zfill((ts.dt.microsecond // 1000).fillna(0).astype(int), 3)
    out = ts.dt.strftime("%Y-%m-%dT%H:%M:%S").astype("string") + "." + ms.to_numpy() + "+05:30"
    return out.where(ts.notna())


def _parse_local(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s.str[:23], format="%Y-%m-%dT%H:%M:%S.%f").astype("datetime64[ms]")


def _cumcount(keys) -> np.ndarray:
    keys = pd.Series(np.asarray(keys))
    return keys.groupby(keys, sort=False).cumcount().to_numpy()


def _workdays(first: str, last: str) -> np.ndarray:
    days = np.arange(np.datetime64(first, "D"), np.datetime64(last, "D") + 1)
    # 1970-01-01 was a Thursday: (days + 3) % 7 == 6 is a Sunday, the runners' day off.
    return days[(days.astype(np.int64) + 3) % 7 != 6]


def _assign_days(runner: np.ndarray, n_days: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    """A work-day index per unit such that no runner has more than ``cap`` units on one day."""
    n_runners = int(runner.max()) + 1 if runner.size else 0
    if runner.size > n_runners * n_days * cap or np.bincount(runner, minlength=n_runners).max() > n_days * cap:
        raise ValueError("not enough runner-days for the requested rows; add runners or widen the window")
    day = rng.integers(0, n_days, runner.size)
    while True:
        over = _cumcount(runner.astype(np.int64) * n_days + day) >= cap
        if not over.any():
            return day
        day[over] = rng.integers(0, n_days, int(over.sum()))


def _times(days: np.ndarray, slot: np.ndarray, spacing_min: float, jitter_min: float,
           duration_min: tuple[float, float, float], rng: np.random.Generator) -> tuple[pd.Series, pd.Series]:
    """``start`` and ``end`` (local) for rows at ``slot`` of their work day; durations are log-normal
    with the given median and clipped to (low, high) minutes."""
    median, low, high = duration_min
    offset_s = 8 * 3600 + slot * spacing_min * 60 + rng.uniform(0, jitter_min * 60, slot.size)
    start = days.astype("datetime64[ms]") + np.round(offset_s * 1000).astype(np.int64).astype("timedelta64[ms]")
    dur_s = np.clip(median * np.exp(rng.normal(0, 0.35, slot.size)), low, high) * 60
    end = start + np.round(dur_s * 1000).astype(np.int64).astype("timedelta64[ms]")
    return pd.Series(start), pd.Series(end)


def _submitted_at(end: pd.Series, rng: np.random.Generator) -> pd.Series:
    """Server receipt time (UTC): phones sync from ten minutes to three days after the interview."""
    delay_s = np.exp(rng.uniform(np.log(600), np.log(3 * 86400), len(end)))
    return (end - IST_OFFSET + pd.to_timedelta(np.round(delay_s * 1000), unit="ms")).astype("datetime64[ms]")


def _photo_names(end: pd.Series, rng: np.random.Generator) -> pd.Series:
    """ODK Collect names a photo after the epoch milliseconds at which it was taken."""
    ms = (end - IST_OFFSET).to_numpy().astype("datetime64[ms]").astype(np.int64) - rng.integers(5_000, 120_000, len(end))
    ms = ms + _cumcount(ms)
    return pd.Series(ms).astype("string") + ".jpg"


def _accuracy(rng: np.random.Generator, n: int) -> np.ndarray:
    """Typical phone GPS accuracy, m (2–25)."""
    return np.round(np.clip(2.0 + rng.gamma(2.0, 2.2, n), 2.0, 25.0), 1)


def _choice(rng: np.random.Generator, options: Mapping[str, float], n: int) -> np.ndarray:
    keys = np.array(list(options), dtype=object)
    p = np.array(list(options.values()), dtype=float)
    return keys[rng.choice(len(keys), n, p=p / p.sum())]


# ---------------------------------------------------------------------------------------------
# Field teams


@dataclass(frozen=True)
class Team:
    """Field runners, each with one phone and one server account."""

    runner_id: np.ndarray
    deviceid: np.ndarray
    submitter_id: np.ndarray
    submitter_name: np.ndarray

    def __len__(self) -> int:
        return len(self.runner_id)


def make_team(first_number: int, n: int, rng: np.random.Generator) -> Team:
    """Runners ``R<first_number>`` … with ODK Collect device ids ``collect:<16 chars>``."""
    numbers = np.arange(first_number, first_number + n)
    alphabet = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
    chars = np.ascontiguousarray(alphabet[rng.integers(0, alphabet.size, (n, 16))])
    runner_id = ("R" + _zfill(numbers, 3)).to_numpy(dtype=object)
    return Team(
        runner_id=runner_id,
        deviceid=("collect:" + pd.Series(chars.view("<U16").ravel())).to_numpy(dtype=object),
        submitter_id=numbers + 100,
        submitter_name=(pd.Series(runner_id) + " phone").to_numpy(dtype=object),
    )


def _meta_frame(runner: np.ndarray, start: pd.Series, end: pd.Series, team: Team,
                rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame({
        "submission_id": _uuid4(rng, len(runner)),
        "submitted_at": _submitted_at(end, rng),
        "submitter_id": team.submitter_id[runner],
        "submitter_name": team.submitter_name[runner],
        "start": start,
        "end": end,
        "deviceid": team.deviceid[runner],
        "runner_id": team.runner_id[runner],
    })


# ---------------------------------------------------------------------------------------------
# True data


FIRST_NAMES = np.array([
    "Sunita", "Rekha", "Kamla", "Savitri", "Geeta", "Radha", "Meena", "Pushpa", "Shanti", "Asha",
    "Lakshmi", "Kavita", "Sarita", "Anita", "Manju", "Urmila", "Sushila", "Rani", "Sita", "Parvati",
], dtype=object)
SURNAMES = np.array([
    "Ahirwar", "Yadav", "Kushwaha", "Lodhi", "Meena", "Patel", "Rajput", "Gond", "Bhil", "Sahu",
    "Prajapati", "Verma", "Thakur", "Malviya", "Jatav", "Kewat",
], dtype=object)
MAIN_FUEL = {"firewood": 0.72, "crop_residue": 0.11, "dung": 0.09, "charcoal": 0.01, "lpg": 0.05,
             "electricity": 0.005, "other": 0.015}
# D = a · age^0.9 · vigour (cm, age in years) and H = 1.3 + b · D^0.8 (m): illustrative early growth
# on farm land (Melia dubia fastest, teak and neem slower), tuned so that D is 3–9 cm one year on
# and H–D pairs resemble the worked examples of shared/methodology/arr_methodology.md §7.
GROWTH = {"MEDU": (5.2, 1.10), "TEGR": (3.9, 0.78), "AZIN": (3.0, 0.68)}
GBH_BLANK_BELOW_CM = 3.5  # runners leave girth blank when the stem is too thin to tape at 1.37 m


def make_stove_distribution(n: int, *, project_id: str, boundary: shapely.Polygon, rng: np.random.Generator,
                            first_day: str, last_day: str, models: Mapping[str, float], team: Team,
                            n_villages: int = 18, per_day: int = 12) -> pd.DataFrame:
    """Stoves handed over to households clustered in villages, one row per submission."""
    grid = LocalGrid.around(boundary)
    inner = grid.project(boundary).buffer(-60.0)
    inner_ll = grid.unproject(inner)
    vlon, vlat = sample_points(grid.unproject(inner.buffer(-700.0)), rng, n=n_villages)
    village = rng.choice(n_villages, n, p=rng.dirichlet(np.full(n_villages, 4.0)))
    runner_of_village = rng.permutation(np.arange(n_villages) % len(team))
    runner = runner_of_village[village]
    lon, lat = sample_points_near(vlon[village], vlat[village], 350.0, inner_ll, rng, grid)

    workdays = _workdays(first_day, last_day)
    day = _assign_days(runner, workdays.size, per_day, rng)
    slot = _cumcount(runner.astype(np.int64) * workdays.size + day)
    start, end = _times(workdays[day], slot, 40.0, 10.0, (9.0, 4.0, 25.0), rng)

    df = _meta_frame(runner, start, end, team, rng)
    width = max(6, len(str(2 * n)))
    # Serials start with 1–8, so "ACM24-9…" was never issued (the unknown_stove fault uses that).
    serial_numbers = rng.choice(8 * 10 ** (width - 1), n, replace=False) + 10 ** (width - 1)
    df["project_id"] = project_id
    df["household_id"] = ("HH-V" + _zfill(village + 1, 2) + "-" + _zfill(_cumcount(village) + 1, 4)).to_numpy()
    df["respondent_name"] = FIRST_NAMES[rng.integers(0, FIRST_NAMES.size, n)] + " " + SURNAMES[rng.integers(0, SURNAMES.size, n)]
    df["phone"] = (pd.Series(rng.integers(6, 10, n)).astype("string") + _zfill(rng.integers(0, 10**9, n), 9)).to_numpy()
    df["location_latitude"] = lat
    df["location_longitude"] = lon
    df["location_altitude"] = np.round(rng.normal(505.0, 12.0, n), 1)
    df["location_accuracy"] = _accuracy(rng, n)
    df["stove_serial"] = ("ACM24-" + _zfill(serial_numbers, width)).to_numpy()
    df["stove_model"] = _choice(rng, models, n)
    df["commissioned_on"] = pd.Series(workdays[day]).astype("datetime64[s]")
    df["consent_carbon_rights"] = "yes"
    df["photo_stove"] = _photo_names(end, rng).to_numpy()
    return df.sort_values("start", kind="stable").reset_index(drop=True)


def make_cookstove_usage(distribution: pd.DataFrame, n_visits: int, *, rng: np.random.Generator,
                         first_day: str, last_day: str, team: Team, per_day: int = 12,
                         p_found: float = 0.95, p_in_use: float = 0.86) -> pd.DataFrame:
    """Monitoring visits to ``n_visits`` distinct stoves of ``distribution`` (one visit each)."""
    d = distribution.iloc[np.sort(rng.choice(len(distribution), n_visits, replace=False))].reset_index(drop=True)
    runner = pd.Index(team.runner_id).get_indexer(d["runner_id"])
    workdays = _workdays(first_day, last_day)
    day = _assign_days(runner, workdays.size, per_day, rng)
    slot = _cumcount(runner.astype(np.int64) * workdays.size + day)
    start, end = _times(workdays[day], slot, 40.0, 10.0, (7.0, 3.0, 20.0), rng)
    df = _meta_frame(runner, start, end, team, rng)
    n = len(d)
    grid = LocalGrid(float(d["location_latitude"].mean()), float(d["location_longitude"].mean()))
    x, y = grid.to_xy(d["location_longitude"], d["location_latitude"])
    lon, lat = grid.to_lonlat(x + rng.normal(0, 4.0, n), y + rng.normal(0, 4.0, n))

    found = rng.random(n) < p_found
    condition = np.where(found, _choice(rng, {"good": 0.8, "needs_repair": 0.15, "broken": 0.05}, n), None)
    in_use = found & (rng.random(n) < p_in_use) & (condition != "broken")
    days_used = np.where(in_use, np.clip(8 - rng.geometric(0.45, n), 1, 7), 0)

    df["project_id"] = d["project_id"].to_numpy()
    df["household_id"] = d["household_id"].to_numpy()
    df["household_size"] = pd.array(np.clip(1 + rng.binomial(12, 0.33, n), 1, 30), dtype="Int64")
    df["main_fuel"] = _choice(rng, MAIN_FUEL, n)
    df["stove_serial"] = d["stove_serial"].to_numpy()
    df["visit_date"] = pd.Series(workdays[day]).astype("datetime64[s]")
    df["stove_found"] = np.where(found, "yes", "no")
    df["stove_in_use"] = pd.array(np.where(found, np.where(in_use, "yes", "no"), None), dtype="string")
    df["days_used_last_7"] = pd.Series(days_used, dtype="Int64").where(found)
    df["baseline_stove_in_use"] = np.where(rng.random(n) < 0.4, "yes", "no")
    df["stove_condition"] = pd.array(condition, dtype="string")
    df["location_latitude"] = lat
    df["location_longitude"] = lon
    df["location_altitude"] = np.round(d["location_altitude"].to_numpy() + rng.normal(0, 3.0, n), 1)
    df["location_accuracy"] = _accuracy(rng, n)
    df["photo_stove"] = _photo_names(end, rng).where(found).to_numpy()
    return df.sort_values("start", kind="stable").reset_index(drop=True)


def _plot_schedule(plot_idx: np.ndarray, n_plots: int, team: Team, first_day: str, last_day: str,
                   spacing_min: float, duration_min: tuple[float, float, float],
                   rng: np.random.Generator) -> tuple[np.ndarray, pd.Series, pd.Series]:
    """One runner works one plot per day and goes tree by tree; returns runner, start, end per row."""
    workdays = _workdays(first_day, last_day)
    runner_of_plot = rng.integers(0, len(team), n_plots)
    day_of_plot = _assign_days(runner_of_plot, workdays.size, 1, rng)
    order = rng.permutation(plot_idx.size)
    slot = np.empty(plot_idx.size, dtype=np.int64)
    slot[order] = _cumcount(plot_idx[order])
    start, end = _times(workdays[day_of_plot[plot_idx]], slot, spacing_min, 2.0, duration_min, rng)
    return runner_of_plot[plot_idx], start, end


def make_tree_planting(plots: pd.DataFrame, n_trees: int, *, project_id: str, rng: np.random.Generator,
                       first_day: str, last_day: str, team: Team, species: Mapping[str, float]) -> pd.DataFrame:
    """The t = 0 census: one row per tagged tree, planted plot by plot.

    The truth keeps a per-tree ``vigour`` factor (not a question) that drives later growth.
    """
    n_plots = len(plots)
    area = plots["area_ha"].to_numpy()
    plot_idx = np.sort(np.concatenate([np.arange(n_plots), rng.choice(n_plots, n_trees - n_plots, p=area / area.sum())]))
    dominant = _choice(rng, species, n_plots)[plot_idx]
    other = _choice(rng, species, n_trees)
    sp = np.where(rng.random(n_trees) < 0.85, dominant, other)
    shrunk = shapely.buffer(plots["geometry"].to_numpy(), -3e-5)[plot_idx]  # one buffer per plot, not per tree
    lon, lat = sample_points(shrunk, rng)
    runner, start, end = _plot_schedule(plot_idx, n_plots, team, first_day, last_day, 10.0, (3.0, 1.5, 6.0), rng)
    df = _meta_frame(runner, start, end, team, rng)
    df["project_id"] = project_id
    df["plot_id"] = plots["plot_id"].to_numpy()[plot_idx]
    df["tree_id"] = ("T" + _zfill(np.arange(1, n_trees + 1), 4)).to_numpy()
    df["species_code"] = sp
    df["planted_on"] = pd.Series(start.dt.normalize()).astype("datetime64[s]")
    df["location_latitude"] = lat
    df["location_longitude"] = lon
    df["location_altitude"] = np.round(rng.normal(585.0, 8.0, n_trees), 1)
    df["location_accuracy"] = _accuracy(rng, n_trees)
    df["photo_tree"] = _photo_names(end, rng).to_numpy()
    df["vigour"] = np.round(np.exp(np.clip(rng.normal(0.0, 0.15, n_trees), -0.3, 0.3)), 3)
    return df.sort_values("start", kind="stable").reset_index(drop=True)


def _size(species: np.ndarray, age_years: np.ndarray, vigour: np.ndarray,
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(D cm, H m) of young trees from the illustrative growth curves in ``GROWTH``."""
    a = np.array([GROWTH[s][0] for s in GROWTH])[pd.Index(list(GROWTH)).get_indexer(species)]
    b = np.array([GROWTH[s][1] for s in GROWTH])[pd.Index(list(GROWTH)).get_indexer(species)]
    d = np.maximum(a * np.power(np.maximum(age_years, 0.05), 0.9) * vigour, 0.5)
    h = (1.3 + b * np.power(d, 0.8)) * rng.normal(1.0, 0.06, d.size)
    return d, h


def make_tree_survival(planting: pd.DataFrame, plots: pd.DataFrame, *, rng: np.random.Generator,
                       first_day: str, last_day: str, team: Team, previous: pd.DataFrame | None = None,
                       visit_share: float = 0.97, p_height_blank: float = 0.02) -> pd.DataFrame:
    """A re-enumeration of the tagged trees in ``planting`` (``visit_share`` of them are found to visit).

    Status follows ``previous`` (the last period's visits): dead trees stay dead or are not found,
    live ones die at a low rate. Girth and height grow with age; girth is blank for stems thinner
    than ``GBH_BLANK_BELOW_CM``, height blank for a few trees.
    """
    trees = planting.loc[rng.random(len(planting)) < visit_share].reset_index(drop=True)
    n = len(trees)
    plot_pos = pd.Index(plots["plot_id"]).get_indexer(trees["plot_id"])
    runner, start, end = _plot_schedule(plot_pos, len(plots), team, first_day, last_day, 10.0, (3.0, 1.5, 6.0), rng)
    df = _meta_frame(runner, start, end, team, rng)

    u = rng.random(n)
    first = np.where(u < 0.86, "alive", np.where(u < 0.95, "dead", "not_found"))
    if previous is None:
        status = first
    else:
        prev = previous.drop_duplicates("tree_id", keep="last").set_index("tree_id")["status"]
        before = prev.reindex(trees["tree_id"]).to_numpy()
        was_alive = np.where(u < 0.95, "alive", np.where(u < 0.99, "dead", "not_found"))
        was_dead = np.where(u < 0.85, "dead", "not_found")
        status = np.where(pd.isna(before), first, np.where(before == "alive", was_alive, was_dead))
    alive = status == "alive"
    age = (start.dt.normalize() - trees["planted_on"]).dt.days.to_numpy() / 365.25
    d, h = _size(trees["species_code"].to_numpy(), age, trees["vigour"].to_numpy(), rng)
    gbh = np.round(np.pi * d, 1)

    grid = LocalGrid(float(trees["location_latitude"].mean()), float(trees["location_longitude"].mean()))
    x, y = grid.to_xy(trees["location_longitude"], trees["location_latitude"])
    lon, lat = grid.to_lonlat(x + rng.normal(0, 3.0, n), y + rng.normal(0, 3.0, n))
    df["project_id"] = trees["project_id"].to_numpy()
    df["plot_id"] = trees["plot_id"].to_numpy()
    df["tree_id"] = trees["tree_id"].to_numpy()
    df["visit_date"] = pd.Series(start.dt.normalize()).astype("datetime64[s]")
    df["status"] = status
    df["gbh_cm"] = np.where(alive & (d >= GBH_BLANK_BELOW_CM), gbh, np.nan)
    df["height_m"] = np.where(alive & (rng.random(n) >= p_height_blank), np.round(h, 1), np.nan)
    df["location_latitude"] = lat
    df["location_longitude"] = lon
    df["location_altitude"] = np.round(trees["location_altitude"].to_numpy() + rng.normal(0, 3.0, n), 1)
    df["location_accuracy"] = _accuracy(rng, n)
    df["photo_tree"] = _photo_names(end, rng).to_numpy()
    df["dbh_true_cm"] = np.where(alive, np.round(d, 2), np.nan)
    return df.sort_values("start", kind="stable").reset_index(drop=True)


def make_bunds(plots: pd.DataFrame, n_bunds: int, *, rng: np.random.Generator, species: str = "AZIN",
               planted_on: str = "2024-07-15") -> pd.DataFrame:
    """Planted field boundaries along plot edges: id, owner, species, census count, end points."""
    pairs = np.sort(rng.choice(len(plots) * 4, n_bunds, replace=False))
    plot_idx, edge = pairs // 4, pairs % 4
    corners = shapely.get_coordinates(shapely.get_exterior_ring(plots["geometry"].to_numpy())).reshape(len(plots), 5, 2)
    a = corners[plot_idx, edge]
    b = corners[plot_idx, edge + 1]
    return pd.DataFrame({
        "bund_id": "B" + _zfill(np.arange(1, n_bunds + 1), 3),
        "farmer_id": plots["farmer_id"].to_numpy()[plot_idx],
        "plot_id": plots["plot_id"].to_numpy()[plot_idx],
        "species_code": species,
        "saplings_planted": rng.integers(10, 41, n_bunds),
        "planted_on": pd.Timestamp(planted_on),
        "a_lon": a[:, 0], "a_lat": a[:, 1], "b_lon": b[:, 0], "b_lat": b[:, 1],
        "vigour": np.round(np.exp(rng.normal(0.0, 0.15, n_bunds)), 3),
    })


def make_bund_plantation(bunds: pd.DataFrame, *, project_id: str, rng: np.random.Generator, first_day: str,
                         last_day: str, team: Team, previous: pd.DataFrame | None = None,
                         measured: tuple[int, int] = (3, 6), by_plot: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One visit per bund: the bund walked as a geotrace, survivors counted, a few trees measured.

    A runner walks up to four bunds a day, anywhere in the project; with ``by_plot`` (projects larger
    than a runner can cross between two bunds) one runner walks the bunds of one plot per day instead.
    Returns the main rows and the ``tree_measure`` repeat rows.
    """
    n = len(bunds)
    if by_plot:
        plot_idx, plot_ids = pd.factorize(bunds["plot_id"])
        runner, start, end = _plot_schedule(plot_idx, len(plot_ids), team, first_day, last_day, 75.0,
                                            (18.0, 8.0, 40.0), rng)
    else:
        runner = rng.integers(0, len(team), n)
        workdays = _workdays(first_day, last_day)
        day = _assign_days(runner, workdays.size, 4, rng)
        slot = _cumcount(runner.astype(np.int64) * workdays.size + day)
        start, end = _times(workdays[day], slot, 75.0, 10.0, (18.0, 8.0, 40.0), rng)
    df = _meta_frame(runner, start, end, team, rng)

    grid = LocalGrid(float(bunds["a_lat"].mean()), float(bunds["a_lon"].mean()))
    ax, ay = grid.to_xy(bunds["a_lon"], bunds["a_lat"])
    bx, by = grid.to_xy(bunds["b_lon"], bunds["b_lat"])
    k = rng.integers(4, 8, n)
    kmax = int(k.max())
    s = np.clip(np.arange(kmax)[None, :] / (k[:, None] - 1), 0, 1)
    px = ax[:, None] + s * (bx - ax)[:, None] + rng.normal(0, 1.5, (n, kmax))
    py = ay[:, None] + s * (by - ay)[:, None] + rng.normal(0, 1.5, (n, kmax))
    plon, plat = grid.to_lonlat(px, py)
    alt = np.round(585.0 + rng.normal(0, 2.0, (n, kmax)), 1)
    acc = np.round(np.clip(2.0 + rng.gamma(2.0, 1.5, (n, kmax)), 2.0, 15.0), 1)
    vertex = [_fmt(plat[:, j], 6) + " " + _fmt(plon[:, j], 6) + " " + _fmt(alt[:, j], 1) + " " + _fmt(acc[:, j], 1)
              for j in range(kmax)]  # loop over vertex position (≤ 7), not over rows
    line = vertex[0]
    for j in range(1, kmax):
        line = line.where(k <= j, line + ";" + vertex[j])

    planted = bunds["saplings_planted"].to_numpy()
    if previous is None:
        alive = rng.binomial(planted, 0.82)
    else:
        before = previous.set_index("bund_id")["saplings_alive"].reindex(bunds["bund_id"]).to_numpy(dtype=float, na_value=np.nan)
        alive = rng.binomial(np.where(np.isnan(before), planted, before).astype(int), 0.93)

    df["project_id"] = project_id
    df["farmer_id"] = bunds["farmer_id"].to_numpy()
    df["plot_id"] = bunds["plot_id"].to_numpy()
    df["bund_id"] = bunds["bund_id"].to_numpy()
    df["visit_date"] = pd.Series(start.dt.normalize()).astype("datetime64[s]")
    df["bund_line"] = line.to_numpy()
    df["species_code"] = bunds["species_code"].to_numpy()
    df["saplings_planted"] = pd.array(planted, dtype="Int64")
    df["saplings_alive"] = pd.array(alive, dtype="Int64")
    df["location_latitude"] = plat[:, 0]
    df["location_longitude"] = plon[:, 0]
    df["location_altitude"] = alt[:, 0]
    df["location_accuracy"] = acc[:, 0]
    df["photo_bund"] = _photo_names(end, rng).to_numpy()

    m = rng.integers(measured[0], measured[1] + 1, n)
    parent = np.repeat(np.arange(n), m)
    age = (df["visit_date"] - bunds["planted_on"]).dt.days.to_numpy()[parent] / 365.25
    vig = bunds["vigour"].to_numpy()[parent] * np.exp(rng.normal(0.0, 0.2, parent.size))
    d, h = _size(bunds["species_code"].to_numpy()[parent], age, vig, rng)
    rep = pd.DataFrame({
        "submission_id": df["submission_id"].to_numpy()[parent],
        "repeat_index": _cumcount(parent) + 1,
        "m_species_code": bunds["species_code"].to_numpy()[parent],
        "m_gbh_cm": np.where(d >= GBH_BLANK_BELOW_CM, np.round(np.pi * d, 1), np.nan),
        "m_height_m": np.round(h, 1),
        "dbh_true_cm": np.round(d, 2),
    })
    order = df["start"].argsort(kind="stable").to_numpy()
    df = df.iloc[order].reset_index(drop=True)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    rep = rep.iloc[np.lexsort((rep["repeat_index"], rank[parent]))].reset_index(drop=True)
    return df, rep


# ---------------------------------------------------------------------------------------------
# Submissions: what the phones send


@dataclass
class Submissions:
    """Submissions of one form as the phones sent them: every question a string (blank = ``<NA>``).

    ``main`` has one row per submission with the question names as columns, a geopoint as one
    ``"lat lon alt acc"`` string, and the submission metadata (``submission_id``, ``submitted_at``
    UTC, ``submitter_id``, ``submitter_name``, ``server_id``). ``repeats`` maps a repeat name to
    its rows (``submission_id``, ``repeat_index`` and the repeat's questions).
    """

    layout: FormLayout
    main: pd.DataFrame
    repeats: dict[str, pd.DataFrame] = field(default_factory=dict)

    def subset(self, submission_ids) -> Submissions:
        """The submissions with these ids (in this object's order), repeats following their parent."""
        keep = self.main["submission_id"].isin(pd.Index(submission_ids))
        main = self.main.loc[keep].reset_index(drop=True)
        repeats = {k: v.loc[v["submission_id"].isin(main["submission_id"])].reset_index(drop=True)
                   for k, v in self.repeats.items()}
        return Submissions(self.layout, main, repeats)

    def copy(self) -> Submissions:
        return Submissions(self.layout, self.main.copy(), {k: v.copy() for k, v in self.repeats.items()})


SUBMISSION_META = ["submission_id", "submitted_at", "submitter_id", "submitter_name", "server_id"]


def _question_strings(truth: pd.DataFrame, questions: Sequence[Question]) -> dict[str, pd.Series]:
    out: dict[str, pd.Series] = {}
    for q in questions:
        if q.type == "geopoint":
            lat = truth.get(f"{q.name}_latitude")
            if lat is None:
                out[q.name] = pd.Series(pd.NA, index=truth.index, dtype="string")
                continue
            s = (_fmt(lat, 6) + " " + _fmt(truth[f"{q.name}_longitude"], 6) + " "
                 + _fmt(truth[f"{q.name}_altitude"], 1) + " " + _fmt(truth[f"{q.name}_accuracy"], 1))
            out[q.name] = s.set_axis(truth.index)
            continue
        if q.name not in truth:
            out[q.name] = pd.Series(pd.NA, index=truth.index, dtype="string")
            continue
        col = truth[q.name]
        if q.type in ("start", "end"):
            s = _iso_local(col)
        elif q.type == "date":
            s = col.dt.strftime("%Y-%m-%d").astype("string").where(col.notna())
        elif q.type == "decimal":
            s = _fmt(col, 2).set_axis(truth.index)
        else:
            s = col.astype("string")
        out[q.name] = s
    return out


def to_submissions(truth: pd.DataFrame, layout: FormLayout, repeats: Mapping[str, pd.DataFrame] | None = None,
                   *, server_id_base: int = 300_000_000) -> Submissions:
    """Format true data as the strings an XForm submission holds.

    Questions of the layout missing from ``truth`` come out blank (an optional question added to
    the XLSForm later simply appears as an empty column). ``server_id`` (Kobo's ``_id``) numbers the
    submissions in order of receipt from ``server_id_base``.
    """
    truth = truth.reset_index(drop=True)
    main = pd.DataFrame(_question_strings(truth, layout.fields()), index=truth.index)
    main.insert(0, "submission_id", truth["submission_id"].astype("string"))
    main.insert(1, "submitted_at", truth["submitted_at"].astype("datetime64[ms]"))
    main.insert(2, "submitter_id", truth["submitter_id"].astype("int64"))
    main.insert(3, "submitter_name", truth["submitter_name"].astype("string"))
    rank = truth["submitted_at"].rank(method="first").astype("int64")
    main.insert(4, "server_id", server_id_base + rank)
    reps: dict[str, pd.DataFrame] = {}
    for name in layout.repeats:
        rt = (repeats or {}).get(name)
        if rt is None:
            rt = pd.DataFrame({"submission_id": pd.Series(dtype="string"), "repeat_index": pd.Series(dtype="int64")})
        rt = rt.reset_index(drop=True)
        r = pd.DataFrame(_question_strings(rt, layout.fields(name)), index=rt.index)
        r.insert(0, "submission_id", rt["submission_id"].astype("string"))
        r.insert(1, "repeat_index", rt["repeat_index"].astype("int64"))
        reps[name] = r
    return Submissions(layout, main, reps)


# ---------------------------------------------------------------------------------------------
# Faults


@dataclass(frozen=True)
class FaultSpec:
    """One kind of damage to apply to ``n`` submissions (or to ``rate`` × the submissions).

    ``fault`` is one of:

    - ``blank`` (``question``) → missing_required; the question is blank although it applies.
    - ``set`` (``question``, ``value``) → bad_value; ``value`` is a string or a function of the
      current strings (``pd.Series`` → ``pd.Series``).
    - ``repeat_set`` (``question`` of a repeat, ``value``) → bad_value in one repeat row.
    - ``alive_gt_planted`` → bad_value; ``saplings_alive`` above ``saplings_planted``.
    - ``wrong_project`` (``value`` = the other project id).
    - ``no_gps`` (blank geopoint), ``outside_boundary`` (1.5–3.5 km outside),
      ``low_gps_accuracy`` (50–200 m).
    - ``future_date`` (``question`` = a date question, moved to ``FUTURE_YEAR``).
    - ``end_before_start`` → future_date and short_interview (``end`` 5–30 min before ``start``).
    - ``short_interview`` (``end`` 20–55 s after ``start``).
    - ``unknown_id`` (``question`` = stove_serial / tree_id, ``value`` = a template whose ``#``
      become random digits, chosen so the id was never issued) → unknown_stove / unknown_tree.
    - ``duplicate_id`` (``question``) → duplicate_stove / duplicate_tree: the id of an earlier
      submission in the same export; ``copy`` names questions copied along (e.g. the stove model).
    - ``runner_too_fast``: moved to 3 minutes after the runner's previous submission and ≥ 5 km away;
      ``where`` (a row mask) limits the rows that may be moved (their partners are not limited).
    - ``photo_reused`` (``question`` = the photo): another submission's photo file name.
    - ``repeat_visit`` (``question`` = the visited id): a later visit re-pointed at the stove/tree
      of an earlier visit in the same export; ``copy`` names the household/plot questions copied
      along, ``same`` a column both visits must share (e.g. ``plot_id``).
    """

    fault: str
    n: int = 1
    question: str | None = None
    value: str | Callable[[pd.Series], pd.Series] | None = None
    copy: tuple[str, ...] = ()
    same: str | None = None
    rate: float | None = None
    detail: str = ""
    where: np.ndarray | None = field(default=None, compare=False, repr=False)


ID_REASONS = {
    "unknown_id": {"stove_serial": "unknown_stove", "tree_id": "unknown_tree"},
    "duplicate_id": {"stove_serial": "duplicate_stove", "tree_id": "duplicate_tree"},
}
FIXED_REASONS = {
    "blank": ("missing_required",), "set": ("bad_value",), "repeat_set": ("bad_value",),
    "alive_gt_planted": ("bad_value",), "wrong_project": ("wrong_project",), "no_gps": ("no_gps",),
    "outside_boundary": ("outside_boundary",), "low_gps_accuracy": ("low_gps_accuracy",),
    "future_date": ("future_date",), "end_before_start": ("future_date", "short_interview"),
    "short_interview": ("short_interview",), "runner_too_fast": ("runner_too_fast",),
    "photo_reused": ("photo_reused",), "repeat_visit": ("repeat_visit",),
}


def fault_reasons(spec: FaultSpec) -> tuple[str, ...]:
    """The data-quality reason codes a fault triggers."""
    if spec.fault in ID_REASONS:
        return (ID_REASONS[spec.fault][spec.question],)
    return FIXED_REASONS[spec.fault]


def with_fault_rates(specs: Sequence[FaultSpec], rates: Mapping[str, float] | None) -> list[FaultSpec]:
    """`specs` with the share of each fault set per reason code (``rates``: reason -> share of submissions).

    A fault takes the share of the first reason code it triggers (`fault_reasons`); faults whose share
    ends up 0 are left out; reasons that none of `specs` triggers are ignored (see `check_fault_rates`).
    """
    rates = rates or {}
    tuned = [replace(spec, rate=rates[fault_reasons(spec)[0]]) if fault_reasons(spec)[0] in rates else spec
             for spec in specs]
    return [spec for spec in tuned if spec.rate is None or spec.rate > 0]


def check_fault_rates(specs: Sequence[FaultSpec], rates: Mapping[str, float] | None) -> None:
    """`ValueError` for a reason in `rates` that none of `specs` (every fault a generator makes) triggers."""
    known = {fault_reasons(spec)[0] for spec in specs}
    unknown = set(rates or {}) - known
    if unknown:
        raise ValueError(f"no generated fault gives {', '.join(sorted(unknown))} (reasons: {', '.join(sorted(known))})")


def _split_geopoint(s: pd.Series) -> pd.DataFrame:
    parts = s.str.split(" ", expand=True, n=3).reindex(columns=range(4))
    return parts.apply(pd.to_numeric, errors="coerce").set_axis(["lat", "lon", "alt", "acc"], axis=1)


def _join_geopoint(lat, lon, alt, acc) -> pd.Series:
    return _fmt(lat, 6) + " " + _fmt(lon, 6) + " " + _fmt(alt, 1) + " " + _fmt(acc, 1)


def _fill_digits(template: str, rng: np.random.Generator, n: int) -> pd.Series:
    width = template.count("#")
    digits = _zfill(rng.integers(0, 10**width, n), width)
    head, _, tail = template.partition("#" * width)
    return head + digits + tail


def inject_faults(subs: Submissions, specs: Sequence[FaultSpec], rng: np.random.Generator, *,
                  boundary: shapely.Polygon, export: pd.Series | None = None,
                  protected: np.ndarray | None = None) -> tuple[Submissions, pd.DataFrame]:
    """Damage chosen submissions; return the damaged copy and the ground truth of every fault.

    Each spec picks its own rows, disjoint from the rows (and partner rows) of earlier specs and
    from ``protected`` ones, so one submission carries exactly the reasons listed for it. Pair
    faults take partners that are themselves clean. ``export`` names the export file of each row
    (it scopes duplicate and repeat-visit partners to one file and fills the ``export`` column).
    """
    out = subs.copy()
    main = out.main
    n = len(main)
    export = pd.Series("", index=main.index, dtype="string") if export is None else export.reset_index(drop=True).astype("string")
    used = np.zeros(n, dtype=bool) if protected is None else np.asarray(protected, dtype=bool).copy()
    start = _parse_local(main["start"])
    geo = _split_geopoint(main["location"]) if "location" in main else None
    records: list[pd.DataFrame] = []
    form = subs.layout.form_id

    def record(rows, spec, *, detail, partner=None, repeat_index=None):
        rows = np.asarray(rows)
        for reason in fault_reasons(spec):
            records.append(pd.DataFrame({
                "export": export.to_numpy()[rows],
                "form": form,
                "submission_id": main["submission_id"].to_numpy()[rows],
                "reason": reason,
                "kind": REASON_KIND[reason],
                "fault": spec.fault,
                "question": spec.question or "",
                "repeat_index": pd.array(repeat_index if repeat_index is not None else [pd.NA] * rows.size, dtype="Int64"),
                "related_submission_id": (main["submission_id"].to_numpy()[partner] if partner is not None else ""),
                "detail": np.asarray(detail, dtype=object) if not isinstance(detail, str) else detail,
            }))

    def pick(candidates: np.ndarray, count: int) -> np.ndarray:
        candidates = np.flatnonzero(candidates & ~used)
        if candidates.size < count:
            raise ValueError(f"only {candidates.size} rows of {form} can take this fault, {count} asked for")
        rows = np.sort(rng.choice(candidates, count, replace=False))
        used[rows] = True
        return rows

    def adjacent_partner(count: int, order: np.ndarray, clean_sorted: np.ndarray, n_before: np.ndarray,
                         group_first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Groups too small for `earlier_partner` (a plot's visits): the clean rows of a group pair off in
        start order, and a row takes the clean row just before it (disjoint pairs at any count)."""
        clean_pos = np.flatnonzero(clean_sorted)
        before = np.r_[-1, clean_pos[:-1]]
        paired = (before >= 0) & (n_before[clean_pos] % 2 == 1)
        paired[paired] = group_first[before[paired]] == group_first[clean_pos[paired]]
        partner_of = np.full(n, -1)
        partner_of[order[clean_pos[paired]]] = order[before[paired]]
        rows = pick(partner_of >= 0, count)
        partners = partner_of[rows]
        used[partners] = True
        return rows, partners

    def earlier_partner(count: int, same: pd.Series | None) -> tuple[np.ndarray, np.ndarray]:
        """Rows with a clean partner in the same export (and ``same`` value) that started earlier."""
        key = export.fillna("") + "|" + (same.fillna("") if same is not None else "")
        clean = ~used
        order = np.lexsort((start.to_numpy(), key.to_numpy()))
        k = key.to_numpy()[order]
        clean_sorted = clean[order]
        new_group = np.r_[True, k[1:] != k[:-1]]
        clean_before = np.cumsum(clean_sorted) - clean_sorted
        group_first = np.maximum.accumulate(np.where(new_group, np.arange(k.size), 0))
        n_before = clean_before - clean_before[group_first]
        eligible_sorted = clean_sorted & (n_before >= count)
        if eligible_sorted.sum() < count:
            return adjacent_partner(count, order, clean_sorted, n_before, group_first)
        eligible = np.zeros(n, dtype=bool)
        eligible[order] = eligible_sorted
        rows = pick(eligible, count)
        pos = np.empty(n, dtype=np.int64)
        pos[order] = np.arange(n)
        # partner: a random clean row before each chosen row in its group
        free = np.flatnonzero(clean_sorted & ~np.isin(order, rows))
        lo = np.searchsorted(free, group_first[pos[rows]])
        options = np.searchsorted(free, pos[rows]) - lo
        chosen = lo + np.floor(rng.random(rows.size) * options).astype(np.int64)
        for _ in range(100):  # redraw the few rows that picked the same partner
            clash = pd.Series(chosen).duplicated().to_numpy()
            if not clash.any():
                break
            chosen[clash] = lo[clash] + np.floor(rng.random(int(clash.sum())) * options[clash]).astype(np.int64)
        partners = order[free[chosen]]
        used[partners] = True
        return rows, partners

    for spec in specs:
        count = spec.n if spec.rate is None else int(round(spec.rate * n))
        if count <= 0:
            continue
        f, q = spec.fault, spec.question
        if f == "blank":
            rows = pick(main[q].notna().to_numpy(), count)
            main.loc[rows, q] = pd.NA
            record(rows, spec, detail=spec.detail or f"{q} is blank")
        elif f == "set":
            rows = pick(main[q].notna().to_numpy(), count)
            old = main.loc[rows, q]
            new = spec.value(old) if callable(spec.value) else pd.Series(spec.value, index=old.index, dtype="string")
            main.loc[rows, q] = new.to_numpy()
            record(rows, spec, detail=(f"{q} = '" + new.astype("string") + "'" + (f" ({spec.detail})" if spec.detail else "")).to_numpy())
        elif f == "repeat_set":
            rep_name = subs.layout.question(q).repeat
            rep = out.repeats[rep_name]
            has = main["submission_id"].isin(rep["submission_id"]).to_numpy()
            rows = pick(has, count)
            child_rows = rep.reset_index().groupby("submission_id", sort=False)["index"]
            sids = main.loc[rows, "submission_id"].to_numpy()
            first = child_rows.first().reindex(sids).to_numpy()
            size = child_rows.size().reindex(sids).to_numpy()
            children = first + np.floor(rng.random(rows.size) * size).astype(np.int64)
            rep.loc[children, q] = spec.value
            record(rows, spec, repeat_index=rep.loc[children, "repeat_index"].to_numpy(),
                   detail=f"{rep_name}/{q} = '{spec.value}'" + (f" ({spec.detail})" if spec.detail else ""))
        elif f == "alive_gt_planted":
            rows = pick((main["saplings_planted"].notna() & main["saplings_alive"].notna()).to_numpy(), count)
            planted = pd.to_numeric(main.loc[rows, "saplings_planted"])
            alive = planted + rng.integers(3, 15, rows.size)
            main.loc[rows, "saplings_alive"] = alive.astype("string").to_numpy()
            record(rows, spec, detail=("saplings_alive " + alive.astype("string") + " > saplings_planted "
                                       + planted.astype("string")).to_numpy())
        elif f == "wrong_project":
            rows = pick(main["project_id"].notna().to_numpy(), count)
            main.loc[rows, "project_id"] = spec.value
            record(rows, spec, detail=f"project_id = '{spec.value}'")
        elif f in ("no_gps", "outside_boundary", "low_gps_accuracy"):
            rows = pick(main["location"].notna().to_numpy(), count)
            g = geo.loc[rows]
            if f == "no_gps":
                main.loc[rows, "location"] = pd.NA
                record(rows, spec, detail="location is blank")
            elif f == "outside_boundary":
                lon, lat = push_outside(g["lon"].to_numpy(), g["lat"].to_numpy(), boundary, rng)
                main.loc[rows, "location"] = _join_geopoint(lat, lon, g["alt"], g["acc"]).to_numpy()
                grid = LocalGrid.around(boundary)
                dist = shapely.distance(grid.project(boundary), shapely.points(*grid.to_xy(lon, lat)))
                record(rows, spec, detail=("point " + _fmt(dist / 1000.0, 1) + " km outside the boundary").to_numpy())
            else:
                acc = np.round(rng.uniform(50.0, 200.0, rows.size), 1)
                main.loc[rows, "location"] = _join_geopoint(g["lat"], g["lon"], g["alt"], acc).to_numpy()
                record(rows, spec, detail=("accuracy " + _fmt(acc, 1) + " m").to_numpy())
        elif f == "future_date":
            rows = pick(main[q].notna().to_numpy(), count)
            new = str(FUTURE_YEAR) + main.loc[rows, q].str[4:].str.replace("-02-29", "-02-28")
            main.loc[rows, q] = new.to_numpy()
            record(rows, spec, detail=(f"{q} = " + new).to_numpy())
        elif f in ("end_before_start", "short_interview"):
            rows = pick(main["start"].notna().to_numpy(), count)
            s = start.loc[rows]
            if f == "end_before_start":
                seconds = -np.round(rng.uniform(300, 1800, rows.size))
                detail = "end " + pd.Series(np.round(-seconds / 60).astype(int)).astype("string") + " min before start"
            else:
                seconds = np.round(rng.uniform(20, 55, rows.size))
                detail = "interview of " + pd.Series(seconds.astype(int)).astype("string") + " s"
            new_end = s.to_numpy() + (seconds * 1000).astype(np.int64).astype("timedelta64[ms]")
            main.loc[rows, "end"] = _iso_local(pd.Series(new_end)).to_numpy()
            record(rows, spec, detail=detail.to_numpy())
        elif f == "unknown_id":
            rows = pick(main[q].notna().to_numpy(), count)
            new = _fill_digits(spec.value, rng, rows.size)
            main.loc[rows, q] = new.to_numpy()
            record(rows, spec, detail=(f"{q} '" + new + "' was never registered").to_numpy())
        elif f in ("duplicate_id", "repeat_visit"):
            same = main[spec.same].astype("string") if spec.same else None
            rows, partners = earlier_partner(count, same)
            for col in (q, *spec.copy):
                main.loc[rows, col] = main.loc[partners, col].to_numpy()
            if f == "repeat_visit" and geo is not None:
                grid = LocalGrid.around(boundary)
                x, y = grid.to_xy(geo.loc[partners, "lon"], geo.loc[partners, "lat"])
                lon, lat = grid.to_lonlat(x + rng.normal(0, 4.0, rows.size), y + rng.normal(0, 4.0, rows.size))
                g = geo.loc[rows]
                main.loc[rows, "location"] = _join_geopoint(lat, lon, g["alt"], g["acc"]).to_numpy()
            what = "also registered by" if f == "duplicate_id" else "also visited in"
            record(rows, spec, partner=partners,
                   detail=(f"{q} '" + main.loc[rows, q].astype("string") + f"' {what} an earlier submission").to_numpy())
        elif f == "runner_too_fast":
            rows, partners = _runner_too_fast(main, start, geo, used, count, boundary, rng, allowed=spec.where)
            record(rows, spec, partner=partners,
                   detail=("3 min after the runner's previous submission, "
                           + _fmt(_distance_m(geo, rows, partners, main) / 1000.0, 1) + " km away").to_numpy())
        elif f == "photo_reused":
            candidates = main[q].notna().to_numpy()
            rows = pick(candidates, count)
            partners = pick(candidates, count)
            main.loc[rows, q] = main.loc[partners, q].to_numpy()
            record(rows, spec, partner=partners, detail=(f"{q} '" + main.loc[rows, q] + "' reused").to_numpy())
        else:
            raise ValueError(f"unknown fault {f!r}")

    faults = pd.concat(records, ignore_index=True) if records else pd.DataFrame(columns=FAULT_COLUMNS)
    return out, faults[FAULT_COLUMNS]


def _distance_m(geo: pd.DataFrame, rows: np.ndarray, partners: np.ndarray, main: pd.DataFrame) -> np.ndarray:
    now = _split_geopoint(main.loc[rows, "location"])
    then = geo.loc[partners]
    grid = LocalGrid(float(then["lat"].mean()), float(then["lon"].mean()))
    x1, y1 = grid.to_xy(now["lon"], now["lat"])
    x0, y0 = grid.to_xy(then["lon"], then["lat"])
    return np.hypot(x1 - x0, y1 - y0)


def _runner_too_fast(main: pd.DataFrame, start: pd.Series, geo: pd.DataFrame, used: np.ndarray, count: int,
                     boundary: shapely.Polygon, rng: np.random.Generator,
                     allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Move a submission to 3 minutes after its runner's previous one, at a point ≥ 5 km away."""
    order = np.lexsort((start.to_numpy(), main["runner_id"].fillna("").to_numpy()))
    runner_sorted = main["runner_id"].fillna("").to_numpy()[order]
    prev = np.full(len(main), -1)
    same_runner = np.r_[False, runner_sorted[1:] == runner_sorted[:-1]]
    prev[order[same_runner]] = order[np.flatnonzero(same_runner) - 1]
    has_gps = geo["lat"].notna().to_numpy()
    ok = (prev >= 0) & has_gps & ~used
    if allowed is not None:
        ok &= np.asarray(allowed, dtype=bool)
    ok[ok] = ~used[prev[ok]] & has_gps[prev[ok]]
    candidates = np.flatnonzero(ok)
    if candidates.size < count:
        raise ValueError("not enough runner sequences for runner_too_fast")
    rows = np.sort(rng.choice(candidates, count, replace=False))
    partners = prev[rows]
    used[rows] = True
    used[partners] = True
    grid = LocalGrid.around(boundary)
    inner = grid.unproject(grid.project(boundary).buffer(-100.0))
    px, py = grid.to_xy(geo.loc[partners, "lon"], geo.loc[partners, "lat"])
    clon, clat = sample_points(inner, rng, n=256 * count)
    cx, cy = grid.to_xy(clon, clat)
    cx, cy = cx.reshape(count, 256), cy.reshape(count, 256)
    far = np.argmax(np.hypot(cx - px[:, None], cy - py[:, None]), axis=1)
    lon, lat = grid.to_lonlat(cx[np.arange(count), far], cy[np.arange(count), far])
    g = geo.loc[rows]
    main.loc[rows, "location"] = _join_geopoint(lat, lon, g["alt"], g["acc"]).to_numpy()
    shift = pd.Timedelta(minutes=3)
    new_start = start.loc[partners].to_numpy() + shift
    duration = _parse_local(main.loc[rows, "end"]).to_numpy() - start.loc[rows].to_numpy()
    main.loc[rows, "start"] = _iso_local(pd.Series(new_start)).to_numpy()
    main.loc[rows, "end"] = _iso_local(pd.Series(new_start + duration)).to_numpy()
    for q in main.columns.intersection(["commissioned_on", "visit_date", "planted_on"]):
        main.loc[rows, q] = main.loc[partners, q].to_numpy()
    return rows, partners


# ---------------------------------------------------------------------------------------------
# Export layouts


def _path(q: Question, sep: str, group_names: bool, within: tuple[str, ...] = ()) -> str:
    groups = q.groups[len(within):] if group_names else ()
    return sep.join((*groups, q.name))


def _kobo_version(layout: FormLayout) -> str:
    return "v" + _token(f"{layout.form_id}:{layout.version}", 21)


def kobo_tables(subs: Submissions, *, group_names: bool = True, username: str = "",
                server: str = "https://kc.kobotoolbox.org") -> dict[str, pd.DataFrame]:
    """KoboToolbox export tables: the main sheet (named after the form title) and one per repeat.

    Columns follow formpack: questions in form order with ``/``-joined group paths; a geopoint as
    the raw value plus ``_<q>_latitude|longitude|altitude|precision`` (``grp/_<q>_latitude`` inside
    a group); a media question followed by ``<q>_URL``; then ``meta/instanceID`` and the system
    columns. Repeat sheets carry ``_index``, ``_parent_table_name``, ``_parent_index`` and the
    parent's ``_submission_*`` columns.
    """
    layout = subs.layout
    main = subs.main.sort_values("server_id", kind="stable").reset_index(drop=True)
    sheet = layout.title[:31]
    asset = _token(f"asset:{layout.form_id}", 22)
    version = _kobo_version(layout)
    cols: dict[str, pd.Series] = {}
    for q in layout.fields():
        name = _path(q, "/", group_names)
        value = main[q.name]
        cols[name] = value
        if q.type == "geopoint":
            prefix = "/".join(q.groups) + "/" if (q.groups and group_names) else ""
            parts = value.str.split(" ", expand=True, n=3).reindex(columns=range(4))
            for i, part in enumerate(("latitude", "longitude", "altitude", "precision")):
                cols[f"{prefix}_{q.name}_{part}"] = parts[i].astype("string")
        elif q.type in ("image", "audio", "video", "file"):
            url = (server + "/media/original?media_file=fieldmrv%2Fattachments%2F" + asset + "%2F"
                   + main["submission_id"] + "%2F" + value)
            cols[f"{name}_URL"] = url
    uuid = main["submission_id"].astype("string")
    cols["meta/instanceID" if group_names else "instanceID"] = "uuid:" + uuid
    system = {
        "_id": main["server_id"],
        "_uuid": uuid,
        "_submission_time": main["submitted_at"].dt.strftime("%Y-%m-%dT%H:%M:%S").astype("string"),
        "_validation_status": pd.Series(pd.NA, index=main.index, dtype="string"),
        "_notes": pd.Series(pd.NA, index=main.index, dtype="string"),
        "_status": pd.Series("submitted_via_web", index=main.index, dtype="string"),
        "_submitted_by": pd.Series(username or pd.NA, index=main.index, dtype="string"),
        "__version__": pd.Series(version, index=main.index, dtype="string"),
        "_tags": pd.Series(pd.NA, index=main.index, dtype="string"),
        "_index": pd.Series(np.arange(1, len(main) + 1), index=main.index),
    }
    tables = {sheet: pd.DataFrame({**cols, **system})}
    parent = pd.DataFrame(system).assign(submission_id=main["submission_id"])
    for rep_name in layout.repeats:
        rep = subs.repeats[rep_name].merge(parent[["submission_id", "_index"]], on="submission_id", how="inner")
        rep = rep.sort_values(["_index", "repeat_index"], kind="stable").reset_index(drop=True)
        within = next(q.groups[: q.groups.index(rep_name)] for q in layout.fields(rep_name))
        rcols = {_path(q, "/", group_names, within): rep[q.name] for q in layout.fields(rep_name)}
        copied = parent.set_index("submission_id").loc[rep["submission_id"], KOBO_REPEAT_COPY_FIELDS].reset_index(drop=True)
        rtable = pd.DataFrame(rcols)
        rtable["_index"] = np.arange(1, len(rep) + 1)
        rtable["_parent_table_name"] = sheet
        rtable["_parent_index"] = rep["_index"].to_numpy()
        for name in KOBO_REPEAT_COPY_FIELDS:
            rtable[f"_submission_{name}"] = copied[name].to_numpy()
        tables[rep_name[:31]] = rtable
    return tables


def odk_tables(subs: Submissions, *, group_names: bool = True) -> dict[str, pd.DataFrame]:
    """ODK Central export tables (``<form_id>.csv`` and ``<form_id>-<repeat>.csv``).

    Columns follow Central's briefcase CSV: ``SubmissionDate``, the questions with ``-``-joined
    group paths (a geopoint as ``<q>-Latitude|Longitude|Altitude|Accuracy``), ``meta-instanceID``,
    ``KEY`` and the trailer. Repeat tables name their questions relative to the repeat and end
    with ``PARENT_KEY`` and ``KEY`` (``<parent KEY>/<repeat>[n]``).
    """
    layout = subs.layout
    main = subs.main.sort_values("server_id", kind="stable").reset_index(drop=True)
    key = "uuid:" + main["submission_id"].astype("string")
    cols: dict[str, pd.Series] = {
        "SubmissionDate": (main["submitted_at"].dt.strftime("%Y-%m-%dT%H:%M:%S.").astype("string")
                           + _zfill((main["submitted_at"].dt.microsecond // 1000).to_numpy(), 3).to_numpy() + "Z"),
    }
    media = [q.name for q in layout.fields() if q.type in ("image", "audio", "video", "file")]
    for q in layout.fields():
        name = _path(q, "-", group_names)
        if q.type == "geopoint":
            parts = main[q.name].str.split(" ", expand=True, n=3).reindex(columns=range(4))
            for i, part in enumerate(("Latitude", "Longitude", "Altitude", "Accuracy")):
                cols[f"{name}-{part}"] = parts[i].astype("string")
        else:
            cols[name] = main[q.name]
    cols["meta-instanceID" if group_names else "instanceID"] = key
    attachments = main[media].notna().sum(axis=1) if media else pd.Series(0, index=main.index)
    trailer = {
        "KEY": key,
        "SubmitterID": main["submitter_id"],
        "SubmitterName": main["submitter_name"],
        "AttachmentsPresent": attachments,
        "AttachmentsExpected": attachments,
        "Status": pd.Series(pd.NA, index=main.index, dtype="string"),
        "ReviewState": pd.Series(pd.NA, index=main.index, dtype="string"),
        "DeviceID": main["deviceid"] if "deviceid" in main else pd.Series(pd.NA, index=main.index, dtype="string"),
        "Edits": pd.Series(0, index=main.index),
        "FormVersion": pd.Series(layout.version, index=main.index, dtype="string"),
    }
    tables = {f"{layout.form_id}.csv": pd.DataFrame({**cols, **trailer})}
    order = pd.Series(np.arange(len(main)), index=main["submission_id"])
    for rep_name in layout.repeats:
        rep = subs.repeats[rep_name]
        rep = rep.loc[rep["submission_id"].isin(order.index)]
        rep = rep.iloc[np.lexsort((rep["repeat_index"].to_numpy(), order.loc[rep["submission_id"]].to_numpy()))]
        rep = rep.reset_index(drop=True)
        within = next(q.groups[: q.groups.index(rep_name) + 1] for q in layout.fields(rep_name))
        rcols = {_path(q, "-", group_names, within): rep[q.name] for q in layout.fields(rep_name)}
        parent_key = "uuid:" + rep["submission_id"].astype("string")
        path = "/".join((*within[:-1], rep_name))
        rtable = pd.DataFrame(rcols)
        rtable["PARENT_KEY"] = parent_key
        rtable["KEY"] = parent_key + f"/{path}[" + rep["repeat_index"].astype("string") + "]"
        tables[f"{layout.form_id}-{rep_name}.csv"] = rtable
    return tables


def _csv_bytes(df: pd.DataFrame, *, delimiter: str = ",", quote_all: bool = False, lineterminator: str = "\n") -> bytes:
    return df.to_csv(index=False, sep=delimiter, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
                     lineterminator=lineterminator).encode("utf-8")


def _deterministic_zip(entries: Mapping[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def write_kobo_csv(subs: Submissions, path: str | Path, *, delimiter: str = ",", group_names: bool = True,
                   username: str = "") -> Path:
    """The main table of a Kobo CSV export (every field quoted, as formpack writes it)."""
    if delimiter not in (",", ";"):
        raise ValueError("Kobo CSV exports use ',' or ';'")
    path = Path(path)
    table = next(iter(kobo_tables(subs, group_names=group_names, username=username).values()))
    path.write_bytes(_csv_bytes(table, delimiter=delimiter, quote_all=True, lineterminator="\r\n"))
    return path


def write_kobo_xlsx(subs: Submissions, path: str | Path, *, group_names: bool = True, username: str = "",
                    fast: bool = False) -> Path:
    """A Kobo XLSX export: the main sheet plus one sheet per repeat; numeric answers as numbers.

    The workbook is written with openpyxl, or with ``fast`` column by column as sheet XML (no Python
    loop over rows, for exports of any size; the same cells, a plainer file).
    """
    path = Path(path)
    tables = kobo_tables(subs, group_names=group_names, username=username)
    if fast:
        path.write_bytes(_xlsx_bytes({sheet: (table, _xlsx_numeric(subs.layout, table.columns))
                                      for sheet, table in tables.items()}))
        return path
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for sheet, table in tables.items():
            out = table.astype(object).where(table.notna(), None)
            for col, numeric in zip(table.columns, _xlsx_numeric(subs.layout, table.columns)):
                if numeric:
                    num = pd.to_numeric(table[col], errors="coerce")
                    out[col] = num.astype(object).where(num.notna(), out[col])
            out.to_excel(xw, sheet_name=sheet, index=False)
    path.write_bytes(_normalise_xlsx(buf.getvalue()))
    return path


def _xlsx_numeric(layout: FormLayout, columns) -> list[bool]:
    """Which columns of a Kobo sheet hold numbers (integer and decimal questions, ids, geopoint parts)."""
    numeric = {q.name for q in layout.questions if q.type in ("integer", "decimal")}
    numeric_cols = {"_id", "_index", "_parent_index", "_submission__id"}
    return [col.rsplit("/", 1)[-1] in numeric or col in numeric_cols
            or bool(re.search(r"_(latitude|longitude|altitude|precision)$", col)) for col in columns]


SPREADSHEETML = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
OFFICE_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def _xml_escape(text: pd.Series) -> pd.Series:
    return (text.str.replace("&", "&amp;", regex=False).str.replace("<", "&lt;", regex=False)
            .str.replace(">", "&gt;", regex=False).str.replace('"', "&quot;", regex=False))


def _column_letters(n: int) -> list[str]:
    letters = []
    for i in range(1, n + 1):  # one per column
        name = ""
        while i:
            i, r = divmod(i - 1, 26)
            name = chr(65 + r) + name
        letters.append(name)
    return letters


def _sheet_xml(table: pd.DataFrame, numeric: Sequence[bool]) -> bytes:
    """A worksheet's XML built a column at a time: text as inline strings, numbers where ``numeric`` and
    the text parses, blanks left out."""
    n = len(table)
    letters = _column_letters(table.shape[1])
    header = pd.Series([str(c) for c in table.columns], dtype="string")
    cells = ('<c r="' + pd.Series(letters, dtype="string") + '1" t="inlineStr"><is><t xml:space="preserve">'
             + _xml_escape(header) + "</t></is></c>")
    row_no = pd.Series(np.arange(2, n + 2), dtype="int64").astype("string")
    body = pd.Series("", index=row_no.index, dtype="string")
    for letter, col, is_number in zip(letters, table.columns, numeric):  # a pass per column
        text = table[col].astype("string").reset_index(drop=True)
        ref = '<c r="' + letter + row_no
        cell = ref + '" t="inlineStr"><is><t xml:space="preserve">' + _xml_escape(text) + "</t></is></c>"
        if is_number:
            cell = cell.where(pd.to_numeric(text, errors="coerce").isna(), ref + '"><v>' + text.str.strip() + "</v></c>")
        body = body + cell.fillna("")
    rows = '<row r="' + row_no + '">' + body + "</row>"
    return (f'{XML_DECLARATION}<worksheet xmlns="{SPREADSHEETML}"><dimension ref="A1:{letters[-1]}{n + 1}"/>'
            f'<sheetData><row r="1">{"".join(cells)}</row>{"".join(rows)}</sheetData></worksheet>').encode("utf-8")


def _xlsx_bytes(sheets: Mapping[str, tuple[pd.DataFrame, Sequence[bool]]]) -> bytes:
    """A minimal, reproducible XLSX workbook (no styles, inline strings) with these sheets."""
    names = _xml_escape(pd.Series(list(sheets), dtype="string")).tolist()
    sheet_parts = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(names) + 1))
    entries = {
        "[Content_Types].xml": (
            f'{XML_DECLARATION}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            f"{sheet_parts}</Types>").encode("utf-8"),
        "_rels/.rels": (
            f'{XML_DECLARATION}<Relationships xmlns="{PACKAGE_RELS}"><Relationship Id="rId1" '
            f'Type="{OFFICE_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>').encode("utf-8"),
        "xl/workbook.xml": (
            f'{XML_DECLARATION}<workbook xmlns="{SPREADSHEETML}" xmlns:r="{OFFICE_RELS}"><sheets>'
            + "".join(f'<sheet name="{name}" sheetId="{i}" r:id="rId{i}"/>' for i, name in enumerate(names, 1))
            + "</sheets></workbook>").encode("utf-8"),
        "xl/_rels/workbook.xml.rels": (
            f'{XML_DECLARATION}<Relationships xmlns="{PACKAGE_RELS}">'
            + "".join(f'<Relationship Id="rId{i}" Type="{OFFICE_RELS}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                      for i in range(1, len(names) + 1))
            + "</Relationships>").encode("utf-8"),
    }
    for i, (table, numeric) in enumerate(sheets.values(), 1):
        entries[f"xl/worksheets/sheet{i}.xml"] = _sheet_xml(table, numeric)
    return _deterministic_zip(entries)


def _normalise_xlsx(data: bytes) -> bytes:
    """Give a workbook fixed timestamps (zip entries and document properties) so it is reproducible."""
    entries = {}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in zf.namelist():
            content = zf.read(name)
            if name == "docProps/core.xml":
                text = content.decode("utf-8")
                text = re.sub(r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
                              lambda m: m.group(1) + XLSX_TIMESTAMP + m.group(3), text)
                content = text.encode("utf-8")
            entries[name] = content
    return _deterministic_zip(entries)


def write_odk_csv(subs: Submissions, path: str | Path, *, group_names: bool = True) -> Path:
    """The main table of an ODK Central CSV export (a form without repeats needs nothing else)."""
    path = Path(path)
    table = next(iter(odk_tables(subs, group_names=group_names).values()))
    path.write_bytes(_csv_bytes(table))
    return path


def write_odk_zip(subs: Submissions, path: str | Path, *, group_names: bool = True) -> Path:
    """An ODK Central export zip: ``<form_id>.csv`` and one ``<form_id>-<repeat>.csv`` per repeat."""
    path = Path(path)
    tables = odk_tables(subs, group_names=group_names)
    path.write_bytes(_deterministic_zip({name: _csv_bytes(t) for name, t in tables.items()}))
    return path


# ---------------------------------------------------------------------------------------------
# Sample projects


@dataclass
class ExportFile:
    """One export file of a sample project."""

    name: str
    form_id: str
    flavour: str  # kobo_csv, kobo_xlsx, odk_csv, odk_zip
    dataset: str  # key into SampleProject.submissions
    submission_ids: pd.Index
    delimiter: str = ","
    note: str = ""


@dataclass
class SampleProject:
    """A generated sample project: its truth, what the exports hold, and the injected faults."""

    project_id: str
    folder: Path
    boundary: shapely.Polygon
    truth: dict[str, pd.DataFrame]
    submissions: dict[str, Submissions]
    exports: list[ExportFile]
    faults: pd.DataFrame
    plots: pd.DataFrame | None = None


def write_export(subs: Submissions, export: ExportFile, folder: Path, *, fast_xlsx: bool = False) -> Path:
    """Write one export file of ``subs`` (restricted to the export's submissions)."""
    part = subs.subset(export.submission_ids)
    path = folder / export.name
    if export.flavour == "kobo_csv":
        return write_kobo_csv(part, path, delimiter=export.delimiter)
    if export.flavour == "kobo_xlsx":
        return write_kobo_xlsx(part, path, fast=fast_xlsx)
    if export.flavour == "odk_csv":
        return write_odk_csv(part, path)
    if export.flavour == "odk_zip":
        return write_odk_zip(part, path)
    raise ValueError(f"unknown flavour {export.flavour!r}")


def _geojson(features: list[dict], indent: int | None = 1) -> str:
    return json.dumps({"type": "FeatureCollection", "features": features}, indent=indent) + "\n"


def _feature(geom: shapely.Geometry, properties: dict) -> dict:
    coords = [[[round(x, 6), round(y, 6)] for x, y in geom.exterior.coords]]
    return {"type": "Feature", "properties": properties, "geometry": {"type": "Polygon", "coordinates": coords}}


def _plot_features(plots: pd.DataFrame) -> list[dict]:
    return [_feature(g, {"plot_id": p, "farmer_id": f, "area_ha": float(a)})
            for p, f, a, g in plots[["plot_id", "farmer_id", "area_ha", "geometry"]].itertuples(index=False)]


def _overlap_faults(submission_ids: pd.Series, form: str, export: str, other: str) -> pd.DataFrame:
    """Ground truth for submissions that two exports both hold (stored once, never quarantined)."""
    n = len(submission_ids)
    return pd.DataFrame({
        "export": export, "form": form, "submission_id": submission_ids.to_numpy(),
        "reason": "duplicate_submission", "kind": REASON_KIND["duplicate_submission"], "fault": "overlapping_export",
        "question": "", "repeat_index": pd.array([pd.NA] * n, dtype="Int64"), "related_submission_id": "",
        "detail": f"also in {other}: stored once; whichever file is uploaded second reports it as a duplicate",
    }, index=range(n))


def _span(dates: pd.Series) -> str:
    d = pd.to_datetime(dates)
    return f"{d.min():%Y-%m-%d} … {d.max():%Y-%m-%d}"


def _quarantined(faults: pd.DataFrame) -> pd.Index:
    return pd.Index(faults.loc[faults["kind"] == "quarantine", "submission_id"].unique())


def _write_project(project: SampleProject, files: Mapping[str, str], readme: str, *, fast_xlsx: bool = False) -> None:
    folder = project.folder
    (folder / "exports").mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    for export in project.exports:
        write_export(project.submissions[export.dataset], export, folder / "exports", fast_xlsx=fast_xlsx)
    faults = project.faults.sort_values(["export", "form", "reason", "submission_id"], kind="stable")
    faults.to_csv(folder / "expected_faults.csv", index=False, lineterminator="\n")
    (folder / "README.md").write_text(readme, encoding="utf-8")


def _fault_summary(project: SampleProject) -> str:
    f = project.faults
    counts = f.groupby(["export", "reason"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=[r for r in REASON_KIND if r in counts.columns]
                            + [r for r in counts.columns if r not in REASON_KIND])
    lines = ["| export | " + " | ".join(counts.columns) + " |", "|---" * (len(counts.columns) + 1) + "|"]
    for name, row in counts.iterrows():
        lines.append(f"| `{name}` | " + " | ".join(str(v) if v else "" for v in row) + " |")
    return "\n".join(lines)


def _exports_summary(project: SampleProject) -> str:
    flavour = {"kobo_csv": "KoboToolbox CSV", "kobo_xlsx": "KoboToolbox XLSX", "odk_csv": "ODK Central CSV",
               "odk_zip": "ODK Central zip"}
    lines = ["| file | form | flavour | submissions | notes |", "|---|---|---|---|---|"]
    for e in project.exports:
        fl = flavour[e.flavour] + (f" (`{e.delimiter}`-delimited)" if e.flavour == "kobo_csv" else "")
        lines.append(f"| `exports/{e.name}` | `{e.form_id}` | {fl} | {len(e.submission_ids)} | {e.note} |")
    return "\n".join(lines)


MP_SEED = 20240701
MH_SEED = 20250101

MP_PROJECT_YAML = """\
project_id: IN-MP-CS-001
name: Improved cookstoves, Madhya Pradesh
methodology: cdm-ams-ii-g
country: IN
boundary: boundary.geojson
monitoring_periods:
  - {id: MP1, start: 2024-07-01, end: 2025-06-30}
parameters:
  fnrb: {value: 0.30, unit: fraction, source: "Sample value: the old CDM generic default, to show a project override (India's TOOL33 v03.0 default is 0.07)"}
  b_old_t_per_device_year: {value: 2.0, unit: t/device/yr, source: "Sample baseline survey (synthetic)"}
  technical_life_years: {value: 5, unit: yr, source: "Manufacturer warranty (synthetic)"}
  stove_models:
    ACME-R1: {efficiency: 0.27, source: "Sample lab test, WBT 4.2.3 (synthetic)"}
    ACME-D2: {efficiency: 0.31, source: "Sample lab test, ISO 19867-1 (synthetic)"}
article6:                    # Paris Agreement Article 6 (docs/verifier.md). Not authorized: India's 2023
  authorized: false          # Article 6.2 list does not name improved cookstoves
  host_party: IN
  activity_type: improved_cookstoves
  corresponding_adjustment: {status: not_applicable}
  # When authorized, set (each is checked by mrv report):
  # authorized: true
  # loa: {id: "NDAIAPA/LoA/2026/017", date: 2026-05-04, issuer: "National Designated Authority for the Implementation of Article 6, India"}
  # authorized_use: [NDC, OIMP_CORSIA]        # NDC | OIMP_CORSIA | OIMP_other | voluntary
  # first_transfer_trigger: issuance           # issuance | authorization | use
  # corresponding_adjustment: {status: pending, declaration: "..."}
  # authorized_vintages: [2024, 2025]
  # authorized_quantity_cap_tco2e: 5000
  # vintages: {2025: {corresponding_adjustment: {status: applied, declaration: "BTR1, table 4"}}}
"""

MH_PROJECT_YAML = """\
project_id: IN-MH-AF-001
name: Farm and bund trees, Maharashtra
methodology: vm0047-census
country: IN
boundary: boundary.geojson
plots: plots.geojson
monitoring_periods:
  - {id: MP1, start: 2025-01-01, end: 2025-12-31}
  - {id: MP2, start: 2026-01-01, end: 2026-06-30}
parameters:
  species:   # wood density from data/parameters/species.yaml (GWDD v2); root-to-shoot set here
    MEDU: {root_shoot: {value: 0.25, source: "illustrative value of the worked examples, arr_methodology.md §7"}}
    TEGR: {root_shoot: {value: 0.25, source: "illustrative value of the worked examples, arr_methodology.md §7"}}
    AZIN: {root_shoot: {value: 0.25, source: "illustrative value of the worked examples, arr_methodology.md §7"}}
  buffer_rate: {value: 0.15, unit: fraction, source: "Sample non-permanence risk rating (synthetic)"}
article6:
  authorized: false
"""


def generate_in_mp_cs_001(projects_dir: str | Path = PROJECTS_DIR, seed: int = MP_SEED, *,
                          write: bool = True) -> SampleProject:
    """(Re)generate the cookstove sample project IN-MP-CS-001 under ``projects_dir``.

    About 300 stoves handed over 2024-03-01 … 2024-10-31 (Kobo CSV for the early campaign, ODK zip
    for the later one, 20 submissions in both), usage visits to about 200 of them 2025-03 … 2025-06
    (Kobo XLSX for March–April, ODK CSV for May–June, 3 submissions in both), with a few faults of
    every applicable reason.
    """
    project_id = "IN-MP-CS-001"
    folder = Path(projects_dir) / project_id
    boundary = make_boundary(23.10, 77.28, 15.0, 10.0, stage_rng(seed, "boundary"))
    team = make_team(1, 12, stage_rng(seed, "team"))

    dist_truth = make_stove_distribution(
        300, project_id=project_id, boundary=boundary, rng=stage_rng(seed, "distribution"),
        first_day="2024-03-01", last_day="2024-10-31", models={"ACME-R1": 0.6, "ACME-D2": 0.4}, team=team)
    dist = to_submissions(dist_truth, load_form("stove_distribution"), server_id_base=312_000_000)
    n_kobo, n_overlap = 180, 20
    dist_export = pd.Series(np.where(np.arange(len(dist.main)) < n_kobo, "stove_distribution_kobo.csv",
                                     "stove_distribution_odk.zip"))
    overlap = (np.arange(len(dist.main)) >= n_kobo - n_overlap) & (np.arange(len(dist.main)) < n_kobo)
    dist, dist_faults = inject_faults(dist, [
        FaultSpec("blank", question="household_id"),
        FaultSpec("blank", question="stove_model"),
        FaultSpec("blank", question="consent_carbon_rights"),
        FaultSpec("set", question="stove_model", value="ACME-X9", detail="model not in the project parameters"),
        FaultSpec("set", question="consent_carbon_rights", value="maybe", detail="not a choice of yes_no"),
        FaultSpec("set", question="commissioned_on", detail="not an ISO date",
                  value=lambda s: s.str[8:10] + "/" + s.str[5:7] + "/" + s.str[0:4]),
        FaultSpec("wrong_project", n=2, value="IN-MP-CS-002"),
        FaultSpec("no_gps", n=2),
        FaultSpec("outside_boundary", n=3),
        FaultSpec("future_date", n=2, question="commissioned_on"),
        FaultSpec("end_before_start", n=1),
        FaultSpec("duplicate_id", n=3, question="stove_serial", copy=("stove_model",)),
        FaultSpec("low_gps_accuracy", n=3),
        FaultSpec("short_interview", n=3),
        FaultSpec("runner_too_fast", n=2),
        FaultSpec("photo_reused", n=2, question="photo_stove"),
    ], stage_rng(seed, "distribution-faults"), boundary=boundary, export=dist_export, protected=overlap)
    dist_dups = _overlap_faults(dist.main.loc[overlap, "submission_id"], "stove_distribution",
                                "stove_distribution_odk.zip", "stove_distribution_kobo.csv")

    # Only stoves whose distribution record is accepted are visited, so the only unknown_stove
    # visits are the injected ones.
    visitable = dist_truth.loc[~dist_truth["submission_id"].isin(_quarantined(dist_faults))]
    usage_truth = make_cookstove_usage(visitable, 200, rng=stage_rng(seed, "usage"), first_day="2025-03-01",
                                       last_day="2025-06-30", team=team)
    usage = to_submissions(usage_truth, load_form("cookstove_usage"), server_id_base=348_000_000)
    visit_day = pd.to_datetime(usage.main["visit_date"])
    usage_export = pd.Series(np.where(visit_day < "2025-05-01", "cookstove_usage_kobo.xlsx", "cookstove_usage_odk.csv"))
    kobo_rows = np.flatnonzero(usage_export == "cookstove_usage_kobo.xlsx")
    usage_overlap = np.zeros(len(usage.main), dtype=bool)
    usage_overlap[kobo_rows[-3:]] = True
    usage, usage_faults = inject_faults(usage, [
        FaultSpec("blank", question="household_size"),
        FaultSpec("blank", question="main_fuel"),
        FaultSpec("blank", question="stove_in_use", detail="stove_in_use is blank although stove_found = yes"),
        FaultSpec("set", question="household_size", value="0", detail="below 1"),
        FaultSpec("set", question="household_size", value="45", detail="above 30"),
        FaultSpec("set", question="days_used_last_7", value="five", detail="not an integer"),
        FaultSpec("set", question="main_fuel", value="kerosene", detail="not a choice of main_fuel"),
        FaultSpec("set", question="stove_condition", value="ok", detail="not a choice of stove_condition"),
        FaultSpec("wrong_project", n=2, value="IN-MP-CS-002"),
        FaultSpec("no_gps", n=2),
        FaultSpec("outside_boundary", n=2),
        FaultSpec("future_date", n=1, question="visit_date"),
        FaultSpec("end_before_start", n=1),
        FaultSpec("unknown_id", n=3, question="stove_serial", value="ACM24-9#####"),
        FaultSpec("low_gps_accuracy", n=3),
        FaultSpec("short_interview", n=2),
        FaultSpec("runner_too_fast", n=2),
        FaultSpec("photo_reused", n=2, question="photo_stove"),
        FaultSpec("repeat_visit", n=3, question="stove_serial", copy=("household_id", "household_size", "main_fuel")),
    ], stage_rng(seed, "usage-faults"), boundary=boundary, export=usage_export, protected=usage_overlap)
    usage_dups = _overlap_faults(usage.main.loc[usage_overlap, "submission_id"], "cookstove_usage",
                                 "cookstove_usage_odk.csv", "cookstove_usage_kobo.xlsx")

    ids = dist.main["submission_id"]
    uids = usage.main["submission_id"]
    in_dist_kobo = (dist_export == "stove_distribution_kobo.csv").to_numpy()
    in_dist_odk = ~in_dist_kobo | overlap
    in_usage_kobo = (usage_export == "cookstove_usage_kobo.xlsx").to_numpy()
    in_usage_odk = ~in_usage_kobo | usage_overlap
    handed, visited = dist_truth["commissioned_on"], usage_truth["visit_date"]
    exports = [
        ExportFile("stove_distribution_kobo.csv", "stove_distribution", "kobo_csv", "stove_distribution",
                   pd.Index(ids[in_dist_kobo]), note=f"handed over {_span(handed[in_dist_kobo])}"),
        ExportFile("stove_distribution_odk.zip", "stove_distribution", "odk_zip", "stove_distribution",
                   pd.Index(ids[in_dist_odk]),
                   note=f"handed over {_span(handed[in_dist_odk])}; {n_overlap} submissions also in the Kobo file"),
        ExportFile("cookstove_usage_kobo.xlsx", "cookstove_usage", "kobo_xlsx", "cookstove_usage",
                   pd.Index(uids[in_usage_kobo]), note=f"visits {_span(visited[in_usage_kobo])}"),
        ExportFile("cookstove_usage_odk.csv", "cookstove_usage", "odk_csv", "cookstove_usage",
                   pd.Index(uids[in_usage_odk]),
                   note=f"visits {_span(visited[in_usage_odk])}; {int(usage_overlap.sum())} submissions also in the Kobo file"),
    ]
    project = SampleProject(
        project_id=project_id, folder=folder, boundary=boundary,
        truth={"stove_distribution": dist_truth, "cookstove_usage": usage_truth},
        submissions={"stove_distribution": dist, "cookstove_usage": usage},
        exports=exports,
        faults=pd.concat([dist_faults, dist_dups, usage_faults, usage_dups], ignore_index=True),
    )
    if write:
        _write_project(project, {
            "project.yaml": MP_PROJECT_YAML,
            "boundary.geojson": _geojson([_feature(boundary, {"project_id": project_id, "name": "Improved cookstoves, Madhya Pradesh"})]),
        }, _mp_readme(project, seed))
    return project


def generate_in_mh_af_001(projects_dir: str | Path = PROJECTS_DIR, seed: int = MH_SEED, *,
                          write: bool = True) -> SampleProject:
    """(Re)generate the tree sample project IN-MH-AF-001 under ``projects_dir``.

    25 farm plots with 400 tagged trees planted 2024-06 … 2024-08 (Kobo CSV census), survival
    visits in MP1 (ODK CSV) and MP2 (Kobo CSV, ``;``), 30 planted bunds visited in MP1 (Kobo XLSX
    with a ``tree_measure`` sheet) and MP2 (ODK zip with ``bund_plantation-tree_measure.csv``).
    """
    project_id = "IN-MH-AF-001"
    folder = Path(projects_dir) / project_id
    boundary = make_boundary(20.00, 76.50, 12.0, 9.0, stage_rng(seed, "boundary"))
    # Each make_* schedules its own form, so the tree crew and the bund crew are different runners.
    team = make_team(101, 6, stage_rng(seed, "team"))
    bund_team = make_team(107, 3, stage_rng(seed, "bund-team"))
    plots = make_plots(boundary, 25, stage_rng(seed, "plots"))

    plant_truth = make_tree_planting(plots, 400, project_id=project_id, rng=stage_rng(seed, "planting"),
                                     first_day="2024-06-10", last_day="2024-08-31", team=team,
                                     species={"MEDU": 0.55, "TEGR": 0.45})
    plant = to_submissions(plant_truth, load_form("tree_planting"), server_id_base=331_000_000)
    plant_export = pd.Series("tree_planting_kobo.csv", index=plant.main.index)
    plant, plant_faults = inject_faults(plant, [
        FaultSpec("duplicate_id", n=3, question="tree_id"),
        FaultSpec("set", question="species_code", n=2, value="TEGA", detail="species not in the project parameters"),
        FaultSpec("blank", question="species_code"),
        FaultSpec("blank", question="plot_id"),
        FaultSpec("blank", question="planted_on"),
        FaultSpec("outside_boundary", n=2),
        FaultSpec("low_gps_accuracy", n=3),
    ], stage_rng(seed, "planting-faults"), boundary=boundary, export=plant_export)

    # Trees whose planting record is quarantined are not revisited, so the only unknown_tree
    # visits are the injected ones.
    accepted = plant_truth.loc[~plant_truth["submission_id"].isin(_quarantined(plant_faults))]
    surv1_truth = make_tree_survival(accepted, plots, rng=stage_rng(seed, "survival-mp1"), first_day="2025-09-01",
                                     last_day="2025-11-29", team=team)
    surv2_truth = make_tree_survival(accepted, plots, rng=stage_rng(seed, "survival-mp2"), first_day="2026-04-01",
                                     last_day="2026-06-13", team=team, previous=surv1_truth)
    survival_form = load_form("tree_survival")
    surv1 = to_submissions(surv1_truth, survival_form, server_id_base=362_000_000)
    surv2 = to_submissions(surv2_truth, survival_form, server_id_base=391_000_000)
    surv1, surv1_faults = inject_faults(surv1, [
        FaultSpec("unknown_id", n=3, question="tree_id", value="T9###"),
        FaultSpec("blank", question="status"),
        FaultSpec("blank", question="plot_id"),
        FaultSpec("set", question="gbh_cm", value="1250", detail="above 1000"),
        FaultSpec("set", question="height_m", value="75", detail="above 60"),
        FaultSpec("low_gps_accuracy", n=2),
        FaultSpec("repeat_visit", n=2, question="tree_id", same="plot_id"),
    ], stage_rng(seed, "survival-mp1-faults"), boundary=boundary,
        export=pd.Series("tree_survival_mp1_odk.csv", index=surv1.main.index))
    surv2, surv2_faults = inject_faults(surv2, [
        FaultSpec("unknown_id", n=2, question="tree_id", value="T9###"),
        FaultSpec("blank", question="status"),
        FaultSpec("set", question="gbh_cm", value="12,5", detail="decimal comma: not a number"),
        FaultSpec("outside_boundary", n=2),
        FaultSpec("low_gps_accuracy", n=2),
    ], stage_rng(seed, "survival-mp2-faults"), boundary=boundary,
        export=pd.Series("tree_survival_mp2_kobo.csv", index=surv2.main.index))

    bunds = make_bunds(plots, 30, rng=stage_rng(seed, "bunds"))
    bund1_truth, bund1_trees = make_bund_plantation(bunds, project_id=project_id, rng=stage_rng(seed, "bunds-mp1"),
                                                    first_day="2025-10-01", last_day="2025-12-13", team=bund_team)
    bund2_truth, bund2_trees = make_bund_plantation(bunds, project_id=project_id, rng=stage_rng(seed, "bunds-mp2"),
                                                    first_day="2026-04-15", last_day="2026-06-20", team=bund_team,
                                                    previous=bund1_truth)
    bund_form = load_form("bund_plantation")
    bund1 = to_submissions(bund1_truth, bund_form, {"tree_measure": bund1_trees}, server_id_base=371_000_000)
    bund2 = to_submissions(bund2_truth, bund_form, {"tree_measure": bund2_trees}, server_id_base=398_000_000)
    bund1, bund1_faults = inject_faults(bund1, [
        FaultSpec("alive_gt_planted", n=2),
        FaultSpec("repeat_set", n=2, question="m_species_code", value="AZIM", detail="species not in the project parameters"),
        FaultSpec("blank", question="saplings_planted"),
        FaultSpec("low_gps_accuracy", n=1),
    ], stage_rng(seed, "bunds-mp1-faults"), boundary=boundary,
        export=pd.Series("bund_plantation_mp1_kobo.xlsx", index=bund1.main.index))
    bund2, bund2_faults = inject_faults(bund2, [
        FaultSpec("alive_gt_planted", n=1),
        FaultSpec("repeat_set", n=1, question="m_species_code", value="NEEM", detail="species not in the project parameters"),
        FaultSpec("blank", question="bund_id"),
    ], stage_rng(seed, "bunds-mp2-faults"), boundary=boundary,
        export=pd.Series("bund_plantation_mp2_odk.zip", index=bund2.main.index))

    exports = [
        ExportFile("tree_planting_kobo.csv", "tree_planting", "kobo_csv", "tree_planting",
                   pd.Index(plant.main["submission_id"]), note=f"t = 0 census, planted {_span(plant_truth['planted_on'])}"),
        ExportFile("tree_survival_mp1_odk.csv", "tree_survival", "odk_csv", "tree_survival_mp1",
                   pd.Index(surv1.main["submission_id"]), note=f"MP1 visits {_span(surv1_truth['visit_date'])}"),
        ExportFile("tree_survival_mp2_kobo.csv", "tree_survival", "kobo_csv", "tree_survival_mp2",
                   pd.Index(surv2.main["submission_id"]), delimiter=";", note=f"MP2 visits {_span(surv2_truth['visit_date'])}"),
        ExportFile("bund_plantation_mp1_kobo.xlsx", "bund_plantation", "kobo_xlsx", "bund_plantation_mp1",
                   pd.Index(bund1.main["submission_id"]), note=f"MP1 visits {_span(bund1_truth['visit_date'])}; {len(bund1.repeats['tree_measure'])} rows on sheet `tree_measure`"),
        ExportFile("bund_plantation_mp2_odk.zip", "bund_plantation", "odk_zip", "bund_plantation_mp2",
                   pd.Index(bund2.main["submission_id"]), note=f"MP2 visits {_span(bund2_truth['visit_date'])}; {len(bund2.repeats['tree_measure'])} rows in `bund_plantation-tree_measure.csv`"),
    ]
    project = SampleProject(
        project_id=project_id, folder=folder, boundary=boundary, plots=plots,
        truth={"tree_planting": plant_truth, "tree_survival_mp1": surv1_truth, "tree_survival_mp2": surv2_truth,
               "bunds": bunds, "bund_plantation_mp1": bund1_truth, "bund_plantation_mp1/tree_measure": bund1_trees,
               "bund_plantation_mp2": bund2_truth, "bund_plantation_mp2/tree_measure": bund2_trees},
        submissions={"tree_planting": plant, "tree_survival_mp1": surv1, "tree_survival_mp2": surv2,
                     "bund_plantation_mp1": bund1, "bund_plantation_mp2": bund2},
        exports=exports,
        faults=pd.concat([plant_faults, surv1_faults, surv2_faults, bund1_faults, bund2_faults], ignore_index=True),
    )
    if write:
        _write_project(project, {
            "project.yaml": MH_PROJECT_YAML,
            "boundary.geojson": _geojson([_feature(boundary, {"project_id": project_id, "name": "Farm and bund trees, Maharashtra"})]),
            "plots.geojson": _geojson(_plot_features(plots)),
        }, _mh_readme(project, seed))
    return project


def _common_readme_tail(project: SampleProject, seed: int, generator: str) -> str:
    return f"""
## Injected faults

Each fault was injected into a separate submission, so a submission carries exactly the reasons
listed for it in `expected_faults.csv` (one row per submission and reason, with the question, the
partner submission for pair faults, and a human-readable detail). Counts per export and reason:

{_fault_summary(project)}

Quarantine reasons keep the row out of every calculation; warnings keep it. `duplicate_submission`
is not a quarantine reason: the same submission appears in two exports and must be stored once.

## Regenerating

Everything here is synthetic and generated by `pipelines/synth.py` (`{generator}` with seed
{seed}); `python -m pipelines.synth` rewrites this folder byte for byte. Do not edit the exports
by hand: change the generator instead. Licence: CC0 1.0 (see `tests/data/README.md`).
"""


def _mp_readme(project: SampleProject, seed: int) -> str:
    usage = project.truth["cookstove_usage"]
    return f"""# IN-MP-CS-001 — Improved cookstoves, Madhya Pradesh (synthetic sample)

A small, fully synthetic cookstove project (CDM AMS-II.G) for trying the pipeline and for tests.
The boundary is an irregular polygon of about 15 × 10 km of farmland south-west of Bhopal; the
households sit in 18 village clusters inside it. Twelve field runners (`R001` … `R012`) handed
over {len(project.truth['stove_distribution'])} ACME stoves (`ACME-R1`, `ACME-D2`) between 2024-03-01 and 2024-10-31 and
made {len(usage)} monitoring visits to households between 2025-03-01 and 2025-06-30 (monitoring
period MP1, 2024-07-01 … 2025-06-30).

| file | what |
|---|---|
| `project.yaml` | project parameters (fNRB, baseline fuel, stove models and their tested efficiency) |
| `boundary.geojson` | the project boundary (Polygon, EPSG:4326) |
| `exports/` | the files a field team would upload, one per server export |
| `expected_faults.csv` | ground truth: every injected fault (never uploaded) |

## Exports

{_exports_summary(project)}

The team moved from KoboToolbox to ODK Central during the distribution campaign, and both
servers' exports overlap: the last 20 distribution submissions of the Kobo export were also
exported from ODK Central, and 3 usage visits are in both usage files. Uploading everything
must count each of them once.

Try it:

```
mrv ingest data/projects/IN-MP-CS-001/exports/stove_distribution_kobo.csv --project IN-MP-CS-001
mrv ingest data/projects/IN-MP-CS-001/exports/stove_distribution_odk.zip --project IN-MP-CS-001
mrv ingest data/projects/IN-MP-CS-001/exports/cookstove_usage_kobo.xlsx --project IN-MP-CS-001
mrv ingest data/projects/IN-MP-CS-001/exports/cookstove_usage_odk.csv --project IN-MP-CS-001
mrv run --project IN-MP-CS-001 --period MP1
```

Upload the distribution exports before the usage exports: a visit to a stove without an accepted
distribution record is quarantined as `unknown_stove`. Stoves whose own distribution record is
quarantined are never visited, so the only `unknown_stove` visits are the injected ones.
{_common_readme_tail(project, seed, "generate_in_mp_cs_001")}"""


def _mh_readme(project: SampleProject, seed: int) -> str:
    s1 = project.truth["tree_survival_mp1"]
    alive1 = s1["status"] == "alive"
    s2 = project.truth["tree_survival_mp2"]
    alive2 = s2["status"] == "alive"

    def dbh_range(s, alive):
        d = s.loc[alive, "dbh_true_cm"]
        return f"{d.min():.1f}–{d.max():.1f} cm (median {d.median():.1f})"

    return f"""# IN-MH-AF-001 — Farm and bund trees, Maharashtra (synthetic sample)

A small, fully synthetic agroforestry project (VM0047, census approach) for trying the pipeline and
for tests. The boundary is an irregular polygon of about 12 × 9 km near 20.0° N 76.5° E; inside it
lie {len(project.plots)} farm plots (0.6–1.9 ha, `plots.geojson`, property `plot_id`) with {len(project.truth['tree_planting'])} tagged trees of
*Melia dubia* (`MEDU`) and *Tectona grandis* (`TEGR`), and {len(project.truth['bunds'])} bunds along plot edges planted with
*Azadirachta indica* (`AZIN`). Six runners (`R101` … `R106`) plant and revisit the tagged trees;
three (`R107` … `R109`) walk the bunds.

| file | what |
|---|---|
| `project.yaml` | project parameters (species wood density and root-to-shoot ratio, buffer rate), periods MP1 and MP2 |
| `boundary.geojson` | the project boundary (Polygon, EPSG:4326) |
| `plots.geojson` | farm plots (Polygons, properties `plot_id`, `farmer_id`, `area_ha`) |
| `exports/` | the files a field team would upload, one per server export |
| `expected_faults.csv` | ground truth: every injected fault (never uploaded) |

## Exports

{_exports_summary(project)}

What the trees look like (true values, before faults):

- MP1 (2025-09 … 2025-11): {alive1.sum()} of {len(s1)} visited trees alive, D {dbh_range(s1, alive1)};
  {int((alive1 & s1['gbh_cm'].isna()).sum())} live trees have a blank `gbh_cm` (stem too thin to tape at 1.37 m), {int((alive1 & (s1['dbh_true_cm'] < 5) & s1['gbh_cm'].notna()).sum())} more are measured
  below the 5 cm threshold, {int((alive1 & s1['height_m'].isna()).sum())} have a blank `height_m`.
- MP2 (2026-04 … 2026-06): {alive2.sum()} of {len(s2)} visited trees alive, D {dbh_range(s2, alive2)};
  {int((alive2 & s2['gbh_cm'].isna()).sum())} blank girths, {int((alive2 & s2['height_m'].isna()).sum())} blank heights.
- About 3 % of the planted trees are not visited in each period (they count as dead).
- Bunds: 3–6 measured trees per visit; `saplings_planted` is the bund's census count.

Try it:

```
mrv ingest data/projects/IN-MH-AF-001/exports/tree_planting_kobo.csv --project IN-MH-AF-001
mrv ingest data/projects/IN-MH-AF-001/exports/tree_survival_mp1_odk.csv --project IN-MH-AF-001
mrv ingest data/projects/IN-MH-AF-001/exports/bund_plantation_mp1_kobo.xlsx --project IN-MH-AF-001
mrv run --project IN-MH-AF-001 --period MP1
mrv ingest data/projects/IN-MH-AF-001/exports/tree_survival_mp2_kobo.csv --project IN-MH-AF-001
mrv ingest data/projects/IN-MH-AF-001/exports/bund_plantation_mp2_odk.zip --project IN-MH-AF-001
mrv run --project IN-MH-AF-001 --period MP2
```

Upload the planting census first: a survival visit to a tree without an accepted planting record is
quarantined as `unknown_tree`. Trees whose own planting record is quarantined are never revisited,
so the only `unknown_tree` visits are the injected ones. A `repeat_visit` re-points a later visit at
another tree of the same plot, so the tree it really was goes without a visit in that period.
{_common_readme_tail(project, seed, "generate_in_mh_af_001")}"""


SCALED_FAULTS = ("blank", "set", "wrong_project", "no_gps", "outside_boundary", "future_date", "short_interview",
                 "low_gps_accuracy", "duplicate_id", "unknown_id", "photo_reused")


def synth_cookstove_project(projects_dir: str | Path, project_id: str, n_stoves: int, n_visits: int, *,
                            seed: int = 1, fault_rate: float = 0.01, flavours: tuple[str, str] = ("kobo_csv", "odk_csv"),
                            batches: int = 1, fault_rates: Mapping[str, float] | None = None) -> SampleProject:
    """A cookstove project of any size, deterministic from `seed`, for benchmarks and load tests.

    `n_stoves` distribution records and `n_visits` usage visits, split into `batches` export files per
    form (flavours: distribution, usage); each applicable fault of the contract is injected into
    about `fault_rate` of the submissions (0 for clean data), or the share `fault_rates` gives its reason
    code. The project folder gets project.yaml, boundary.geojson and ``exports/`` like the bundled samples.
    """
    folder = Path(projects_dir) / project_id
    boundary = make_boundary(23.10, 77.28, 60.0, 40.0, stage_rng(seed, "boundary"))
    villages = max(18, -(-n_stoves // 500))  # one runner per village, ~500 stoves each
    team = make_team(1, villages, stage_rng(seed, "team"))
    dist_truth = make_stove_distribution(
        n_stoves, project_id=project_id, boundary=boundary, rng=stage_rng(seed, "distribution"),
        first_day="2024-03-01", last_day="2024-10-31", models={"ACME-R1": 0.6, "ACME-D2": 0.4}, team=team,
        n_villages=villages, per_day=20)
    dist = to_submissions(dist_truth, load_form("stove_distribution"), server_id_base=500_000_000)
    usage_truth = make_cookstove_usage(dist_truth, n_visits, rng=stage_rng(seed, "usage"), first_day="2025-01-02",
                                       last_day="2025-06-30", team=team, per_day=20)
    usage = to_submissions(usage_truth, load_form("cookstove_usage"), server_id_base=600_000_000)
    faults = []
    if fault_rate > 0 or fault_rates:
        specs = {
            "stove_distribution": [
                FaultSpec("blank", question="household_id", rate=fault_rate),
                FaultSpec("set", question="stove_model", value="ACME-X9", rate=fault_rate),
                FaultSpec("wrong_project", value=f"{project_id}-X", rate=fault_rate),
                FaultSpec("no_gps", rate=fault_rate), FaultSpec("outside_boundary", rate=fault_rate),
                FaultSpec("future_date", question="commissioned_on", rate=fault_rate),
                FaultSpec("short_interview", rate=fault_rate), FaultSpec("low_gps_accuracy", rate=fault_rate),
                FaultSpec("duplicate_id", question="stove_serial", copy=("stove_model",), rate=fault_rate),
                FaultSpec("photo_reused", question="photo_stove", rate=fault_rate),
            ],
            "cookstove_usage": [
                FaultSpec("blank", question="household_size", rate=fault_rate),
                FaultSpec("set", question="household_size", value="45", rate=fault_rate),
                FaultSpec("wrong_project", value=f"{project_id}-X", rate=fault_rate),
                FaultSpec("no_gps", rate=fault_rate), FaultSpec("outside_boundary", rate=fault_rate),
                FaultSpec("future_date", question="visit_date", rate=fault_rate),
                FaultSpec("short_interview", rate=fault_rate), FaultSpec("low_gps_accuracy", rate=fault_rate),
                FaultSpec("unknown_id", question="stove_serial", value="ACM24-9#####", rate=fault_rate),
            ],
        }
        check_fault_rates([*specs["stove_distribution"], *specs["cookstove_usage"]], fault_rates)
        specs = {form: with_fault_rates(form_specs, fault_rates) for form, form_specs in specs.items()}
        dist, f1 = inject_faults(dist, specs["stove_distribution"], stage_rng(seed, "distribution-faults"), boundary=boundary)
        usage, f2 = inject_faults(usage, specs["cookstove_usage"], stage_rng(seed, "usage-faults"), boundary=boundary)
        faults = [f1, f2]
    exports: list[ExportFile] = []
    for form_id, subs, flavour in (("stove_distribution", dist, flavours[0]), ("cookstove_usage", usage, flavours[1])):
        ids = subs.main["submission_id"]
        for b, chunk in enumerate(np.array_split(np.arange(len(ids)), batches)):
            suffix = {"kobo_csv": "csv", "kobo_xlsx": "xlsx", "odk_csv": "csv", "odk_zip": "zip"}[flavour]
            exports.append(ExportFile(f"{form_id}_{b + 1:04d}.{suffix}", form_id, flavour, form_id,
                                      pd.Index(ids.iloc[chunk])))
    project = SampleProject(project_id, folder, boundary, {"stove_distribution": dist_truth, "cookstove_usage": usage_truth},
                            {"stove_distribution": dist, "cookstove_usage": usage}, exports,
                            pd.concat(faults, ignore_index=True) if faults else pd.DataFrame(columns=FAULT_COLUMNS))
    (folder / "exports").mkdir(parents=True, exist_ok=True)
    (folder / "project.yaml").write_text(MP_PROJECT_YAML.replace("IN-MP-CS-001", project_id), encoding="utf-8")
    (folder / "boundary.geojson").write_text(_geojson([_feature(boundary, {"project_id": project_id})]), encoding="utf-8")
    for export in exports:
        write_export(project.submissions[export.dataset], export, folder / "exports")
    return project


# ---------------------------------------------------------------------------------------------
# Tree projects of any size (`mrv synth --kind trees`)

SYNTH_FLAVOURS = ("kobo", "odk", "mixed")
MAX_TREE_FAULT_RATE = 0.04
"""Each of about sixteen faults takes this share of a form's submissions (pair faults two rows), and so
do the overlaps between files: at this rate some four fifths of a form's rows are spoken for."""
TREES_PER_PLOT = 16  # as in IN-MH-AF-001 (400 tagged trees on 25 plots): about 13 trees per hectare
BUNDS_PER_PLOT = 2  # farmers who plant bunds plant two edges of their plot on average
BUND_DENSITY_PER_HA = 45.0  # saplings per hectare of a bund plot, under VM0047's census limit of 50
TREE_SPECIES = {"MEDU": 0.55, "TEGR": 0.45}
TREE_WINDOWS = {
    "tree_planting": ("2024-06-10", "2024-08-31"),
    "tree_survival_mp1": ("2025-09-01", "2025-11-29"),
    "tree_survival_mp2": ("2026-04-01", "2026-06-13"),
    "bund_plantation_mp1": ("2025-10-01", "2025-12-13"),
    "bund_plantation_mp2": ("2026-04-15", "2026-06-20"),
}
XLSX_MAX_ROWS = 1_048_576  # rows of one worksheet, header included
PLOT_REASON_KIND = {"outside_plot": "warning"}
"""A pipeline warning beyond the contract's table: a tree or bund point outside its own plot."""


def _boundary_and_plots(n_plots: int, seed: int) -> tuple[shapely.Polygon, pd.DataFrame]:
    """A boundary (about 4 × 3) just large enough for ``n_plots`` plots of ``make_plots``, and the plots."""
    cell_km2 = 0.48 ** 2  # make_plots puts at most one plot in each 480 m grid cell
    width = max(12.0, float(np.sqrt(n_plots * cell_km2 / 0.8 * (4 / 3) * (4 / np.pi))) + 2.0)
    for _ in range(8):
        boundary = make_boundary(20.00, 76.50, width, 0.75 * width, stage_rng(seed, "boundary"))
        try:
            return boundary, make_plots(boundary, n_plots, stage_rng(seed, "plots"))
        except ValueError:  # this wobble of the boundary holds too few plots: draw a larger one
            width *= 1.2
    raise ValueError(f"no boundary found that holds {n_plots} plots")


def _team_size(runner_days: int, windows: Sequence[str], minimum: int) -> int:
    """Runners enough that each works on at most about 40 % of the work days of the shortest window."""
    days = min(_workdays(*TREE_WINDOWS[w]).size for w in windows)
    return max(minimum, -(-runner_days // int(0.4 * days)))


def _distinct_photos(names: pd.Series, taken: np.ndarray) -> np.ndarray:
    """Photo names (``<epoch ms>.jpg``) moved on by a millisecond until no two are alike and none is in
    ``taken`` (the integrity rules compare photos across every form of a project)."""
    ms = names.str[:-4].astype("int64").to_numpy().copy()
    while True:
        clash = pd.Series(ms).duplicated().to_numpy() | np.isin(ms, taken)
        if not clash.any():
            return (pd.Series(ms).astype("string") + ".jpg").to_numpy()
        ms[clash] += 1


def _snap_into_plots(lon, lat, plot_ids, plots: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Points outside their own plot moved onto its edge (GPS noise must not read as a tree off its plot)."""
    lon = np.array(lon, dtype=float)
    lat = np.array(lat, dtype=float)
    geoms = plots.set_index("plot_id")["geometry"].reindex(pd.Index(np.asarray(plot_ids))).to_numpy()
    ok = ~pd.isna(geoms) & np.isfinite(lon) & np.isfinite(lat)
    out = np.zeros(lon.size, dtype=bool)
    out[ok] = ~shapely.contains_xy(geoms[ok], lon[ok], lat[ok])
    if out.any():
        ring = shapely.get_exterior_ring(geoms[out])
        edge = shapely.line_interpolate_point(ring, shapely.line_locate_point(ring, shapely.points(lon[out], lat[out])))
        lon[out], lat[out] = shapely.get_x(edge), shapely.get_y(edge)
    return lon, lat


def _plan_exports(subs: Submissions, dataset: str, flavour: str, batches: int, overlap_rate: float,
                  delimiter: str = ",") -> tuple[pd.Series, np.ndarray, list[ExportFile], pd.DataFrame]:
    """Split a dataset into export files in order of receipt (server id).

    ``flavour``: all KoboToolbox, all ODK Central, or ``mixed`` (at least two files: KoboToolbox first,
    ODK Central later, as when a team changes servers). A form with a repeat goes out as Kobo XLSX
    (a sheet per repeat) or an ODK zip. The last ``overlap_rate`` of each file's submissions are in the
    next file too (overlapping date ranges), where they are duplicates to store once. Returns each row's
    (first) file, the mask of rows in two files, the files, and the ground truth of the overlaps.
    """
    form_id = subs.layout.form_id
    main = subs.main
    ids = main["submission_id"].to_numpy()
    n_files = max(2, batches) if flavour == "mixed" else batches
    order = np.argsort(main["server_id"].to_numpy(), kind="stable")
    chunks = [c for c in np.array_split(order, n_files) if c.size]
    export = np.empty(len(main), dtype=object)
    overlap = np.zeros(len(main), dtype=bool)
    files: list[ExportFile] = []
    dups: list[pd.DataFrame] = []
    for i, rows in enumerate(chunks):  # one pass per export file
        app = "kobo" if flavour == "kobo" or (flavour == "mixed" and i < (len(chunks) + 1) // 2) else "odk"
        kind = {("kobo", False): "kobo_csv", ("kobo", True): "kobo_xlsx", ("odk", False): "odk_csv",
                ("odk", True): "odk_zip"}[app, bool(subs.layout.repeats)]
        name = f"{dataset}_{i + 1:04d}_{app}.{kind.split('_')[1]}"
        export[rows] = name
        carried = rows[:0]
        if i:
            before = chunks[i - 1]
            carried = before[before.size - min(before.size, int(round(overlap_rate * before.size))):]
            overlap[carried] = True
            dups.append(_overlap_faults(pd.Series(ids[carried]), form_id, name, files[-1].name))
        if kind == "kobo_xlsx":
            held = np.r_[carried, rows]
            longest = max([held.size] + [int(r["submission_id"].isin(ids[held]).sum()) for r in subs.repeats.values()])
            if longest >= XLSX_MAX_ROWS:
                raise ValueError(f"{name} would hold {longest:,} rows on one sheet, more than an XLSX sheet can; "
                                 "split it into more batches (--batches)")
        note = f"{carried.size} submissions also in `{files[-1].name}`" if carried.size else ""
        files.append(ExportFile(name, form_id, kind, dataset, pd.Index(ids[np.r_[carried, rows]]),
                                delimiter=delimiter if kind == "kobo_csv" else ",", note=note))
    truth = pd.concat(dups, ignore_index=True)[FAULT_COLUMNS] if dups else pd.DataFrame(columns=FAULT_COLUMNS)
    return pd.Series(export, dtype="string"), overlap, files, truth


def _may_run_too_fast(main: pd.DataFrame, export: pd.Series) -> np.ndarray:
    """Rows a ``runner_too_fast`` fault may move: the runner's last of the day, following a submission of
    the same day in the same file. The runner's next stop is then a day later (so only the moved row is
    too fast), and both submissions of the pair are in one upload."""
    start = _parse_local(main["start"])
    runner = main["runner_id"].fillna("").to_numpy()
    order = np.lexsort((start.to_numpy(), runner))
    r = runner[order]
    day = start.dt.normalize().to_numpy()[order]
    file = export.to_numpy()[order]
    same_day = np.r_[False, (r[1:] == r[:-1]) & (day[1:] == day[:-1])]
    last = np.r_[~same_day[1:], True]
    same_file = np.r_[False, file[1:] == file[:-1]]
    eligible = np.zeros(len(main), dtype=bool)
    eligible[order] = last & same_day & same_file
    return eligible


def _tree_fault_specs(form_id: str, project_id: str, rate: float, unknown_tree: str,
                      may_run_too_fast: np.ndarray) -> list[FaultSpec]:
    """Every fault of the contract that applies to a tree form, each at ``rate``; pair faults first."""
    own = {
        "tree_planting": [
            FaultSpec("duplicate_id", question="tree_id", rate=rate),
            FaultSpec("photo_reused", question="photo_tree", rate=rate),
            FaultSpec("blank", question="species_code", rate=rate),
            FaultSpec("set", question="species_code", value="TEGA", rate=rate, detail="species not in the project parameters"),
            FaultSpec("future_date", question="planted_on", rate=rate),
        ],
        "tree_survival": [
            FaultSpec("repeat_visit", question="tree_id", same="plot_id", rate=rate),
            FaultSpec("photo_reused", question="photo_tree", rate=rate),
            FaultSpec("unknown_id", question="tree_id", value=unknown_tree, rate=rate),
            FaultSpec("blank", question="status", rate=rate),
            FaultSpec("set", question="gbh_cm", value="1250", rate=rate, detail="above 1000"),
            FaultSpec("future_date", question="visit_date", rate=rate),
        ],
        "bund_plantation": [
            FaultSpec("photo_reused", question="photo_bund", rate=rate),
            FaultSpec("blank", question="saplings_planted", rate=rate),
            FaultSpec("alive_gt_planted", rate=rate),
            FaultSpec("repeat_set", question="m_species_code", value="AZIM", rate=rate,
                      detail="species not in the project parameters"),
            FaultSpec("future_date", question="visit_date", rate=rate),
        ],
    }[form_id]
    return [FaultSpec("runner_too_fast", rate=rate, where=may_run_too_fast), *own,
            FaultSpec("wrong_project", value=f"{project_id}-X", rate=rate), FaultSpec("no_gps", rate=rate),
            FaultSpec("outside_boundary", rate=rate), FaultSpec("low_gps_accuracy", rate=rate),
            FaultSpec("short_interview", rate=rate), FaultSpec("end_before_start", rate=rate)]


def _settle_tree_faults(subs: Submissions, faults: pd.DataFrame, export: pd.Series, files: list[ExportFile],
                        plots: pd.DataFrame) -> pd.DataFrame:
    """Make each injected fault read the one way the contract allows, whatever the upload order.

    - ``photo_reused``: both submissions show the photo, but only the later upload can see the other; the
      ground truth names the one in the later (or same) file.
    - ``repeat_visit``: both visits are on one day, so the later visit must also be the later received
      (later in its file); its point is kept on its plot.
    - ``runner_too_fast`` moves a tree or bund kilometres off its plot: the ``outside_plot`` warning too.
    """
    main = subs.main
    faults = faults.copy()
    file_of = pd.Series(export.to_numpy(), index=main["submission_id"].to_numpy())
    rank = {f.name: i for i, f in enumerate(files)}
    photo = faults["reason"] == "photo_reused"
    sid, other = faults.loc[photo, "submission_id"], faults.loc[photo, "related_submission_id"]
    swap = (file_of.loc[sid].map(rank).to_numpy() < file_of.loc[other].map(rank).to_numpy())
    idx = faults.index[photo][swap]
    faults.loc[idx, ["submission_id", "related_submission_id"]] = faults.loc[idx, ["related_submission_id", "submission_id"]].to_numpy()
    faults.loc[idx, "export"] = file_of.loc[faults.loc[idx, "submission_id"]].to_numpy()

    repeat = faults.loc[faults["reason"] == "repeat_visit"]
    if len(repeat):
        pos = pd.Series(main.index, index=main["submission_id"].to_numpy())
        r, p = pos.loc[repeat["submission_id"]].to_numpy(), pos.loc[repeat["related_submission_id"]].to_numpy()
        early = main.loc[r, "submitted_at"].to_numpy() <= main.loc[p, "submitted_at"].to_numpy()
        main.loc[r[early], "submitted_at"] = main.loc[p[early], "submitted_at"].to_numpy() + np.timedelta64(1, "ms")
        main["server_id"] = (main["server_id"].min() - 1) + main["submitted_at"].rank(method="first").astype("int64")
        g = _split_geopoint(main.loc[r, "location"])
        lon, lat = _snap_into_plots(g["lon"], g["lat"], main.loc[r, "plot_id"], plots)
        main.loc[r, "location"] = _join_geopoint(lat, lon, g["alt"], g["acc"]).to_numpy()

    fast = faults.loc[faults["reason"] == "runner_too_fast"]
    plot_of = main.set_index("submission_id")["plot_id"]
    off_plot = fast.assign(reason="outside_plot", kind=PLOT_REASON_KIND["outside_plot"], related_submission_id="",
                           detail=("moved off plot " + plot_of.loc[fast["submission_id"]].astype("string")).to_numpy())
    return pd.concat([faults, off_plot], ignore_index=True)


def _tree_dataset(truth: pd.DataFrame, dataset: str, form_id: str, *, project_id: str, seed: int, boundary: shapely.Polygon,
                  plots: pd.DataFrame, flavour: str, batches: int, fault_rate: float, server_id_base: int,
                  fault_rates: Mapping[str, float] | None = None,
                  repeats: Mapping[str, pd.DataFrame] | None = None, unknown_tree: str = "",
                  delimiter: str = ",") -> tuple[Submissions, list[ExportFile], pd.DataFrame]:
    """One dataset of a tree project: submissions, export files, injected faults with their ground truth."""
    subs = to_submissions(truth, load_form(form_id), repeats, server_id_base=server_id_base)
    export, overlap, files, faults = _plan_exports(subs, dataset, flavour, batches, fault_rate, delimiter)
    if fault_rate > 0 or fault_rates:
        specs = _tree_fault_specs(form_id, project_id, fault_rate, unknown_tree, _may_run_too_fast(subs.main, export))
        specs = with_fault_rates(specs, fault_rates)
        try:
            subs, injected = inject_faults(subs, specs, stage_rng(seed, f"{dataset}-faults"), boundary=boundary,
                                           export=export, protected=overlap)
        except ValueError as exc:
            raise ValueError(f"{dataset}: {len(subs.main)} submissions cannot take a fault rate of {fault_rate} ({exc})") from exc
        faults = pd.concat([faults, _settle_tree_faults(subs, injected, export, files, plots)], ignore_index=True)
    return subs, files, faults


def synth_tree_project(projects_dir: str | Path, project_id: str, trees: int, bunds: int | None = None, *,
                       seed: int = 1, fault_rate: float = 0.01, flavour: str = "mixed",
                       batches: int = 1, fault_rates: Mapping[str, float] | None = None) -> SampleProject:
    """A VM0047 tree project of any size, deterministic from `seed`, for benchmarks and load tests.

    Like IN-MH-AF-001, scaled: `trees` tagged trees on farm plots (about 16 a plot), planted in 2024 and
    revisited in MP1 and MP2, and `bunds` planted bunds (default `trees` / 16, two a plot on plots of
    their own) walked in MP1 and MP2 with 3–6 measured trees each in the `tree_measure` repeat. Each
    form's submissions go out in `batches` export files per dataset (`flavour` kobo, odk, or mixed:
    Kobo first, ODK later, at least two files), and each applicable fault of the contract is injected
    into about `fault_rate` of the submissions (or the share `fault_rates` gives its reason code), as
    are overlaps between consecutive files (0 for clean data). The folder gets project.yaml, boundary.geojson, plots.geojson, ``exports/``,
    expected_faults.csv and a README, like the bundled samples; upload the exports in file-name order.
    """
    bunds = trees // TREES_PER_PLOT if bunds is None else bunds
    if trees < 0 or bunds < 0 or trees + bunds == 0:
        raise ValueError("a tree project needs trees or bunds (neither may be negative)")
    if not all(0 <= rate <= MAX_TREE_FAULT_RATE for rate in [fault_rate, *(fault_rates or {}).values()]):
        raise ValueError(f"fault_rate must be between 0 and {MAX_TREE_FAULT_RATE}")
    check_fault_rates([spec for form in ("tree_planting", "tree_survival", "bund_plantation")
                       for spec in _tree_fault_specs(form, project_id, fault_rate, "T9###", np.zeros(0, dtype=bool))],
                      fault_rates)
    if flavour not in SYNTH_FLAVOURS or batches < 1:
        raise ValueError(f"flavour must be one of {', '.join(SYNTH_FLAVOURS)} and batches at least 1")
    folder = Path(projects_dir) / project_id
    n_tree_plots = -(-trees // TREES_PER_PLOT)
    n_bund_plots = -(-bunds // BUNDS_PER_PLOT)
    boundary, plots = _boundary_and_plots(n_tree_plots + n_bund_plots, seed)
    # Tagged trees and bunds are on different farms, so no plot goes over the census density limit.
    is_tree_plot = np.zeros(len(plots), dtype=bool)
    is_tree_plot[stage_rng(seed, "tree-plots").choice(len(plots), n_tree_plots, replace=False)] = True
    tree_plots = plots.loc[is_tree_plot].reset_index(drop=True)
    bund_plots = plots.loc[~is_tree_plot].reset_index(drop=True)
    team = make_team(101, _team_size(n_tree_plots, ["tree_planting", "tree_survival_mp1", "tree_survival_mp2"], 6),
                     stage_rng(seed, "team"))
    bund_team = make_team(101 + len(team), _team_size(n_bund_plots, ["bund_plantation_mp1", "bund_plantation_mp2"], 3),
                          stage_rng(seed, "bund-team"))
    common = dict(project_id=project_id, seed=seed, boundary=boundary, plots=plots, flavour=flavour, batches=batches,
                  fault_rate=fault_rate, fault_rates=fault_rates)
    truth: dict[str, pd.DataFrame] = {}
    submissions: dict[str, Submissions] = {}
    exports: list[ExportFile] = []
    faults: list[pd.DataFrame] = []
    photos = np.array([], dtype=np.int64)

    def add(dataset: str, form_id: str, frame: pd.DataFrame, photo: str, **kwargs) -> None:
        """Submissions, exports and faults of one dataset; its photo names unlike every other's."""
        nonlocal photos
        frame[photo] = _distinct_photos(frame[photo].astype("string"), photos)
        photos = np.r_[photos, frame[photo].str[:-4].astype("int64").to_numpy()]
        truth[dataset] = frame
        subs, files, found = _tree_dataset(frame, dataset, form_id, **common, **kwargs)
        submissions[dataset] = subs
        exports.extend(files)
        faults.append(found)

    if trees:
        plant_truth = make_tree_planting(tree_plots, trees, project_id=project_id, rng=stage_rng(seed, "planting"),
                                         first_day=TREE_WINDOWS["tree_planting"][0],
                                         last_day=TREE_WINDOWS["tree_planting"][1], team=team, species=TREE_SPECIES)
        add("tree_planting", "tree_planting", plant_truth, "photo_tree", server_id_base=331_000_000)
        # Trees whose planting record is quarantined are never revisited: the only unknown_tree
        # visits are the injected ones, whose tag numbers ("T9…", one digit longer) were never issued.
        accepted = plant_truth.loc[~plant_truth["submission_id"].isin(_quarantined(faults[-1]))]
        unknown_tree = "T9" + "#" * (max(4, len(str(trees))) + 2)
        previous = None
        for period, base, delimiter in (("mp1", 362_000_000, ","), ("mp2", 391_000_000, ";")):
            dataset = f"tree_survival_{period}"
            surv = make_tree_survival(accepted, tree_plots, rng=stage_rng(seed, f"survival-{period}"),
                                      first_day=TREE_WINDOWS[dataset][0], last_day=TREE_WINDOWS[dataset][1], team=team,
                                      previous=previous)
            surv["location_longitude"], surv["location_latitude"] = _snap_into_plots(
                surv["location_longitude"], surv["location_latitude"], surv["plot_id"], tree_plots)
            add(dataset, "tree_survival", surv, "photo_tree", server_id_base=base, unknown_tree=unknown_tree,
                delimiter=delimiter)
            previous = surv
    if bunds:
        bund_frame = make_bunds(bund_plots, bunds, rng=stage_rng(seed, "bunds"))
        on_plot = bund_frame.groupby("plot_id")["bund_id"].transform("size").to_numpy()
        area = bund_plots.set_index("plot_id")["area_ha"].reindex(bund_frame["plot_id"]).to_numpy()
        cap = np.maximum(1, np.floor(BUND_DENSITY_PER_HA * area / on_plot)).astype(np.int64)
        bund_frame["saplings_planted"] = np.minimum(bund_frame["saplings_planted"].to_numpy(), cap)
        truth["bunds"] = bund_frame
        previous = None
        for period, base in (("mp1", 371_000_000), ("mp2", 398_000_000)):
            dataset = f"bund_plantation_{period}"
            main, measured = make_bund_plantation(bund_frame, project_id=project_id, rng=stage_rng(seed, f"bunds-{period}"),
                                                  first_day=TREE_WINDOWS[dataset][0], last_day=TREE_WINDOWS[dataset][1],
                                                  team=bund_team, previous=previous, by_plot=True)
            main["location_longitude"], main["location_latitude"] = _snap_into_plots(
                main["location_longitude"], main["location_latitude"], main["plot_id"], bund_plots)
            truth[f"{dataset}/tree_measure"] = measured
            add(dataset, "bund_plantation", main, "photo_bund", server_id_base=base, repeats={"tree_measure": measured})
            previous = main

    project = SampleProject(project_id, folder, boundary, truth, submissions, exports,
                            pd.concat(faults, ignore_index=True), plots=plots)
    name = f"Synthetic farm and bund trees (mrv synth, seed {seed})"
    yaml = MH_PROJECT_YAML.replace("IN-MH-AF-001", project_id).replace("Farm and bund trees, Maharashtra", name)
    _write_project(project, {
        "project.yaml": yaml,
        "boundary.geojson": _geojson([_feature(boundary, {"project_id": project_id, "name": name})]),
        "plots.geojson": _geojson(_plot_features(plots), indent=None),  # one line: the C encoder, fast for many plots
    }, _tree_readme(project, trees=trees, bunds=bunds, seed=seed, fault_rate=fault_rate, flavour=flavour,
                    batches=batches), fast_xlsx=True)
    return project


def _tree_readme(project: SampleProject, *, trees: int, bunds: int, seed: int, fault_rate: float, flavour: str,
                 batches: int) -> str:
    faults = _fault_summary(project) if len(project.faults) else "(none: clean data)"
    return f"""# {project.project_id} — synthetic farm and bund trees (VM0047 census)

Generated by `mrv synth --kind trees --project {project.project_id} --trees {trees} --bunds {bunds} --seed {seed}
--fault-rate {fault_rate} --flavour {flavour} --batches {batches}` (`pipelines/synth.py`,
`synth_tree_project`); the same command writes these files byte for byte again. {trees} tagged trees on
farm plots, planted {TREE_WINDOWS['tree_planting'][0]} … {TREE_WINDOWS['tree_planting'][1]} and revisited in MP1 and MP2; {bunds} planted
bunds on other plots, walked in MP1 and MP2 with a few trees measured on each (`tree_measure` repeat).
{len(project.plots)} plots in `plots.geojson`. Everything is synthetic (CC0 1.0).

Upload the exports in file-name order (the planting census first: a survival visit to a tree without
an accepted planting record is `unknown_tree`), then `mrv run --project {project.project_id} --period MP1`
and `--period MP2`.

## Exports

{_exports_summary(project)}

## Injected faults (`expected_faults.csv`)

One submission carries exactly the reasons listed for it. `duplicate_submission` rows are
submissions in two consecutive files: stored once. A `runner_too_fast` submission is moved kilometres
away, so it is also off its plot (`outside_plot`, a pipeline warning beyond the contract's table).

{faults}
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the bundled sample projects (``python -m pipelines.synth``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects-dir", type=Path, default=PROJECTS_DIR,
                        help="folder holding one folder per project (default: data/projects of this checkout)")
    args = parser.parse_args(argv)
    for generate in (generate_in_mp_cs_001, generate_in_mh_af_001):
        project = generate(args.projects_dir)
        print(f"{project.project_id}: {len(project.exports)} exports, {len(project.faults)} fault rows -> {project.folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
