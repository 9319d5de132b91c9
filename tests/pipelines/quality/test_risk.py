"""Runner risk: GPS clusters, identical answers, shares, the score and its levels, against hand-made batches."""

import math

import numpy as np
import pandas as pd

from pipelines.quality import risk

LAT0, LON0 = 23.1, 77.1
M_PER_DEG = 2 * math.pi * risk.EARTH_RADIUS_M / 360


def at(dx_m: float, dy_m: float) -> tuple[float, float]:
    """A point dx metres east and dy metres north of (LAT0, LON0)."""
    return LAT0 + dy_m / M_PER_DEG, LON0 + dx_m / (M_PER_DEG * math.cos(math.radians(LAT0)))


def rows_at(points: list[tuple[str, str, float, float]]) -> pd.DataFrame:
    """(runner, household, dx, dy) -> canonical-looking rows."""
    frame = pd.DataFrame(points, columns=["runner_id", "household_id", "dx", "dy"])
    lat, lon = zip(*(at(dx, dy) for dx, dy in zip(frame["dx"], frame["dy"])))
    return pd.DataFrame({"source_row": np.arange(2, len(frame) + 2), "submission_id": [f"s{i}" for i in range(len(frame))],
                         "runner_id": frame["runner_id"], "household_id": frame["household_id"],
                         "latitude": lat, "longitude": lon})


def test_five_households_on_one_spot_are_a_cluster_and_their_neighbours_are_not():
    spot = [("R1", f"H{i}", 0.7 * i, -0.5 * i) for i in range(5)]   # five households within 4 m
    spread = [("R1", f"F{i}", 200 + 11.0 * i, 0) for i in range(5)]  # 11 m apart: a row of houses
    flagged = risk.gps_clustered(rows_at(spot + spread), "household_id")
    assert flagged.tolist() == [True] * 5 + [False] * 5


def test_four_households_on_one_spot_are_not_enough():
    flagged = risk.gps_clustered(rows_at([("R1", f"H{i}", i, 0) for i in range(4)]), "household_id")
    assert not flagged.any()


def test_repeat_visits_to_one_household_and_other_runners_do_not_count():
    same_house = [("R1", "H1", 0.5 * i, 0) for i in range(6)]
    two_runners = [("R2", f"H{i}", 100 + i, 0) for i in range(3)] + [("R3", f"H{i + 3}", 100 + i, 1) for i in range(3)]
    assert not risk.gps_clustered(rows_at(same_house + two_runners), "household_id").any()


def test_neighbours_across_a_cell_edge_are_found():
    edge = math.floor(math.radians(LAT0) * risk.EARTH_RADIUS_M / risk.CLUSTER_RADIUS_M + 1) * risk.CLUSTER_RADIUS_M
    offset = edge - math.radians(LAT0) * risk.EARTH_RADIUS_M  # metres north to the next cell row
    points = [("R1", f"H{i}", 1.0 * i, offset - 2 if i < 3 else offset + 2) for i in range(5)]
    assert risk.gps_clustered(rows_at(points), "household_id").all()


def test_rows_without_coordinates_are_never_clustered():
    rows = rows_at([("R1", f"H{i}", 0, 0) for i in range(7)])
    rows.loc[rows.index[:2], "latitude"] = np.nan
    assert risk.gps_clustered(rows, "household_id").tolist() == [False, False, True, True, True, True, True]
    rows.loc[rows.index[2], "longitude"] = np.nan  # four located households are not a cluster
    assert not risk.gps_clustered(rows, "household_id").any()


def test_a_thousand_submissions_on_one_spot_are_all_flagged():
    rng = np.random.default_rng(3)
    points = [("R1", f"H{i}", x, y) for i, (x, y) in enumerate(rng.normal(0, 2.0, (1000, 2)))]
    assert risk.gps_clustered(rows_at(points), "household_id").mean() > 0.99


USAGE = {"stove_found": True, "stove_in_use": True, "days_used_last_7": 7, "baseline_stove_in_use": False,
         "main_fuel": "firewood", "household_size": 5, "stove_condition": "good"}


def usage_rows(runners_answers: list[tuple[str, dict]]) -> pd.DataFrame:
    records = [{"runner_id": r, **USAGE, **changes} for r, changes in runners_answers]
    frame = pd.DataFrame(records)
    frame["household_size"] = frame["household_size"].astype("Int64")
    frame["days_used_last_7"] = frame["days_used_last_7"].astype("Int64")
    frame.insert(0, "source_row", np.arange(2, len(frame) + 2))
    return frame


def test_only_usage_has_enough_answer_questions():
    assert risk.answer_questions("cookstove_usage") == ["household_size", "main_fuel", "stove_found", "stove_in_use",
                                                         "days_used_last_7", "baseline_stove_in_use", "stove_condition"]
    assert risk.answer_questions("stove_distribution") == []
    assert risk.answer_questions("tree_survival") == []


def test_identical_answers_count_the_runners_most_common_answer_set():
    rows = usage_rows([("R1", {})] * 4 + [("R1", {"household_size": 3}), ("R1", {"household_size": 4})]
                      + [("R2", {"household_size": n}) for n in (1, 1, 2, 2, 3, 3)]
                      + [("R3", {}), ("R3", {})])
    flagged = risk.identical_answers(rows, risk.answer_questions("cookstove_usage"))
    assert flagged.tolist() == [True] * 4 + [False] * 2 + [False] * 6 + [False] * 2  # R2: pairs only; R3: two


