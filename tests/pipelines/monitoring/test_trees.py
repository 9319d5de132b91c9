"""A tree project end to end without Dagster: Kobo/ODK exports -> ingest -> two VM0047 periods.

The exports are written here column by column the way the two apps lay them out (contracts/forms.md;
group names from schemas/forms/*.xlsx: ``tree/`` in tree_planting, ``measurement/`` in
tree_survival, ``farm-`` in bund_plantation). The expected removals are worked out by hand below
from the contract's equations on the known inputs, not with the pipeline's code.
"""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipelines import periods
from pipelines.errors import UserError
from pipelines.ingest import ingest_in_process
from pipelines.methodology import vm0047_census
from pipelines.monitoring import trees
from pipelines.parameters import resolve_parameters
from pipelines.project import load_project
from pipelines.report.package import write_package
from pipelines.settings import DataHome

PID = "T-AR-1"
BOUNDARY = [[77.0, 23.0], [77.2, 23.0], [77.2, 23.2], [77.0, 23.2], [77.0, 23.0]]
PLOTS = {"P1": [[77.05, 23.05], [77.06, 23.05], [77.06, 23.06], [77.05, 23.06], [77.05, 23.05]],
         "P2": [[77.10, 23.10], [77.11, 23.10], [77.11, 23.11], [77.10, 23.11], [77.10, 23.10]]}
WOOD_DENSITY = {"MEDU": 0.389, "TEGR": 0.568}
ROOT_SHOOT = {"MEDU": 0.25, "TEGR": 0.27}
CF, D_MIN, ALLOWANCE, BUFFER = 0.47, 5.0, 0.10, 0.15

PROJECT_YAML = f"""\
project_id: {PID}
name: Test trees on bunds and plots
methodology: vm0047-census
country: IN
boundary: boundary.geojson
plots: plots.geojson
monitoring_periods:
  - {{id: MP1, start: 2024-01-01, end: 2024-12-31}}
  - {{id: MP2, start: 2025-01-01, end: 2026-06-30}}
parameters:
  buffer_rate: 0.15
  species:
    MEDU: {{wood_density: 0.389, root_shoot: 0.25, source: test}}
    TEGR: {{wood_density: 0.568, root_shoot: 0.27, source: test}}
"""

# (tree_id, plot_id, species_code, planted_on). T12's species is not a project species: quarantined.
PLANTINGS = [("T01", "P1", "MEDU", "2023-07-01"), ("T02", "P1", "MEDU", "2023-07-01"),
             ("T03", "P1", "MEDU", "2023-07-01"), ("T04", "P1", "MEDU", "2023-07-01"),
             ("T05", "P1", "MEDU", "2023-07-01"), ("T06", "P1", "MEDU", "2023-07-01"),
             ("T07", "P1", "MEDU", "2023-07-01"), ("T08", "P2", "TEGR", "2023-07-02"),
             ("T09", "P2", "TEGR", "2023-07-02"), ("T10", "P2", "TEGR", "2023-07-02"),
             ("T11", "P1", "MEDU", "2025-02-01"), ("T12", "P2", "AZIN", "2023-07-02")]

# (tree_id, visit_date, status, gbh_cm, height_m). T01 is visited twice in MP1 (the later visit
# counts); T12 has no accepted planting record (unknown_tree).
SURVIVAL = [("T01", "2024-03-01", "alive", 20, 4.0), ("T01", "2024-10-01", "alive", 25, 5.0),
            ("T02", "2024-10-01", "alive", 30, 6.0), ("T03", "2024-10-01", "alive", 12, 2.5),
            ("T04", "2024-10-02", "dead", None, None), ("T05", "2024-10-02", "not_found", None, None),
            ("T07", "2024-10-02", "alive", 28, None), ("T08", "2024-10-03", "alive", 22, 3.0),
            ("T09", "2024-10-03", "alive", 19, 2.8), ("T10", "2024-10-03", "dead", None, None),
            ("T12", "2024-10-03", "alive", 30, 5.0),
            ("T01", "2025-10-01", "alive", 35, 7.0), ("T02", "2025-10-01", "alive", 40, 8.0),
            ("T03", "2025-10-01", "alive", 20, 4.0), ("T04", "2025-10-01", "dead", None, None),
            ("T06", "2025-10-01", "alive", 30, 6.0), ("T07", "2025-10-02", "alive", 33, 6.5),
            ("T08", "2025-10-02", "alive", 30, 4.5), ("T09", "2025-10-02", "alive", 26, 4.0),
            ("T10", "2025-10-02", "dead", None, None), ("T11", "2026-03-01", "alive", 10, 1.5)]

