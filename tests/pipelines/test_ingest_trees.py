"""Ingest of the tree forms: repeat groups in every layout, plots, duplicate and unknown trees."""

import shutil
import zipfile
from pathlib import Path

import duckdb
import pytest
from support import export_frame

from pipelines import synth
from pipelines.ingest import ingest_in_process
from pipelines.settings import DataHome

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "projects" / "IN-MH-AF-001"
PID = "IN-MH-AF-001"


@pytest.fixture
def tree_home(tmp_path):
    home = DataHome(tmp_path / "home")
    shutil.copytree(SAMPLE, home.project_dir(PID), ignore=shutil.ignore_patterns("exports"))
    return home


def counts(home, table):
    with duckdb.connect(str(home.warehouse_db), read_only=True) as con:
        return con.execute(f"SELECT count(*) FILTER (WHERE accepted), count(*) FROM {table}").fetchone()


def test_kobo_repeat_as_xlsx_sheet_or_as_zipped_csvs_gives_the_same_rows(tmp_path):
    project = synth.generate_in_mh_af_001(tmp_path / "gen", write=False)
    bunds = next(s for name, s in project.submissions.items() if name.startswith("bund_plantation") and "mp1" in name)
    xlsx = tmp_path / "bunds.xlsx"
    synth.write_kobo_xlsx(bunds, xlsx)
    tables = synth.kobo_tables(bunds)
    archive = tmp_path / "bunds.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, frame in tables.items():
            zf.writestr(f"{name}.csv", frame.to_csv(index=False))
    results = []
    for export in (xlsx, archive):
        home = DataHome(tmp_path / export.suffix[1:])
        shutil.copytree(SAMPLE, home.project_dir(PID), ignore=shutil.ignore_patterns("exports"))
        ingest_in_process(home, PID, SAMPLE / "exports" / "tree_planting_kobo.csv")
        ingest_in_process(home, PID, export)
        results.append((counts(home, "bund_plantation"), counts(home, "bund_tree_measure")))
    assert results[0] == results[1]
    assert results[0][1][1] == len(bunds.repeats["tree_measure"])  # every measured tree arrived


def test_odk_zip_repeat_rows_join_their_bund_by_parent_key(tree_home):
    ingest_in_process(tree_home, PID, SAMPLE / "exports" / "tree_planting_kobo.csv")
    ingest_in_process(tree_home, PID, SAMPLE / "exports" / "bund_plantation_mp2_odk.zip")
    with duckdb.connect(str(tree_home.warehouse_db), read_only=True) as con:
        orphans = con.execute("SELECT count(*) FROM bund_tree_measure m LEFT JOIN bund_plantation b USING (submission_id) "
                              "WHERE b.submission_id IS NULL").fetchone()[0]
        mixed = con.execute("SELECT count(*) FROM bund_tree_measure m JOIN bund_plantation b USING (submission_id) "
                            "WHERE m.accepted <> b.accepted").fetchone()[0]
        lines = con.execute("SELECT bund_line_wkt FROM bund_plantation WHERE accepted LIMIT 1").fetchone()[0]
    assert orphans == 0 and mixed == 0  # repeat rows go with their submission's verdict
    assert lines.startswith("LINESTRING")


def planting(i, **overrides):
    row = {"id": f"t{i}", "project_id": PID, "runner_id": "R101", "plot_id": "P01", "tree_id": f"T{i:04d}",
           "species_code": "MEDU", "planted_on": "2024-07-01", "photo_tree": f"t{i}.jpg",
           "start": f"2024-07-01T{8 + i:02d}:00:00+05:30", "end": f"2024-07-01T{8 + i:02d}:05:00+05:30", "acc": 4}
    row.update(overrides)
    return row


def test_plot_rules_for_tagged_trees(tree_home, tmp_path):
    import geopandas as gpd

    plot = gpd.read_file(tree_home.project_dir(PID) / "plots.geojson").set_index("plot_id").geometry
    first, second = plot.index[:2]
    inside = plot[first].representative_point()
    other = plot[second].representative_point()
    rows = [planting(1, lat=inside.y, lon=inside.x, plot_id=first),
            planting(2, lat=other.y, lon=other.x, plot_id=first),                          # in another plot: outside_plot warning
            planting(3, lat=inside.y, lon=inside.x, plot_id="P99"),         # unknown plot: bad_value
            planting(4, lat=inside.y, lon=inside.x, plot_id=first, tree_id="T0001"),       # duplicate_tree
            planting(5, lat=inside.y, lon=inside.x, plot_id=first, species_code="XXXX")]   # species not in parameters
    path = tmp_path / "planting.csv"
    export_frame("tree_planting", rows, "kobo").to_csv(path, index=False)
    ingest_in_process(tree_home, PID, path)
    with duckdb.connect(str(tree_home.warehouse_db), read_only=True) as con:
        q = dict(con.execute("SELECT submission_id, string_agg(reason, ',' ORDER BY reason) FROM quarantine GROUP BY 1").fetchall())
        w = dict(con.execute("SELECT submission_id, string_agg(reason, ',' ORDER BY reason) FROM warnings GROUP BY 1").fetchall())
    assert q == {"t3": "bad_value", "t4": "duplicate_tree", "t5": "bad_value"}
    assert w.get("t2") == "outside_plot" and "t1" not in w
