"""Feedback for field teams: the CSV, the supervisor's workbook, per-runner files, formula neutralising, risk in Dagster."""

import csv
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pandas as pd
from support import stove, visit, write_export

from pipelines import feedback, ingest, orchestration
from pipelines.definitions import build_definitions
from pipelines.ingest import ingest_in_process
from pipelines.project import load_project
from pipelines.quality import risk

HYPERLINK = '=HYPERLINK("http://x","y")'


def ingest_rows(home, tmp_path, name, form, rows, flavour="kobo"):
    return ingest_in_process(home, "T-CS-1", write_export(tmp_path / name, form, rows, flavour))


def csv_records(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def workbook_cells(path: Path) -> dict[str, list]:
    book = openpyxl.load_workbook(path)
    return {sheet.title: [cell for row in sheet.iter_rows() for cell in row] for sheet in book.worksheets}


def test_formula_like_values_are_neutralised_in_csv_workbook_and_runner_files(home, tmp_path):
    rows = [stove(1),
            stove(2, household_id=HYPERLINK, stove_model="M9"),           # quarantined
            stove(3, household_id="@SUM(1)", acc=55),                     # warning
            stove(4, household_id="-2+3", runner_id="+R4", acc=60)]       # warning; runner id formula-like too
    summary = ingest_rows(home, tmp_path, "d.csv", "stove_distribution", rows)
    by_submission = {r["submission_id"]: r for r in csv_records(Path(summary.feedback_path))}
    assert by_submission["d2"]["household_id"] == "'" + HYPERLINK
    assert by_submission["d3"]["household_id"] == "'@SUM(1)"
    assert by_submission["d4"]["household_id"] == "'-2+3" and by_submission["d4"]["runner_id"] == "'+R4"
    assert "d1" not in by_submission

    cells = workbook_cells(feedback.workbook_path(home, ingest.load_upload(home, f"T-CS-1:{summary.batch_id}")))
    every = [c for sheet in cells.values() for c in sheet]
    assert not [c.coordinate for c in every if c.data_type == "f"]  # no cell is a formula
    texts = {c.value for c in every if isinstance(c.value, str)}
    assert {"'" + HYPERLINK, "'@SUM(1)", "'-2+3", "'+R4"} <= texts
    assert not {HYPERLINK, "@SUM(1)", "-2+3", "+R4"} & texts

    folder = feedback.runner_folder(home, ingest.load_upload(home, f"T-CS-1:{summary.batch_id}"))
    runner_rows = [r for f in folder.glob("*.csv") for r in csv_records(f)]
    assert {r["household_id"] for r in runner_rows} == {"'" + HYPERLINK, "'@SUM(1)", "'-2+3"}


def test_spreadsheet_safe_quotes_every_formula_start_and_leaves_the_rest():
    frame = pd.DataFrame({"text": ["=1+1", "+1", "-1", "@A1", "\tX", "\r=2", "plain", "a=b", None, "bad\x07char"],
                          "number": [-1, 2, 3, 4, 5, 6, 7, 8, 9, 10]})
    safe = feedback.spreadsheet_safe(frame)
    assert safe["text"].tolist()[:8] == ["'=1+1", "'+1", "'-1", "'@A1", "'\tX", "'\r=2", "plain", "a=b"]
    assert pd.isna(safe["text"][8]) and safe["text"][9] == "badchar"
    assert safe["number"].tolist() == frame["number"].tolist()  # numbers are numbers, never quoted


def test_a_programme_scale_batch_gets_one_problems_sheet(home, tmp_path, monkeypatch):
    monkeypatch.setattr(feedback, "MAX_RUNNER_SHEETS", 1)
    rows = [stove(1, household_id=""), stove(2, household_id=""), stove(3)]  # R1 and R2 have a problem
    summary = ingest_in_process(home, "T-CS-1", write_export(tmp_path / "big.csv", "stove_distribution", rows))
    upload = ingest.load_upload(home, f"T-CS-1:{summary.batch_id}")
    book = openpyxl.load_workbook(feedback.workbook_path(home, upload))
    assert book.sheetnames == ["Summary", "Problems"]
    problems = [list(r) for r in book["Problems"].iter_rows(values_only=True)]
    assert "runner_id" in problems[0] and len(problems) == 3


def test_each_line_names_row_submission_household_and_stove_sorted_for_the_supervisor(home, tmp_path):
    rows = [stove(1, runner_id="R1", household_id="H-B", acc=50),      # row 2: warning
            stove(2, runner_id="R1", household_id="H-A", acc=50),      # row 3: warning
            stove(3, runner_id="R1", household_id="H-Z", stove_model="M9"),  # row 4: must be fixed
            stove(4, runner_id="R0", household_id="H-Q", consent_carbon_rights="maybe", acc=45),  # row 5: both
            stove(5, runner_id="R2")]                                   # row 6: fine
    summary = ingest_rows(home, tmp_path, "d.csv", "stove_distribution", rows)
    lines = pd.read_csv(summary.feedback_path)
    assert list(lines.columns) == ["row", "submission_id", "runner_id", "household_id", "stove_serial", "status",
                                   "reason_code", "reason", "what_to_do", "detail"]
    assert lines[["runner_id", "household_id", "row", "status"]].values.tolist() == [
        ["R0", "H-Q", 5, "quarantined"], ["R0", "H-Q", 5, "warning"],
        ["R1", "H-Z", 4, "quarantined"], ["R1", "H-A", 3, "warning"], ["R1", "H-B", 2, "warning"]]
    first = lines.iloc[0]
    assert first["stove_serial"] == "SN0004" and first["submission_id"] == "d4" and "allowed choices" in first["reason"]

    upload = ingest.load_upload(home, f"T-CS-1:{summary.batch_id}")
    book = openpyxl.load_workbook(feedback.workbook_path(home, upload))
    assert book.sheetnames == ["Summary", "R0", "R1"]  # R2 has nothing to fix: no sheet (the summary lists R2)
    r1 = [list(r) for r in book["R1"].iter_rows(values_only=True)]
    assert r1[0][:4] == ["row", "submission_id", "household_id", "stove_serial"]
    assert [r[0] for r in r1[1:]] == [4, 3, 2]
    assert book["R1"].freeze_panes == "A2"
    summary_text = [c for r in book["Summary"].iter_rows(values_only=True) for c in r if c is not None]
    assert {"Rows per runner", "Problems per reason", "Runner risk"} <= set(summary_text)
    runners = _summary_block(book["Summary"], "Rows per runner")
    assert runners.set_index("runner_id").loc["R1", ["submissions", "accepted", "quarantined", "with_warnings"]].tolist() == [3, 2, 1, 2]
    reasons = _summary_block(book["Summary"], "Problems per reason")
    assert reasons["reason_code"].tolist()[:2] == ["bad_value", "low_gps_accuracy"]
    assert reasons.set_index("reason_code").loc["low_gps_accuracy", "rows"] == 3
    files = sorted(p.name for p in feedback.runner_folder(home, upload).iterdir())
    assert files == ["R0.csv", "R1.csv"]  # a runner with nothing to fix gets no file
    assert not list(Path(summary.feedback_path).parent.glob(".*"))  # atomic writes leave nothing behind


def _summary_block(sheet, title: str) -> pd.DataFrame:
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    start = next(i for i, r in enumerate(rows) if r[0] == title) + 1
    header = [h for h in rows[start] if h is not None]
    body = []
    for r in rows[start + 1:]:
        if r[0] is None:
            break
        body.append(r[:len(header)])
    return pd.DataFrame(body, columns=header)


def test_duplicates_are_listed_last_with_their_household(home, tmp_path):
    ingest_rows(home, tmp_path, "a.csv", "stove_distribution", [stove(1), stove(2)])
    summary = ingest_rows(home, tmp_path, "b.csv", "stove_distribution", [stove(2), stove(3, stove_model="M9")])
    lines = pd.read_csv(summary.feedback_path)
    dup = lines[lines["status"] == "duplicate (ignored)"]
    assert dup[["row", "submission_id", "household_id"]].values.tolist() == [[2, "d2", "H2"]]
    assert dup["what_to_do"].tolist() == ["Nothing."]


def test_usage_lines_name_household_and_stove(home, tmp_path):
    ingest_rows(home, tmp_path, "d.csv", "stove_distribution", [stove(1)])
    summary = ingest_rows(home, tmp_path, "u.csv", "cookstove_usage", [visit(1), visit(2, stove_serial="SN0777")])
    line = pd.read_csv(summary.feedback_path).iloc[0]
    assert (line["household_id"], line["stove_serial"], line["reason_code"]) == ("H2", "SN0777", "unknown_stove")


def test_tree_lines_name_plot_and_tree():
    findings = pd.DataFrame({"submission_id": ["t2", "t1"], "source_row": [3, 2], "runner_id": ["R1", "R1"],
                             "reason": ["duplicate_tree", "bad_value"], "detail": ["", ""]})
    rows = pd.DataFrame({"source_row": [2, 3], "runner_id": ["R1", "R1"], "plot_id": ["P2", "P1"], "tree_id": ["T9", "T1"]})
    table = feedback.problem_table(rows.iloc[:0], findings, findings.iloc[:0], rows)
    assert list(table.columns)[:5] == ["row", "submission_id", "runner_id", "tree_id", "plot_id"]
    assert table[["tree_id", "plot_id"]].values.tolist() == [["T1", "P1"], ["T9", "P2"]]


def test_sheet_titles_and_file_names_are_valid_and_unique():
    runners = ["a/b:c", "a_b_c", "Summary", "x" * 40, "x" * 40 + "y", "../etc/passwd", "'quoted'", "R1", "r1"]
    titles = feedback._sheet_titles(runners)
    assert len(set(t.lower() for t in titles.values())) == len(runners) and "summary" not in {t.lower() for t in titles.values()}
    assert all(len(t) <= 31 and not set("[]:*?/\\") & set(t) and not t.startswith("'") for t in titles.values())
    names = feedback._file_names(runners)
    assert len(set(names.values())) == len(runners)
    assert all("/" not in n and not n.startswith(".") for n in names.values())


def test_the_old_call_without_rows_still_writes_every_file(home, tmp_path):
    upload = SimpleNamespace(project_id="T-CS-1", batch_id="b1", source_name="x.csv", form="stove_distribution",
                             flavour="kobo", uploaded_at="2025-01-01T00:00:00+00:00")
    quarantine = pd.DataFrame({"submission_id": ["s1"], "source_row": [2], "runner_id": ["R1"], "reason": ["no_gps"],
                               "detail": [""]})
    empty = quarantine.iloc[:0]
    path = feedback.write_feedback(home, upload, empty, quarantine, empty)
    assert pd.read_csv(path)["reason_code"].tolist() == ["no_gps"]
    assert openpyxl.load_workbook(feedback.workbook_path(home, upload)).sheetnames == ["Summary", "R1"]


def test_runner_risk_check_warns_in_dagster_with_a_markdown_table(home, tmp_path):
    # RX hands over six stoves, each in a few seconds, all from one spot: a runner to back-check first.
    spot = [stove(10 + i, runner_id="RX", lat=23.15 + i * 2e-6, start=f"2024-03-04T09:{i:02d}:00+05:30",
                  end=f"2024-03-04T09:{i:02d}:30+05:30") for i in range(6)]
    honest = [stove(i, runner_id="RH") for i in range(1, 7)]
    file = write_export(tmp_path / "d.csv", "stove_distribution", spot + honest)
    project = load_project(home, "T-CS-1")
    upload = ingest.store_upload(home, project, file)
    instance = orchestration.instance_for(home)
    instance.add_dynamic_partitions("survey_batches", [upload.partition_key])
    job = build_definitions(home).resolve_job_def("ingest_batch")
    result = job.execute_in_process(partition_key=upload.partition_key, instance=instance, raise_on_error=False)
    assert result.success  # a risk warning never blocks the batch
    check = {c.check_name: c for c in result.get_asset_check_evaluations()}["runner_risk"]
    assert not check.passed and check.severity.value == "WARN" and "RX" in check.description
    assert check.metadata["runners_high"].value == 1
    table = check.metadata["runners"].value
    assert table.splitlines()[2].startswith("| RX | 6 | 6 (100%)") and "high" in table.splitlines()[2]
    materialized = {e.asset_key.to_user_string(): e for e in result.get_asset_materialization_events()}
    metadata = materialized["surveys/accepted_rows"].step_materialization_data.materialization.metadata
    assert metadata["feedback_workbook"].value.endswith(".xlsx")
    summary = _summary_block(openpyxl.load_workbook(metadata["feedback_workbook"].value)["Summary"], "Runner risk")
    assert summary.set_index("runner_id").loc["RX", "risk_level"] == "high"
    assert summary["runner_id"].tolist()[-1] == risk.ALL_RUNNERS


def test_runner_files_cut_from_one_csv_equal_each_runner_written_alone(tmp_path):
    lines = pd.DataFrame({
        "row": [5, 2, 9, 3, 7, 4],
        "runner_id": ["R1", "R1", "R10", "R2", "R2", "Ä"],
        "household_id": ["H,1", 'say "hi"', None, HYPERLINK, "", "ü"],
        "status": ["quarantined", "warning", "warning", "quarantined", "warning", "warning"],
        "detail": ["x", "gps_accuracy_m = 55.0", "-3", "nan", None, "a;b"],
    }).astype({"household_id": "str", "detail": "str"})
    assert feedback._csv_pieces(feedback.spreadsheet_safe(lines), lines["runner_id"]) is not None
    folder = feedback.write_runner_files(tmp_path / "fast.runners", lines)
    safe = feedback.spreadsheet_safe(lines)
    names = feedback._file_names(sorted(lines["runner_id"].unique()))
    for runner, part in safe.groupby(lines["runner_id"], sort=True):
        part.to_csv(tmp_path / "alone.csv", index=False)
        assert (folder / names[runner]).read_bytes() == (tmp_path / "alone.csv").read_bytes()
    assert sorted(p.name for p in folder.iterdir()) == sorted(names.values())


def test_runner_files_with_a_value_spanning_lines_are_written_per_runner(tmp_path):
    lines = pd.DataFrame({"row": [2, 3], "runner_id": ["R1", "R2"], "detail": ["two\nlines", "one"]}).astype({"detail": "str"})
    assert feedback._csv_pieces(feedback.spreadsheet_safe(lines), lines["runner_id"]) is None
    folder = feedback.write_runner_files(tmp_path / "slow.runners", lines)
    assert [r["detail"] for r in csv_records(folder / "R1.csv")] == ["two\nlines"]


def _parts(path: Path) -> dict[str, bytes]:
    import zipfile

    with zipfile.ZipFile(path) as book:
        return {name: book.read(name) for name in book.namelist() if name != "docProps/core.xml"}


def test_problem_sheets_written_as_xml_equal_openpyxl_cell_by_cell(tmp_path, monkeypatch):
    texts = ["a", " lead", "trail ", "   ", "", None, "a&b<c>d", "'=1", "x\ty", "\u3000wide", "line\nbreak", "=", "ok"]
    upload = SimpleNamespace(batch_id="b", project_id="p", source_name="f.csv", form="cookstove_usage",
                             flavour="kobo", uploaded_at="2025-01-01T00:00:00+00:00")
    for runners in (3, 150):  # a sheet per runner, and one Problems sheet
        n = 2 * len(texts)
        problems = pd.DataFrame({
            "row": range(2, n + 2), "submission_id": [f"s{i}" for i in range(n)],
            "runner_id": sorted(f"R{i % runners}" for i in range(n)), "household_id": texts * 2,
            "status": "warning", "reason_code": "x", "reason": "r", "what_to_do": "w", "detail": texts[::-1] * 2,
        }).astype({"submission_id": "str", "runner_id": "str", "household_id": "str", "detail": "str"})
        assert feedback.sheet_rows_xml(feedback.spreadsheet_safe(problems), 2) is not None
        summary = feedback.runner_summary(problems, None, pd.DataFrame())
        reasons = feedback.reason_summary(problems)
        fast = feedback.write_workbook(tmp_path / f"fast{runners}.xlsx", upload, problems, summary, reasons, pd.DataFrame())
        monkeypatch.setattr(feedback, "FAST_SHEETS", False)
        slow = feedback.write_workbook(tmp_path / f"slow{runners}.xlsx", upload, problems, summary, reasons, pd.DataFrame())
        monkeypatch.setattr(feedback, "FAST_SHEETS", True)
        assert _parts(fast) == _parts(slow)


def test_values_openpyxl_must_handle_itself_leave_the_fast_path():
    for text in ["=SUM(1)", "#N/A", "a\rb", "x" * 32768]:
        frame = pd.DataFrame({"row": [2], "detail": [text]}).astype({"detail": "str"})
        assert feedback.sheet_rows_xml(frame, 2) is None
    assert feedback.sheet_rows_xml(pd.DataFrame({"row": [10**15]}), 2) is None
    assert feedback.sheet_rows_xml(pd.DataFrame({"share": [0.5]}), 2) is None