# (bund_id, visit_date, species_code, saplings_planted, saplings_alive, [(m_species, gbh, height)]).
# B2 is visited twice in MP2 (the later visit counts); B3 says more alive than planted (bad_value).
BUNDS = [("B1", "2024-10-15", "TEGR", 2000, 1600, [("TEGR", 24, 3.5), ("TEGR", 27, 3.8), ("TEGR", 21, 3.2)]),
         ("B2", "2024-10-16", "MEDU", 1000, 900, [("MEDU", 26, 5.0), ("MEDU", 29, 5.5)]),
         ("B3", "2024-10-20", "TEGR", 10, 12, [("TEGR", 50, 9.0), ("TEGR", 55, 9.5)]),
         ("B1", "2025-10-15", "TEGR", 2000, 1500, [("TEGR", 33, 5.0), ("TEGR", 36, 5.5), ("TEGR", 30, 4.8),
                                               ("MEDU", 31, 6.0)]),
         ("B2", "2025-03-01", "MEDU", 1000, 1000, [("MEDU", 30, 6.0)]),
         ("B2", "2025-10-16", "MEDU", 1000, 900, [("MEDU", 36, 7.0), ("MEDU", 40, 7.5)])]

# What the census must make of the accepted rows, per period and species: N, dead, measured (gbh, h).
EXPECTED_CENSUS = {
    "MP1": {"MEDU": (7 + 1000, 1 + 1 + 1 + 100, [(25, 5.0), (30, 6.0), (12, 2.5), (28, None), (26, 5.0), (29, 5.5)]),
            "TEGR": (3 + 2000, 1 + 400, [(22, 3.0), (19, 2.8), (24, 3.5), (27, 3.8), (21, 3.2)])},
    "MP2": {"MEDU": (8 + 1000, 1 + 1 + 100, [(35, 7.0), (40, 8.0), (20, 4.0), (30, 6.0), (33, 6.5), (10, 1.5),
                                          (31, 6.0), (36, 7.0), (40, 7.5)]),
            "TEGR": (3 + 2000, 1 + 500, [(30, 4.5), (26, 4.0), (33, 5.0), (36, 5.5), (30, 4.8)])},
}
PERIOD_DAYS = {"MP1": {2024: 366}, "MP2": {2025: 365, 2026: 181}}


# ----------------------------------------------------------------------------- export writers

