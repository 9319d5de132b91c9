"""Ingest: every contract rule for the cookstove forms, with its reason code, and nothing counted twice."""

import duckdb
import pandas as pd
import pytest
from support import make_project, stove, visit, write_export

from pipelines import warehouse
from pipelines.errors import UserError
from pipelines.ingest import ingest_in_process


def ingest(home, tmp_path, name, form, rows, flavour="kobo", project="T-CS-1"):
    return ingest_in_process(home, project, write_export(tmp_path / name, form, rows, flavour))


def findings(home, table="quarantine"):
    with warehouse.connect(home) as con:
        return con.execute(f"SELECT submission_id, reason, detail FROM {table} ORDER BY 1, 2").df()


def reasons_of(home, submission_id, table="quarantine"):
    frame = findings(home, table)
    return sorted(frame.loc[frame["submission_id"] == submission_id, "reason"])


def accepted_ids(home, table):
    with warehouse.connect(home) as con:
        return sorted(r[0] for r in con.execute(f"SELECT submission_id FROM {table} WHERE accepted").fetchall())


def test_each_quarantine_rule_of_the_distribution_form(home, tmp_path):
    rows = [
        stove(1),
        stove(2, household_id=""),                                 # missing_required
        stove(3, stove_model="M9"),                                # bad_value: unknown model
        stove(4, consent_carbon_rights="maybe"),                   # bad_value: not yes/no
        stove(5, project_id="OTHER-PROJECT"),                      # wrong_project
        stove(6, lat="", lon="", acc=""),                          # no_gps
        stove(7, lat=23.5),                                        # outside_boundary (~33 km north)
        stove(8, commissioned_on="2031-01-01"),                    # future_date
        stove(9, start="2024-03-01T12:00:00+05:30", end="2024-03-01T11:00:00+05:30"),  # end before start
        stove(10, stove_serial="SN0001"),                          # duplicate_stove (d1 starts earlier)
    ]
    summary = ingest(home, tmp_path, "dist.csv", "stove_distribution", rows)
    assert summary.rows_read == 10 and summary.accepted == 1 and summary.quarantined == 9
    assert reasons_of(home, "d2") == ["missing_required"]
    assert reasons_of(home, "d3") == ["bad_value"]
    assert reasons_of(home, "d4") == ["bad_value"]
    assert reasons_of(home, "d5") == ["wrong_project"]
    assert reasons_of(home, "d6") == ["no_gps"]
    assert reasons_of(home, "d7") == ["outside_boundary"]
    assert reasons_of(home, "d8") == ["future_date"]
    assert reasons_of(home, "d9") == ["future_date"]
    assert reasons_of(home, "d10") == ["duplicate_stove"]
    assert accepted_ids(home, "stove_distribution") == ["d1"]


def test_a_row_keeps_every_reason_that_applies(home, tmp_path):
    ingest(home, tmp_path, "d.csv", "stove_distribution",
           [stove(1, project_id="ELSEWHERE", stove_model="M9", commissioned_on="2031-05-05")])
    assert reasons_of(home, "d1") == ["bad_value", "future_date", "wrong_project"]


def test_point_outside_by_less_than_its_accuracy_is_kept(home, tmp_path):
    # 0.0002 degrees (~22 m) north of the boundary edge at 23.2 N
    ingest(home, tmp_path, "d.csv", "stove_distribution",
           [stove(1, lat=23.2002, acc=40), stove(2, lat=23.2002, acc=10), stove(3, lat=23.2002, acc="")])
    assert reasons_of(home, "d2") == ["outside_boundary"]
    assert accepted_ids(home, "stove_distribution") == ["d1", "d3"]  # blank accuracy counts as 30 m