def test_a_missing_answer_is_part_of_the_pattern_and_blank_rows_never_match():
    rows = usage_rows([("R1", {"stove_in_use": None})] * 3 + [("R1", {})] * 2)
    assert risk.identical_answers(rows, risk.answer_questions("cookstove_usage")).tolist() == [True] * 3 + [False] * 2
    blank = usage_rows([("R1", {k: None for k in USAGE})] * 4)
    assert not risk.identical_answers(blank, risk.answer_questions("cookstove_usage")).any()


def findings(rows_and_reasons: list[tuple[int, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows_and_reasons, columns=["source_row", "reason"]).assign(detail="")


def test_score_and_level_by_hand():
    # R1: 10 submissions, 2 short (20 % = threshold: 20 points) and 1 too fast (10 % = threshold: 20 points) -> 40, high.
    # R2: 3 submissions, all short -> 20 points, medium.  R3: 4 submissions, 2 short and 2 too fast -> 40 points,
    # but fewer than 5 submissions -> medium.  R4: 10 submissions, 1 short (10 % of 20 %) -> 10 points, low.
    points = ([("R1", f"A{i}", 50.0 * i, 0) for i in range(10)] + [("R2", f"B{i}", 50.0 * i, 500) for i in range(3)]
              + [("R3", f"C{i}", 50.0 * i, 1000) for i in range(4)] + [("R4", f"D{i}", 50.0 * i, 1500) for i in range(10)])
    rows = rows_at(points)
    first = {r: rows.index[rows["runner_id"] == r][0] for r in ("R1", "R2", "R3", "R4")}
    src = rows["source_row"]
    warn = findings([(src[first["R1"]], "short_interview"), (src[first["R1"] + 1], "short_interview"),
                     (src[first["R1"] + 2], "runner_too_fast"), (src[first["R1"] + 2], "low_gps_accuracy"),
                     *[(src[first["R2"] + i], "short_interview") for i in range(3)],
                     (src[first["R3"]], "short_interview"), (src[first["R3"] + 1], "short_interview"),
                     (src[first["R3"] + 2], "runner_too_fast"), (src[first["R3"] + 3], "runner_too_fast"),
                     (src[first["R4"]], "short_interview")])
    table = risk.runner_risk(rows, warn, "stove_distribution").set_index("runner_id")
    assert table.loc["R1", ["submissions", "short_interview", "runner_too_fast", "photo_reused", "gps_cluster"]].tolist() == [10, 2, 1, 0, 0]
    assert table.loc["R1", "short_interview_share"] == 0.2
    assert table["score"].to_dict() == {"R1": 40.0, "R2": 20.0, "R3": 40.0, "R4": 10.0, risk.ALL_RUNNERS: 40.0}
    assert table["level"].to_dict() == {"R1": "high", "R2": "medium", "R3": "medium", "R4": "low", risk.ALL_RUNNERS: "high"}
    assert table.loc["R1", "signals"] == "20% short interviews; 10% impossible travel speed"
    assert table.loc["R4", "signals"] == ""
    # identical answers do not apply to the distribution form: blank, no points
    assert table["identical_answers"].isna().all() and table["identical_answers_share"].isna().all()
    assert table.loc[risk.ALL_RUNNERS, "submissions"] == 27 and table.loc[risk.ALL_RUNNERS, "short_interview"] == 8


def test_households_on_one_spot_and_copied_answers_make_a_high_risk_runner():
    rows = usage_rows([("RF", {})] * 6 + [("RH", {"household_size": n}) for n in range(1, 7)])
    coords = rows_at([("RF", f"H{i}", 0.5 * i, 0) for i in range(6)] + [("RH", f"K{i}", 40.0 * i, 300) for i in range(6)])
    rows = rows.assign(household_id=coords["household_id"], latitude=coords["latitude"], longitude=coords["longitude"],
                       submission_id=coords["submission_id"])
    table = risk.runner_risk(rows, findings([]), "cookstove_usage").set_index("runner_id")
    assert table.loc["RF", ["gps_cluster", "identical_answers"]].tolist() == [6, 6]
    assert (table.loc["RF", "score"], table.loc["RF", "level"]) == (40.0, "high")
    assert (table.loc["RH", "score"], table.loc["RH", "level"]) == (0.0, "low")
    assert table.loc["RF", "signals"] == "100% households on one GPS spot; 100% identical answers"


def test_a_blank_runner_id_is_its_own_line_and_an_empty_batch_gives_no_lines():
    rows = rows_at([("R1", "H1", 0, 0), ("R1", "H2", 100, 0)])
    rows.loc[1, "runner_id"] = None
    table = risk.runner_risk(rows, findings([]), "stove_distribution")
    assert table["runner_id"].tolist() == [risk.NO_RUNNER, "R1", risk.ALL_RUNNERS]
    assert risk.runner_risk(rows.iloc[:0], findings([]), "stove_distribution").empty


def test_markdown_table_puts_the_riskiest_runner_first_and_escapes_pipes():
    rows = rows_at([("A|B", f"H{i}", 0.5 * i, 0) for i in range(6)] + [("R2", "K1", 500, 0)])
    text = risk.markdown_table(risk.runner_risk(rows, findings([]), "stove_distribution"))
    lines = text.splitlines()
    assert lines[0].startswith("| runner | submissions | short interviews")
    assert lines[2].startswith("| A\\|B | 6 |") and "6 (100%)" in lines[2] and "n/a" in lines[2]
    assert lines[-1].startswith(f"| {risk.ALL_RUNNERS} | 7 |")