def _csv(header: list[str], rows: list[list]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


def _times(day: str, i: int) -> tuple[str, str, str]:
    """Device start/end (+05:30) and the server's submission time (UTC) of the i-th submission of a day."""
    minute = 10 + i % 40
    start = f"{day}T09:{minute:02d}:00.000+05:30"
    end = f"{day}T09:{minute + 5:02d}:30.000+05:30"
    return start, end, f"{day}T04:{minute + 10:02d}:00"


def _point(i: int, plot: str = "P1") -> tuple[float, float]:
    lon, lat = PLOTS[plot][0]
    return round(lat + 0.001 + 0.0001 * i, 6), round(lon + 0.001 + 0.0001 * i, 6)


KOBO_TRAILER = ["meta/instanceID", "_id", "_uuid", "_submission_time", "_index", "_validation_status", "_status",
                "_submitted_by", "__version__", "_tags", "_notes"]


def _kobo_trailer(uuid: str, i: int, submitted: str) -> list:
    return [f"uuid:{uuid}", 1000 + i, uuid, submitted, i, "", "submitted_via_web", "runner", "v1", "", ""]


def _kobo_location(lat: float, lon: float) -> list:
    return [f"{lat} {lon} 420 5", lat, lon, 420, 5]


KOBO_LOCATION = ["location", "_location_latitude", "_location_longitude", "_location_altitude",
                 "_location_precision"]


def kobo_tree_planting(path: Path) -> Path:
    header = ["start", "end", "deviceid", "project_id", "runner_id", "plot_id", "tree/tree_id", "tree/species_code",
              "tree/planted_on", *KOBO_LOCATION, "photo_tree", "photo_tree_URL", *KOBO_TRAILER]
    rows = []
    for i, (tree_id, plot, species, day) in enumerate(PLANTINGS, start=1):
        start, end, submitted = _times(day, i)
        rows.append([start, end, "dev-1", PID, "R1", plot, tree_id, species, day, *_kobo_location(*_point(i, plot)),
                     f"plant-{tree_id}.jpg", f"https://kf.example/plant-{tree_id}.jpg",
                     *_kobo_trailer(f"plant-{i:04d}", i, submitted)])
    path.write_text(_csv(header, rows), encoding="utf-8")
    return path


def kobo_tree_survival(path: Path) -> Path:
    header = ["start", "end", "deviceid", "project_id", "runner_id", "plot_id", "tree_id", "visit_date", "status",
              "measurement/gbh_cm", "measurement/height_m", *KOBO_LOCATION, "photo_tree", "photo_tree_URL",
              *KOBO_TRAILER]
    plot_of = {tree_id: plot for tree_id, plot, _, _ in PLANTINGS}
    rows = []
    for i, (tree_id, day, status, gbh, height) in enumerate(SURVIVAL, start=1):
        start, end, submitted = _times(day, i)
        plot = plot_of[tree_id]
        rows.append([start, end, "dev-1", PID, "R1", plot, tree_id, day, status, gbh, height,
                     *_kobo_location(*_point(i, plot)), f"visit-{i}.jpg", f"https://kf.example/visit-{i}.jpg",
                     *_kobo_trailer(f"visit-{i:04d}", i, submitted)])
    path.write_text(_csv(header, rows), encoding="utf-8")
    return path


def odk_bund_plantation(path: Path) -> Path:
    header = ["SubmissionDate", "start", "end", "deviceid", "project_id", "runner_id", "farm-farmer_id",
              "farm-plot_id", "bund_id", "visit_date", "bund_line", "species_code", "saplings_planted",
              "saplings_alive", "location-Latitude", "location-Longitude", "location-Altitude", "location-Accuracy",
              "photo_bund", "meta-instanceID", "KEY", "SubmitterID", "SubmitterName", "AttachmentsPresent",
              "AttachmentsExpected", "Status", "ReviewState", "DeviceID", "Edits", "FormVersion"]
    repeat_header = ["m_species_code", "m_gbh_cm", "m_height_m", "PARENT_KEY", "KEY"]
    rows, repeat_rows = [], []
    for i, (bund_id, day, species, planted, alive, measures) in enumerate(BUNDS, start=1):
        start, end, submitted = _times(day, i)
        lat, lon = _point(i, "P2")
        line = f"{lat} {lon} 420 5;{lat + 0.0005} {lon + 0.0005} 420 5;{lat + 0.001} {lon + 0.0004} 420 5"
        key = f"uuid:bund-{i:04d}"
        rows.append([submitted + ".000Z", start, end, "dev-2", PID, "R2", f"F{bund_id}", "P2", bund_id, day, line,
                     species, planted, alive, lat, lon, 420, 5, f"bund-{i}.jpg", key, key, 7, "runner2", 1, 1,
                     "", "approved", "dev-2", 0, "2024020101"])
        for k, (m_species, gbh, height) in enumerate(measures, start=1):
            repeat_rows.append([m_species, gbh, height, key, f"{key}/tree_measure[{k}]"])
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("bund_plantation.csv", _csv(header, rows))
        archive.writestr("bund_plantation-tree_measure.csv", _csv(repeat_header, repeat_rows))
    return path


def _geojson(polygons: dict[str, list]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"plot_id": name} if name else {},
         "geometry": {"type": "Polygon", "coordinates": [ring]}} for name, ring in polygons.items()]})


def build_tree_project(root: Path) -> DataHome:
    """A data home under `root` with project T-AR-1 and its three exports ingested."""
    home = DataHome(root)
    folder = home.project_dir(PID)
    folder.mkdir(parents=True)
    (folder / "project.yaml").write_text(PROJECT_YAML, encoding="utf-8")
    (folder / "boundary.geojson").write_text(_geojson({"": BOUNDARY}), encoding="utf-8")
    (folder / "plots.geojson").write_text(_geojson(PLOTS), encoding="utf-8")
    exports = root / "exports"
    exports.mkdir()
    summaries = [ingest_in_process(home, PID, kobo_tree_planting(exports / "tree_planting.csv")),
                 ingest_in_process(home, PID, kobo_tree_survival(exports / "tree_survival.csv")),
                 ingest_in_process(home, PID, odk_bund_plantation(exports / "bund_plantation_odk.zip"))]
    assert [s.quarantined_by_reason for s in summaries] == [{"bad_value": 1}, {"unknown_tree": 1}, {"bad_value": 1}]
    assert [s.accepted for s in summaries] == [11, 20, 5]
    return home