def test_usage_rules_unknown_stove_ranges_and_conditional_questions(home, tmp_path):
    ingest(home, tmp_path, "d.csv", "stove_distribution", [stove(1), stove(2)])
    rows = [
        visit(1),
        visit(2, stove_found="no", stove_in_use="", days_used_last_7="", stove_condition="", photo_stove=""),
        visit(3, stove_serial="SN9999"),                       # unknown_stove
        visit(4, stove_serial="SN0002", household_size="45"),  # bad_value: range 1-30
        visit(5, stove_serial="SN0002", stove_in_use=""),      # missing_required: asked when found
        visit(6, stove_serial="SN0002", main_fuel="coal"),     # bad_value: not a choice
        visit(7, stove_serial="SN0002", household_size="4.5"), # bad_value: not an integer
    ]
    summary = ingest(home, tmp_path, "u.csv", "cookstove_usage", rows)
    assert reasons_of(home, "v1") == [] and reasons_of(home, "v2") == []
    assert reasons_of(home, "v3") == ["unknown_stove"]
    assert reasons_of(home, "v4") == ["bad_value"]
    assert reasons_of(home, "v5") == ["missing_required"]
    assert reasons_of(home, "v6") == ["bad_value"]
    assert reasons_of(home, "v7") == ["bad_value"]
    assert summary.accepted == 2


def test_warnings_keep_the_row(home, tmp_path):
    rows = [
        stove(1, acc=55),                                                                    # low_gps_accuracy
        stove(2, start="2024-03-02T09:00:00+05:30", end="2024-03-02T09:00:40+05:30"),        # short_interview
        stove(3, photo_stove="same.jpg"), stove(4, photo_stove="same.jpg"),                  # photo_reused
        stove(5, runner_id="RX", start="2024-03-03T09:00:00+05:30", end="2024-03-03T09:05:00+05:30", lat=23.01),
        stove(6, runner_id="RX", start="2024-03-03T09:10:00+05:30", end="2024-03-03T09:15:00+05:30", lat=23.19),
    ]
    summary = ingest(home, tmp_path, "d.csv", "stove_distribution", rows)
    assert summary.accepted == 6
    assert reasons_of(home, "d1", "warnings") == ["low_gps_accuracy"]
    assert reasons_of(home, "d2", "warnings") == ["short_interview"]
    assert reasons_of(home, "d3", "warnings") == ["photo_reused"] == reasons_of(home, "d4", "warnings")
    assert reasons_of(home, "d6", "warnings") == ["runner_too_fast"]  # 20 km in 10 min
    assert reasons_of(home, "d5", "warnings") == []


def test_repeat_visit_in_a_period_is_a_warning_on_every_visit_after_the_first(home, tmp_path):
    ingest(home, tmp_path, "d.csv", "stove_distribution", [stove(1)])
    ingest(home, tmp_path, "u1.csv", "cookstove_usage", [visit(1)])
    ingest(home, tmp_path, "u2.csv", "cookstove_usage", [visit(2, stove_serial="SN0001", visit_date="2025-04-01"),
                                                         visit(3, stove_serial="SN0001", visit_date="2025-05-01"),
                                                         visit(4, stove_serial="SN0001", visit_date="2025-08-01")])
    assert reasons_of(home, "v1", "warnings") == []
    assert reasons_of(home, "v2", "warnings") == ["repeat_visit"] == reasons_of(home, "v3", "warnings")
    assert reasons_of(home, "v4", "warnings") == []  # after the period ends


def test_two_visits_on_one_day_the_later_by_end_time_is_the_repeat(home, tmp_path):
    """On one visit date, "later" is what the calculation takes as the latest visit: the later end time,
    whatever the order of the rows in the file."""
    ingest(home, tmp_path, "d.csv", "stove_distribution", [stove(1)])
    ingest(home, tmp_path, "u.csv", "cookstove_usage", [
        visit(2, stove_serial="SN0001", start="2025-03-10T15:00:00+05:30", end="2025-03-10T15:20:00+05:30"),
        visit(3, stove_serial="SN0001", start="2025-03-10T09:00:00+05:30", end="2025-03-10T09:20:00+05:30")])
    assert reasons_of(home, "v3", "warnings") == []
    assert reasons_of(home, "v2", "warnings") == ["repeat_visit"]


