"""Hostile rows through the whole ingest: a precise quarantine reason, never a crash, nothing lost.

One spreadsheet carries every hostile row (read once for the module); bad files go through the real
`mrv` command, which must answer with exit status 2 and one line — no traceback — and write nothing
outside the data home.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import duckdb
import pandas as pd
import pytest
from hostile.builders import (cache_formula_values, column_letter, export_rows, kobo_csv, run_mrv, write_xlsx,
                              zip_bomb)
from support import make_project, stove, write_export

from pipelines import warehouse
from pipelines.errors import UserError
from pipelines.ingest import ingest_in_process
from pipelines.settings import DataHome

EVIL = "X'; DROP TABLE batches; --"
WAREHOUSE_TABLES = {"batches", "quarantine", "warnings", "stove_distribution", "cookstove_usage", "tree_planting",
                    "tree_survival", "bund_plantation", "bund_tree_measure"}


def _hostile_rows() -> list[dict]:
    return [
        stove(1),                                                   # a plain good row
        stove(2, lat=77.1001, lon=23.1),                            # India: latitude and longitude swapped
        stove(3, lat="23°6'0\"N", lon="77°6'0\"E"),                 # DMS, unambiguous -> accepted
        stove(4, lat="23°6'0\"E", lon="77°6'0\"N"),                 # DMS with each other's letters -> no_gps
        stove(5, lat=123.0, lon=23.1),                              # a latitude no point can have -> no_gps
        stove(6, project_id=EVIL),                                  # SQL in the project id -> wrong_project
        stove(7, stove_serial="SN'); DROP TABLE stove_distribution; --"),  # SQL in a value -> just text
        stove(8),                                                   # commissioned_on: Excel date cell
        stove(9),                                                   # commissioned_on: Excel serial number
        stove(10),                                                  # household_id: formula, cached value
        stove(11),                                                  # commissioned_on: formula, no cached value
        stove(12, lat="23 6 0", lon="77 6 0"),                      # DMS without marks: ambiguous -> no_gps
    ]


@pytest.fixture(scope="module")
def hostile_batch(tmp_path_factory):
    """The hostile spreadsheet ingested once into a fresh data home: (home, summary)."""
    root = tmp_path_factory.mktemp("hostile_ingest")
    home = DataHome(root / "home")
    make_project(home)
    rows = export_rows("stove_distribution", _hostile_rows())
    header = rows[0]
    day = header.index("stove/commissioned_on")
    rows[8][day] = dt.datetime(2024, 3, 1)
    rows[9][day] = 45352
    rows[10][header.index("household/household_id")] = '="H"&"10"'
    rows[11][day] = "=TODAY()"
    path = write_xlsx(root / "hostile.xlsx", {"stove_distribution": rows})
    cache_formula_values(path, {f"{column_letter(header, 'household/household_id')}11": "H10"})
    summary = ingest_in_process(home, "T-CS-1", path)
    with warehouse.connect(home) as con:
        quarantine = con.execute("SELECT submission_id, reason, detail FROM quarantine").df()
        rows = con.execute("SELECT * FROM stove_distribution").df()
    return home, summary, quarantine, rows.set_index("submission_id")


def _reasons(quarantine: pd.DataFrame, submission_id: str) -> dict[str, str]:
    part = quarantine[quarantine["submission_id"] == submission_id]
    return dict(zip(part["reason"], part["detail"]))


def test_every_hostile_row_is_read_and_counted(hostile_batch):
    home, summary, quarantine, rows = hostile_batch
    assert summary.rows_read == 12
    assert summary.accepted + summary.quarantined == 12
    assert set(rows.index) == {f"d{i}" for i in range(1, 13)}  # nothing lost: quarantined rows are kept too


def test_dms_coordinates_are_read_when_unambiguous(hostile_batch):
    _, _, quarantine, rows = hostile_batch
    assert rows.loc["d3", "latitude"] == pytest.approx(23.1) and rows.loc["d3", "longitude"] == pytest.approx(77.1)
    assert bool(rows.loc["d3", "accepted"])


@pytest.mark.parametrize("submission_id", ["d4", "d12"])
def test_ambiguous_dms_is_no_gps_naming_the_latitude(hostile_batch, submission_id):
    _, _, quarantine, rows = hostile_batch
    reasons = _reasons(quarantine, submission_id)
    assert list(reasons) == ["no_gps"]
    assert "latitude" in reasons["no_gps"]


def test_an_impossible_latitude_is_no_gps_with_its_value(hostile_batch):
    _, _, quarantine, _ = hostile_batch
    assert _reasons(quarantine, "d5") == {"no_gps": "Latitude outside -90..90 is not a coordinate. (latitude = 123.0)"}


def test_a_swapped_point_is_quarantined(hostile_batch):
    _, _, quarantine, rows = hostile_batch
    assert not bool(rows.loc["d2", "accepted"])
    assert set(_reasons(quarantine, "d2")) <= {"no_gps", "outside_boundary"}


    assert _reasons(quarantine, "d2") == {
        "no_gps": "latitude and longitude appear swapped (the exchanged point lies in the project)"}


def test_sql_in_values_is_only_text(hostile_batch):
    home, _, quarantine, rows = hostile_batch
    assert set(_reasons(quarantine, "d6")) == {"wrong_project"}
    assert bool(rows.loc["d7", "accepted"]) and rows.loc["d7", "stove_serial"].startswith("SN'); DROP TABLE")
    with warehouse.connect(home) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert WAREHOUSE_TABLES <= tables  # nothing was dropped


def test_excel_dates_and_formulas(hostile_batch):
    _, _, quarantine, rows = hostile_batch
    for sid in ("d8", "d9"):  # a date cell and an Excel serial number
        assert rows.loc[sid, "commissioned_on"] == pd.Timestamp("2024-03-01"), sid
    assert rows.loc["d10", "household_id"] == "H10"  # the formula's cached value, never evaluated
    assert set(_reasons(quarantine, "d11")) == {"bad_value"}  # a formula with no cached value


def test_a_date_beyond_2262_is_a_future_date(tmp_path):
    home = DataHome(tmp_path / "home")
    make_project(home)
    ingest_in_process(home, "T-CS-1", write_export(tmp_path / "d.csv", "stove_distribution",
                                                   [stove(1, commissioned_on="2300-01-01"), stove(2, commissioned_on="1650-01-01")]))
    with warehouse.connect(home) as con:
        found = dict(con.execute("SELECT submission_id, reason FROM quarantine").fetchall())
    assert found == {"d1": "future_date", "d2": "bad_value"}


def test_no_sql_text_ever_holds_a_value_from_the_upload(tmp_path, monkeypatch):
    """Every warehouse query passes upload values as parameters: the SQL text never contains them."""
    import pipelines.quality.integrity as integrity

    seen: list[str] = []
    real = integrity._lookup

    def spy(con, sql, keys, params=None):
        seen.append(sql)
        return real(con, sql, keys, params)

    monkeypatch.setattr(integrity, "_lookup", spy)
    home = DataHome(tmp_path / "home")
    make_project(home, EVIL.replace("'", "").replace(";", "").replace(" ", "-"))
    pid = EVIL.replace("'", "").replace(";", "").replace(" ", "-")
    ingest_in_process(home, pid, write_export(tmp_path / "d.csv", "stove_distribution",
                                              [stove(1, project_id=pid, runner_id="R'1", photo_stove="p'1.jpg")]))
    assert seen and not any(pid in sql or "R'1" in sql or "p'1.jpg" in sql for sql in seen)


@pytest.mark.parametrize("project_id", [EVIL, "../../etc", 'quo"te'])
def test_hostile_project_ids_are_one_line_errors_writing_nothing(tmp_path, project_id):
    home = DataHome(tmp_path / "home")
    make_project(home)
    cwd, tmpdir = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir(), tmpdir.mkdir()
    export = write_export(tmp_path / "d.csv", "stove_distribution", [stove(1)])
    result = run_mrv(home, "ingest", export, "--project", project_id, cwd=cwd, tmpdir=tmpdir)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "unknown project" in result.stderr
    assert list(cwd.iterdir()) == [] and not (tmp_path / "etc").exists()
    assert not home.uploads.exists() or not any(home.uploads.rglob("*.csv"))


@pytest.mark.parametrize("content", [b"", b"\xff\xfe\x00\x00garbage", b"a,b\n1,2\n", zip_bomb])
def test_bad_files_through_the_cli_exit_2_without_traceback(tmp_path, content):
    home = DataHome(tmp_path / "home")
    make_project(home)
    cwd, tmpdir = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir(), tmpdir.mkdir()
    if callable(content):
        path = tmp_path / "bomb.zip"
        content(path, "stove_distribution.csv", b"_uuid,_submission_time\n", 600)
    else:
        path = tmp_path / "bad.csv"
        path.write_bytes(content)
    result = run_mrv(home, "ingest", path, "--project", "T-CS-1", cwd=cwd, tmpdir=tmpdir)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert list(cwd.iterdir()) == [] and list(tmpdir.iterdir()) == []
    assert any(home.uploads.rglob(path.name))  # the upload is kept even though it is refused


def test_concurrent_ingests_of_hostile_and_good_files_both_finish(tmp_path):
    home = DataHome(tmp_path / "home")
    make_project(home)
    good = write_export(tmp_path / "good.csv", "stove_distribution", [stove(i) for i in range(1, 20)])
    bad = tmp_path / "bad.csv"
    bad.write_text("not,an,export\n")

    def run(path):
        try:
            return ingest_in_process(home, "T-CS-1", path).accepted
        except UserError as exc:
            return str(exc)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(run, [good, bad]))
    assert results[0] == 19 and "bad.csv" in results[1]
    with duckdb.connect(str(home.warehouse_db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM batches").fetchone()[0] == 1