# ----------------------------------------------------------------------------- by hand

def tree_carbon(species: str, gbh_cm: float, height_m: float | None) -> float:
    """C = 0.0673 (ρ D² H)^0.976 / 1000 × (1 + R) × CF with D = gbh/π; 0 below D_min or without H."""
    d = gbh_cm / math.pi
    if d < D_MIN or height_m is None:
        return 0.0
    agb = 0.0673 * (WOOD_DENSITY[species] * d**2 * height_m) ** 0.976 / 1000
    return agb * (1 + ROOT_SHOOT[species]) * CF


def expected_event(period_id: str, credited_prev: float) -> dict[str, float]:
    stock = 0.0
    variance = 0.0
    df = 0
    for species, (n, dead, measured) in EXPECTED_CENSUS[period_id].items():
        carbon = np.array([tree_carbon(species, g, h) for g, h in measured])
        live = n * (1 - dead / n)
        stock += live * carbon.mean()
        variance += (live * carbon.std(ddof=1) / math.sqrt(len(carbon))) ** 2
        df += len(carbon) - 1
    u_p = stats.t.ppf(0.95, df) * math.sqrt(variance) / stock
    unc = min(1.0, max(0.0, u_p - ALLOWANCE))
    assert u_p <= 1  # the scenario is meant to be creditable
    adjusted = stock * 44 / 12 * (1 - unc)
    removed = adjusted - credited_prev
    buffer = BUFFER * removed if removed > 0 else 0.0
    net = removed - buffer
    days = PERIOD_DAYS[period_id]
    vintages = {year: net * d / sum(days.values()) for year, d in days.items()}
    return {"stock_t_c": stock, "u_p": u_p, "unc": unc, "credited": adjusted, "removals": removed,
            "buffer": buffer, "net": net, "vintages": vintages}


# ----------------------------------------------------------------------------- tests

@pytest.fixture(scope="module")
def tree_home(tmp_path_factory) -> DataHome:
    return build_tree_project(tmp_path_factory.mktemp("trees"))


@pytest.fixture(scope="module")
def computed(tree_home):
    """MP1 then MP2, as `mrv run` would do them in order."""
    project = load_project(tree_home, PID)
    return {pid: periods.compute_period(tree_home, project, pid) for pid in ("MP1", "MP2")}


def _event(result) -> pd.Series:
    return result.tables["event_summary"].iloc[0]


@pytest.mark.parametrize("period_id", ["MP1", "MP2"])
def test_census_counts_and_sample(computed, period_id):
    tables = computed[period_id].tables
    strata = tables["strata"].set_index("species_code")
    sample = tables["tree_sample"]
    for species, (n, dead, measured) in EXPECTED_CENSUS[period_id].items():
        assert strata.loc[species, "n_planted"] == n
        assert strata.loc[species, "n_dead"] == dead
        assert strata.loc[species, "n_sampled"] == len(measured)
        got = sample.loc[sample["species_code"] == species, ["gbh_cm", "height_m"]]
        want = pd.DataFrame(measured, columns=["gbh_cm", "height_m"], dtype=float)
        pd.testing.assert_frame_equal(got.sort_values(["gbh_cm", "height_m"], ignore_index=True),
                                      want.sort_values(["gbh_cm", "height_m"], ignore_index=True))
    assert set(strata.index) == {"MEDU", "TEGR"}  # the quarantined AZIN planting makes no stratum


