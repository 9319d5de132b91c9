"""A cookstove period from uploaded exports to ER per vintage, checked against hand-worked numbers."""

import math

import pytest
from support import stove, visit, write_export

from pipelines.ingest import ingest_in_process
from pipelines.periods import compute_period
from pipelines.project import load_project

Z = 1.6448536269514722


@pytest.fixture
def period_result(home, tmp_path):
    stoves = [stove(i) for i in range(1, 7)]                                            # M1, whole period
    stoves += [stove(i, stove_model="M2", commissioned_on="2024-10-01") for i in (7, 8)]
    stoves += [stove(9, commissioned_on="2019-09-01")]                                 # life ends 2024-08-31
    stoves += [stove(10, stove_model="M9")]                                            # quarantined: never counts
    ingest_in_process(home, "T-CS-1", write_export(tmp_path / "dist.csv", "stove_distribution", stoves, "kobo"))
    visits = [
        visit(101, stove_serial="SN0001", visit_date="2025-01-05", stove_in_use="no"),  # superseded by the later visit
        visit(1), visit(2), visit(3),
        visit(104, stove_serial="SN0004", visit_date="2024-06-15"),                    # before the period
        visit(5, stove_found="no", stove_in_use="", days_used_last_7="", stove_condition="", photo_stove=""),
        visit(6, stove_in_use="no"),
        visit(7), visit(8),
        visit(9),                                                                      # beyond technical life
        visit(10),                                                                     # unknown stove
    ]
    ingest_in_process(home, "T-CS-1", write_export(tmp_path / "use.csv", "cookstove_usage", visits, "odk"))
    return compute_period(home, load_project(home, "T-CS-1"), "MP1")


def test_usage_rate_uses_the_latest_visit_within_life_and_the_lower_bound(period_result):
    sample = period_result.tables["usage_sample"]
    counted = sample[sample["counted"]]
    assert sorted(counted["stove_serial"]) == ["SN0001", "SN0002", "SN0003", "SN0005", "SN0006", "SN0007", "SN0008"]
    assert counted.set_index("stove_serial").loc["SN0001", "in_use"]
    steps = period_result.tables["calculation_steps"].set_index(["name", "scope"])["value"]
    p = 5 / 7
    se = math.sqrt(p * (1 - p) / 7)
    assert steps[("usage_rate_applied", "")] == pytest.approx(p - Z * se, rel=1e-12)


def test_emission_reductions_per_vintage_match_hand_calculation(period_result):
    u = 5 / 7 - Z * math.sqrt((5 / 7) * (2 / 7) / 7)
    # stove-days: M1 = six stoves over the whole period (184 d in 2024, 181 d in 2025) + SN0009's 62 d
    # (2024-07-01..2024-08-31); M2 = two stoves from 2024-10-01 (92 d in 2024, 181 d in 2025).
    days = {2024: {"M1": 6 * 184 + 62, "M2": 2 * 92}, 2025: {"M1": 6 * 181, "M2": 2 * 181}}
    saving = {"M1": 1 - 0.10 / 0.25, "M2": 1 - 0.10 / 0.20}
    er = period_result.emission_reductions.set_index("vintage")
    for year, by_model in days.items():
        b_savings = sum(d / 365 * u * 2.0 * saving[m] for m, d in by_model.items())
        expected = b_savings * 0.30 * 0.015 * 81.6 * 0.95
        assert er.loc[year, "er_tco2e"] == pytest.approx(expected, rel=1e-9)
        assert er.loc[year, "issuable_tco2e"] == math.floor(expected)
    assert set(er.columns) >= {"project_id", "period_id", "er_tco2e", "issuable_tco2e"}


def test_intermediate_tables_hold_the_rows_behind_the_numbers(period_result):
    tables = period_result.tables
    assert "SN0010" not in set(tables["stove_distribution"]["stove_serial"])
    assert len(tables["stove_distribution"]) == 9
    assert set(tables["parameters"]["name"]) >= {"fnrb", "ncv_tj_per_t", "stove_models.M1.efficiency"}
    assert tables["parameters"].set_index("name").loc["fnrb", "value"] == 0.30
    assert not {"respondent_name", "phone"} & set().union(*(t.columns for t in tables.values()))
