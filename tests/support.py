"""Test helpers: small projects, and a writer of Kobo / ODK export files.

The writer is independent of the pipeline's readers: it lays out columns the way the two apps do
(contracts/forms.md), using the group names of the XLSForms.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd

from pipelines.forms import load_form
from pipelines.settings import DataHome

REPO = Path(__file__).resolve().parents[1]
BOUNDARY = [[77.0, 23.0], [77.2, 23.0], [77.2, 23.2], [77.0, 23.2], [77.0, 23.0]]
INSIDE = (23.1, 77.1)

COOKSTOVE_YAML = """\
project_id: {pid}
name: Test cookstoves
methodology: cdm-ams-ii-g
country: IN
boundary: boundary.geojson
monitoring_periods:
  - {{id: MP1, start: 2024-07-01, end: 2025-06-30}}
parameters:
  fnrb: 0.30
  b_old_t_per_device_year: 2.0
  technical_life_years: 5
  stove_models:
    M1: {{efficiency: 0.25, source: test}}
    M2: {{efficiency: 0.20, source: test}}
"""


def make_project(home: DataHome, pid: str = "T-CS-1", yaml_text: str = COOKSTOVE_YAML) -> Path:
    folder = home.project_dir(pid)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "project.yaml").write_text(yaml_text.format(pid=pid))
    (folder / "boundary.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [BOUNDARY]}}]}))
    return folder


def _question_columns(form_id: str, flavour: str) -> dict[str, str]:
    sep = "/" if flavour == "kobo" else "-"
    return {q.name: (f"{q.group}{sep}{q.name}" if q.group else q.name).replace("/", sep)
            for q in load_form(form_id).main_questions()}


def export_frame(form_id: str, rows: list[dict], flavour: str = "kobo") -> pd.DataFrame:
    """Rows given by question name (+ id, start, end, lat, lon, acc, submitted) -> export columns."""
    columns = _question_columns(form_id, flavour)
    out = []
    for i, row in enumerate(rows, start=1):
        record: dict[str, object] = {"start": row.get("start", "2025-01-10T10:00:00+05:30"),
                                     "end": row.get("end", "2025-01-10T10:10:00+05:30"), "deviceid": "dev-1"}
        for name, column in columns.items():
            if name == "location":
                continue
            record[column] = row.get(name, "")
        lat, lon, acc = row.get("lat", INSIDE[0]), row.get("lon", INSIDE[1]), row.get("acc", 5)
        sid = row.get("id", f"s{i}")
        group = columns["location"].rsplit("/" if flavour == "kobo" else "-", 1)[0] if columns["location"] != "location" else ""
        if flavour == "kobo":
            record[columns["location"]] = "" if lat == "" else f"{lat} {lon} 400 {acc}"
            prefix = f"_{group}/" if group else "_"
            for part, value in (("latitude", lat), ("longitude", lon), ("altitude", 400 if lat != "" else ""), ("precision", acc)):
                record[f"{prefix}location_{part}"] = value
            record.update({"meta/instanceID": f"uuid:{sid}", "_id": i, "_uuid": sid,
                           "_submission_time": row.get("submitted", "2025-01-10T05:00:00"), "_validation_status": "",
                           "_index": i})
        else:
            base = columns["location"]
            for part, value in (("Latitude", lat), ("Longitude", lon), ("Altitude", 400 if lat != "" else ""), ("Accuracy", acc)):
                record[f"{base}-{part}"] = value
            record.update({"meta-instanceID": f"uuid:{sid}", "KEY": f"uuid:{sid}",
                           "SubmissionDate": row.get("submitted", "2025-01-10T05:00:00.000Z"), "ReviewState": ""})
        out.append(record)
    frame = pd.DataFrame(out)
    if flavour == "odk":
        frame = frame[["SubmissionDate", *[c for c in frame.columns if c not in ("SubmissionDate", "KEY")], "KEY"]]
    return frame


def write_export(path: Path, form_id: str, rows: list[dict], flavour: str = "kobo", sep: str = ",") -> Path:
    frame = export_frame(form_id, rows, flavour)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".xlsx":
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.title = form_id
        sheet.append(list(frame.columns))
        for record in frame.itertuples(index=False):
            sheet.append([None if v == "" else v for v in record])
        book.save(path)
    elif path.suffix == ".zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr(f"{form_id}.csv", frame.to_csv(index=False))
    else:
        frame.to_csv(path, index=False, sep=sep)
    return path


def _times(day: str, i: int) -> tuple[str, str]:
    start = pd.Timestamp(f"{day}T08:00:00+05:30") + pd.Timedelta(minutes=15 * i)
    return start.isoformat(), (start + pd.Timedelta(minutes=10)).isoformat()


def stove(i: int, **overrides) -> dict:
    start, end = _times("2024-03-01", i)
    row = {"id": f"d{i}", "project_id": "T-CS-1", "runner_id": f"R{i % 3}", "household_id": f"H{i}",
           "respondent_name": f"Name {i}", "phone": f"98000{i:05d}", "stove_serial": f"SN{i:04d}",
           "stove_model": "M1", "commissioned_on": "2024-03-01", "consent_carbon_rights": "yes",
           "photo_stove": f"dist_{i}.jpg", "lat": 23.1 + i * 1e-4, "lon": 77.1, "start": start, "end": end}
    row.update(overrides)
    return row


def visit(i: int, **overrides) -> dict:
    start, end = _times("2025-03-10", i)
    row = {"id": f"v{i}", "project_id": "T-CS-1", "runner_id": f"R{i % 3}", "household_id": f"H{i}",
           "household_size": "5", "main_fuel": "firewood", "stove_serial": f"SN{i:04d}", "visit_date": "2025-03-10",
           "stove_found": "yes", "stove_in_use": "yes", "days_used_last_7": "6", "baseline_stove_in_use": "no",
           "stove_condition": "good", "photo_stove": f"use_{i}.jpg", "lat": 23.1 + i * 1e-4, "lon": 77.1,
           "start": start, "end": end}
    row.update(overrides)
    return row


def assert_faults_match_ground_truth(home: DataHome, project_id: str) -> pd.DataFrame:
    """The warehouse flags exactly the faults of the project's `expected_faults.csv` (the generator's ground
    truth): every injected fault with its reason code, nothing else, and the ignored duplicates. Returns it."""
    import duckdb

    expected = pd.read_csv(home.project_dir(project_id) / "expected_faults.csv")
    with duckdb.connect(str(home.warehouse_db), read_only=True) as con:
        found = con.execute("SELECT submission_id, reason FROM quarantine WHERE project_id = ? UNION ALL "
                            "SELECT submission_id, reason FROM warnings WHERE project_id = ?",
                            [project_id, project_id]).df()
        ignored = con.execute("SELECT sum(duplicates) FROM batches WHERE project_id = ?", [project_id]).fetchone()[0]
    flagged = expected[expected["kind"] != "ignored"]
    wanted = set(map(tuple, flagged[["submission_id", "reason"]].to_numpy()))
    got = set(map(tuple, found.to_numpy()))
    assert wanted - got == set(), "injected faults not found"
    # A reused photo is flagged on both submissions when both are in one upload; the ground truth names one.
    partners = {(r.related_submission_id, r.reason) for r in flagged.itertuples() if r.reason == "photo_reused"}
    assert got - wanted - partners == set(), "rows flagged that no fault explains"
    assert ignored == (expected["kind"] == "ignored").sum()
    return expected