def test_mp1_removals_by_hand(computed):
    want = expected_event("MP1", 0.0)
    event = _event(computed["MP1"])
    assert event["stock_t_c"] == pytest.approx(want["stock_t_c"], rel=1e-12)
    assert event["u_p"] == pytest.approx(want["u_p"], rel=1e-12)
    assert event["unc"] == pytest.approx(want["unc"], rel=1e-12, abs=1e-15)
    assert event["removals_tco2e"] == pytest.approx(want["removals"], rel=1e-12)
    assert event["buffer_tco2e"] == pytest.approx(want["buffer"], rel=1e-12)
    assert event["net_tco2e"] == pytest.approx(want["net"], rel=1e-12)
    assert event["credited_stock_tco2e"] == pytest.approx(want["credited"], rel=1e-12)
    assert event["credited_stock_prev_tco2e"] == 0 and pd.isna(event["previous_period_id"])

    er = computed["MP1"].emission_reductions
    assert list(er.columns) == ["project_id", "period_id", "vintage", "er_tco2e", "issuable_tco2e"]
    assert er["vintage"].tolist() == [2024]
    assert er["er_tco2e"].iloc[0] == pytest.approx(want["net"], rel=1e-12)
    assert er["issuable_tco2e"].iloc[0] == math.floor(want["net"])
    assert str(er["issuable_tco2e"].dtype) == "int64"


def test_mp2_builds_on_mp1(computed):
    first = expected_event("MP1", 0.0)
    want = expected_event("MP2", first["credited"])
    event = _event(computed["MP2"])
    assert event["previous_period_id"] == "MP1"
    assert event["credited_stock_prev_tco2e"] == pytest.approx(first["credited"], rel=1e-12)
    assert event["removals_tco2e"] == pytest.approx(want["removals"], rel=1e-12)
    assert event["net_tco2e"] == pytest.approx(want["net"], rel=1e-12)

    er = computed["MP2"].emission_reductions
    assert er["vintage"].tolist() == [2025, 2026]
    assert er["er_tco2e"].tolist() == pytest.approx([want["vintages"][2025], want["vintages"][2026]], rel=1e-12)
    assert er["er_tco2e"].sum() == pytest.approx(want["net"], rel=1e-12)
    assert er["issuable_tco2e"].tolist() == [math.floor(v) for v in want["vintages"].values()]

    steps = computed["MP2"].tables["calculation_steps"].set_index(["name", "scope"])["value"]
    assert steps[("credited_stock_prev_tco2e", "")] == pytest.approx(first["credited"], rel=1e-12)


def test_mp2_reads_the_stored_mp1_result(tmp_path):
    home = build_tree_project(tmp_path / "home")
    project = load_project(home, PID)
    periods.compute_period(home, project, "MP1")
    before = _event(periods.compute_period(home, project, "MP2"))

    stored = trees.results_file(home, "event_summary", PID, "MP1")
    summary = pd.read_parquet(stored)
    summary["credited_stock_tco2e"] += 10.0
    summary.to_parquet(stored, index=False)
    after = _event(periods.compute_period(home, project, "MP2"))

    assert after["credited_stock_prev_tco2e"] == pytest.approx(before["credited_stock_prev_tco2e"] + 10.0, rel=1e-12)
    assert after["removals_tco2e"] == pytest.approx(before["removals_tco2e"] - 10.0, rel=1e-12)
    assert after["buffer_tco2e"] == pytest.approx(BUFFER * after["removals_tco2e"], rel=1e-12)
    assert after["net_tco2e"] == pytest.approx((before["removals_tco2e"] - 10.0) * (1 - BUFFER), rel=1e-12)
    assert after["stock_t_c"] == before["stock_t_c"]


def test_mp2_before_mp1_is_a_user_error(tmp_path):
    home = build_tree_project(tmp_path / "home")
    project = load_project(home, PID)
    with pytest.raises(UserError, match=r"run `mrv run --project T-AR-1 --period MP1` first") as caught:
        periods.compute_period(home, project, "MP2")
    assert "\n" not in str(caught.value)
    assert not trees.results_file(home, "event_summary", PID, "MP2").exists()


def test_rerun_gives_identical_results(tree_home, computed):
    project = load_project(tree_home, PID)
    again = periods.compute_period(tree_home, project, "MP2")
    for name in ("emission_reductions", "calculation_steps", "strata", "tree_sample", "event_summary"):
        pd.testing.assert_frame_equal(again.tables[name], computed["MP2"].tables[name])