def test_same_file_twice_changes_nothing(home, tmp_path):
    path = write_export(tmp_path / "d.csv", "stove_distribution", [stove(1), stove(2, stove_model="M9")])
    first = ingest_in_process(home, "T-CS-1", path)
    with duckdb.connect(str(home.warehouse_db), read_only=True) as con:
        before = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in ("stove_distribution", "quarantine", "batches")}
    again = ingest_in_process(home, "T-CS-1", path)
    with duckdb.connect(str(home.warehouse_db), read_only=True) as con:
        after = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in before}
    assert again.already_ingested and not first.already_ingested
    assert before == after == {"stove_distribution": 2, "quarantine": 1, "batches": 1}


def test_overlapping_export_counts_each_submission_once(home, tmp_path):
    ingest(home, tmp_path, "k.csv", "stove_distribution", [stove(1), stove(2), stove(3)], "kobo")
    summary = ingest(home, tmp_path, "o.csv", "stove_distribution", [stove(2), stove(3), stove(4), stove(4)], "odk")
    assert summary.duplicates == 3 and summary.accepted == 1
    assert accepted_ids(home, "stove_distribution") == ["d1", "d2", "d3", "d4"]
    assert findings(home).empty  # a duplicate submission is ignored, never quarantined


def test_a_corrected_resubmission_replaces_its_quarantine(home, tmp_path):
    ingest(home, tmp_path, "first.csv", "stove_distribution", [stove(1, stove_model="M9")])
    assert reasons_of(home, "d1") == ["bad_value"]
    ingest(home, tmp_path, "fixed.csv", "stove_distribution", [stove(1)])
    assert reasons_of(home, "d1") == []
    assert accepted_ids(home, "stove_distribution") == ["d1"]
    with warehouse.connect(home) as con:
        assert con.execute("SELECT count(*) FROM stove_distribution WHERE submission_id = 'd1'").fetchone()[0] == 1


def test_a_serial_registered_in_another_project_is_a_duplicate(home, tmp_path):
    make_project(home, "T-CS-2")
    ingest(home, tmp_path, "a.csv", "stove_distribution", [stove(1)])
    ingest(home, tmp_path, "b.csv", "stove_distribution", [stove(7, stove_serial="SN0001", project_id="T-CS-2")],
           project="T-CS-2")
    detail = findings(home).set_index("submission_id").loc["d7", "detail"]
    assert reasons_of(home, "d7") == ["duplicate_stove"] and "T-CS-1" in detail


def test_earliest_start_wins_within_one_upload(home, tmp_path):
    late = stove(1, start="2024-03-05T09:00:00+05:30", end="2024-03-05T09:10:00+05:30")
    early = stove(2, stove_serial="SN0001", start="2024-03-02T09:00:00+05:30", end="2024-03-02T09:10:00+05:30")
    ingest(home, tmp_path, "d.csv", "stove_distribution", [late, early])
    assert accepted_ids(home, "stove_distribution") == ["d2"]
    assert reasons_of(home, "d1") == ["duplicate_stove"]


def test_unusable_upload_is_kept_but_nothing_is_accepted(home, tmp_path):
    bad = tmp_path / "notes.csv"
    bad.write_text("name,comment\nx,y\n")
    with pytest.raises(UserError, match="notes.csv"):
        ingest_in_process(home, "T-CS-1", bad)
    kept = list(home.uploads.rglob("notes.csv"))
    assert len(kept) == 1 and kept[0].read_text() == bad.read_text()
    assert accepted_ids(home, "stove_distribution") == []


def test_feedback_file_names_row_runner_and_reason_in_plain_words(home, tmp_path):
    summary = ingest(home, tmp_path, "d.csv", "stove_distribution", [stove(1), stove(2, household_id="")])
    feedback = pd.read_csv(summary.feedback_path)
    row = feedback[feedback["reason_code"] == "missing_required"].iloc[0]
    assert row["row"] == 3 and row["submission_id"] == "d2" and row["runner_id"] == "R2"
    assert "blank" in row["reason"] and row["what_to_do"]
