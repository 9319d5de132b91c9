"""Article 6 fields per vintage and the host-country eligibility check (India's 2023 Article 6.2 list)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from pipelines.errors import UserError
from pipelines.periods import compute_period, write_period_package
from pipelines.project import load_project
from pipelines.report.article6 import article6_table, load_host_list, read_authorization
from pipelines.report.verify import verify
from pipelines.settings import DataHome

DATA = Path(__file__).resolve().parents[3] / "data"
TODAY = dt.date(2026, 11, 23)
AUTHORIZED = {
    "authorized": True,
    "loa": {"id": "NDAIAPA/LoA/2025/001", "date": dt.date(2025, 6, 2), "issuer": "NDAIAPA, India"},
    "authorized_use": ["NDC", "OIMP_CORSIA"],
    "first_transfer_trigger": "issuance",
    "corresponding_adjustment": {"status": "pending", "declaration": "to be reported in India's next BTR"},
}


def project(project_id: str = "IN-MP-CS-001", **article6):
    return dataclasses.replace(load_project(DataHome(DATA), project_id), article6=article6 or {"authorized": False})


def er(*vintages: int) -> pd.DataFrame:
    return pd.DataFrame({"project_id": "P", "period_id": "MP1", "vintage": list(vintages),
                         "er_tco2e": [10.5] * len(vintages), "issuable_tco2e": [10] * len(vintages)})


def test_the_reference_list_is_india_2023_with_its_validity_and_sources():
    host = load_host_list("IN")
    assert host.valid_from == dt.date(2023, 2, 17) and host.valid_until == dt.date(2026, 2, 16)
    assert len(host.activities) == 13 and {"green_hydrogen", "ccus", "green_ammonia"} <= set(host.activities)
    assert "improved_cookstoves" not in host.activities and "afforestation_agroforestry" not in host.activities
    raw = yaml.safe_load((DATA / "reference" / "india_article6_activities.yaml").read_text())
    sources = {s["id"] for s in raw["sources"]}
    assert all(a["source"] in sources for a in raw["activities"])
    assert load_host_list("KE") is None


@pytest.mark.parametrize("project_id, activity", [("IN-MP-CS-001", "improved_cookstoves"),
                                                   ("IN-MH-AF-001", "afforestation_agroforestry")])
def test_default_is_not_authorized_and_no_warning(project_id, activity):
    table = article6_table(project(project_id), er(2024, 2025), today=TODAY)
    assert table["activity_type"].unique().tolist() == [activity]
    assert set(table["authorization_status"]) == {"not_authorized"}
    assert set(table["corresponding_adjustment_status"]) == {"not_applicable"}
    assert set(table["check_status"]) == {"ok"} and set(table["host_list_status"]) == {"not_listed"}
    assert table["loa_id"].isna().all() and table["authorized_use"].isna().all()
    assert "no authorization is expected" in table["check_message"].iloc[0]


def test_claiming_authorization_for_cookstoves_warns_per_vintage():
    table = article6_table(project(**AUTHORIZED), er(2024, 2025), today=TODAY)
    assert set(table["authorization_status"]) == {"authorized"}
    assert set(table["check_status"]) == {"warning"}
    first = table.iloc[0]
    assert "authorization claimed for improved cookstoves" in first["check_message"]
    assert "does not name" in first["check_message"]
    assert first["loa_id"] == "NDAIAPA/LoA/2025/001" and first["loa_date"] == "2025-06-02"
    assert first["authorized_use"] == "NDC, OIMP_CORSIA" and first["first_transfer_trigger"] == "issuance"
    assert first["corresponding_adjustment_status"] == "pending"
    assert "valid" not in first["check_message"]  # the LoA date lies within the list's validity


def test_a_listed_activity_with_a_complete_loa_passes():
    table = article6_table(project(**AUTHORIZED, activity_type="high_end_energy_efficiency"), er(2025), today=TODAY)
    row = table.iloc[0]
    assert row["check_status"] == "ok" and row["host_list_status"] == "listed"
    assert row["activity_type_source"] == "project.yaml article6.activity_type"


def test_an_loa_outside_the_list_validity_or_without_a_date_warns():
    late = {**AUTHORIZED, "activity_type": "green_hydrogen", "loa": {"id": "X", "date": "2026-05-01"}}
    message = article6_table(project(**late), er(2026), today=TODAY)["check_message"].iloc[0]
    assert "applies from 2023-02-17 to 2026-02-16, not on the LoA date 2026-05-01" in message
    undated = {**AUTHORIZED, "activity_type": "green_hydrogen", "loa": {"id": "X"}}
    message = article6_table(project(**undated), er(2026), today=TODAY)["check_message"].iloc[0]
    assert "report date 2026-11-23" in message and "id or date is missing" in message


def test_vintages_before_2021_and_missing_corresponding_adjustments_warn():
    block = {**AUTHORIZED, "activity_type": "green_hydrogen", "corresponding_adjustment": {"status": "not_applicable"}}
    table = article6_table(project(**block), er(2020, 2024), today=TODAY).set_index("vintage")
    assert "before 2021" in table.loc[2020, "check_message"] and "before 2021" not in table.loc[2024, "check_message"]
    assert "requires a corresponding adjustment" in table.loc[2024, "check_message"]


def test_authorized_vintages_and_per_vintage_corresponding_adjustments():
    block = {**AUTHORIZED, "authorized_vintages": [2025],
             "vintages": {2025: {"corresponding_adjustment": {"status": "applied", "declaration": "BTR1 table 4"}}}}
    table = article6_table(project(**block), er(2024, 2025), today=TODAY).set_index("vintage")
    assert table.loc[2024, "authorization_status"] == "not_authorized"
    assert table.loc[2024, "corresponding_adjustment_status"] == "not_applicable"
    assert table.loc[2025, "authorization_status"] == "authorized"
    assert table.loc[2025, "corresponding_adjustment_status"] == "applied"
    assert table.loc[2025, "corresponding_adjustment_declaration"] == "BTR1 table 4"


def test_voluntary_is_stored_with_the_registry_name_and_default_ca_follows_the_use():
    auth = read_authorization(project(authorized=True, authorized_use="voluntary"))
    assert auth.authorized_use == ("voluntary_mitigation_contribution",) and auth.ca_status == "not_applicable"
    assert read_authorization(project(authorized=True, authorized_use=["NDC"])).ca_status == "pending"


@pytest.mark.parametrize("block, key", [({"authorized": "yes"}, "article6.authorized"),
                                        ({"authorized_use": ["ITMO"]}, "article6.authorized_use"),
                                        ({"first_transfer_trigger": "sale"}, "article6.first_transfer_trigger"),
                                        ({"corresponding_adjustment": {"status": "done"}}, "corresponding_adjustment.status"),
                                        ({"loa": {"date": "2025-13-01"}}, "article6.loa.date"),
                                        ({"letter": "x"}, "unknown key")])
def test_a_malformed_block_is_a_user_mistake_naming_the_key(block, key):
    with pytest.raises(UserError, match=key.replace(".", r"\.")):
        read_authorization(project(**block))


def test_a_host_without_a_list_on_file_is_warned_about():
    table = article6_table(project(**AUTHORIZED, host_party="KE"), er(2025), today=TODAY)
    assert table["host_list_status"].iloc[0] == "no_list_on_file"
    assert "no list of eligible activities on file for host party KE" in table["check_message"].iloc[0]


def test_the_warning_reaches_the_package_table_and_the_page(home_copy):
    path = home_copy.project_dir("IN-MP-CS-001") / "project.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["article6"] = AUTHORIZED
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    project_ = load_project(home_copy, "IN-MP-CS-001")
    package = write_period_package(home_copy, compute_period(home_copy, project_, "MP1"))
    with duckdb.connect(str(package / "report.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT vintage, authorization_status, check_status, check_message FROM article6 "
                           "ORDER BY vintage").fetchall()
    assert [(v, a, c) for v, a, c, _ in rows] == [(2024, "authorized", "warning"), (2025, "authorized", "warning")]
    html = (package / "report.html").read_text()
    block = html[html.index('id="article6"'):html.index('id="map"')]
    assert block.count("Article 6 warning (vintage") == 2
    assert "authorization claimed for improved cookstoves" in block and "NDAIAPA/LoA/2025/001" in block
    assert verify(package).intact  # a warning, not an error