def test_survey_tables_behind_the_numbers(computed):
    result = computed["MP2"]
    tables = result.tables
    assert {"emission_reductions", "calculation_steps", "parameters", "strata", "tree_sample", "event_summary",
            "tree_planting", "tree_survival", "bund_plantation", "bund_tree_measure", "plots"} <= set(tables)
    assert result.geometry_tables == {"tree_planting": "point", "tree_survival": "point",
                                      "bund_plantation": "bund_line_wkt", "plots": "geometry_wkt"}
    assert sorted(tables["tree_planting"]["tree_id"]) == [f"T{i:02d}" for i in range(1, 12)]
    survival = tables["tree_survival"]
    assert survival["visit_date"].between("2025-01-01", "2026-06-30").all()
    assert len(survival) == 10 and survival["latest_visit"].all()
    bunds = tables["bund_plantation"].sort_values("visit_date")
    assert bunds["bund_id"].tolist() == ["B2", "B1", "B2"]
    assert bunds["latest_visit"].tolist() == [False, True, True]
    assert bunds["bund_line_wkt"].str.startswith("LINESTRING").all()
    measures = tables["bund_tree_measure"]
    assert len(measures) == 7 and measures["in_sample"].sum() == 6
    assert tables["plots"]["plot_id"].tolist() == ["P1", "P2"]
    assert tables["plots"]["geometry_wkt"].str.startswith("POLYGON").all()
    assert (tables["parameters"]["name"] == "buffer_rate").any()

    mp1 = computed["MP1"].tables["tree_survival"]
    assert mp1.loc[mp1["tree_id"] == "T01", "latest_visit"].tolist() == [False, True]
    assert "T12" not in set(mp1["tree_id"])


def test_removals_checks_the_previous_event(tree_home, computed):
    project = load_project(tree_home, PID)
    parameters = resolve_parameters(project)
    mp1, mp2 = project.period("MP1"), project.period("MP2")
    tables = computed["MP2"].tables
    strata = tables["strata"][["project_id", "period_id", *vm0047_census.STRATA_COLUMNS]]
    with pytest.raises(UserError, match="MP1"):
        trees.removals(project, mp2, parameters, strata, tables["tree_sample"], None)
    wrong = computed["MP2"].tables["event_summary"]  # MP2's own summary is not MP1's
    with pytest.raises(UserError, match="stored event summary of MP1"):
        trees.removals(project, mp2, parameters, strata, tables["tree_sample"], wrong)
    # The first period has no predecessor: whatever is passed, nothing is subtracted.
    first = computed["MP1"].tables
    mp1_strata = first["strata"][["project_id", "period_id", *vm0047_census.STRATA_COLUMNS]]
    er, _, _, summary = trees.removals(project, mp1, parameters, mp1_strata, first["tree_sample"], None)
    pd.testing.assert_frame_equal(er, computed["MP1"].emission_reductions)


def test_a_period_without_remeasurement_credits_nothing(tree_home, computed, tmp_path):
    project = load_project(tree_home, PID)
    parameters = resolve_parameters(project)
    period = project.period("MP1")
    tables = computed["MP1"].tables
    plantings = tables["tree_planting"].drop(columns="project_id")
    survival = tables["tree_survival"].drop(columns=["project_id", "latest_visit"]).iloc[0:0]
    bunds = tables["bund_plantation"].drop(columns=["project_id", "latest_visit"]).iloc[0:0]
    measures = tables["bund_tree_measure"].drop(columns=["project_id", "in_sample"]).iloc[0:0]
    sample = trees.tree_sample(project, period, parameters, plantings, survival, bunds, measures)
    counts = trees.strata(project, period, parameters, plantings, survival, bunds, measures)
    assert sample.empty
    assert counts.set_index("species_code")["n_not_visited"].to_dict() == {"MEDU": 7, "TEGR": 3}

    er, steps, table, summary = trees.removals(project, period, parameters, counts, sample, None)
    event = summary.iloc[0]
    assert not event["eligible"] and math.isinf(event["u_p"])
    assert event["net_tco2e"] == 0 and event["credited_stock_tco2e"] == 0
    assert er["er_tco2e"].tolist() == [0.0] and er["issuable_tco2e"].tolist() == [0]

    result = trees.assemble(project, period, parameters, plantings=plantings, survival=survival, bund_visits=bunds,
                            measures=measures, sample=sample, strata=table, er=er, steps=steps, summary=summary)
    package = write_package(result, {}, tmp_path / "package")
    assert pd.read_parquet(package / "parquet" / "event_summary.parquet")["u_p"].iloc[0] == math.inf
