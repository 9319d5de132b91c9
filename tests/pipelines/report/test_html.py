"""report.html in real verifier packages: map, charts, parameter table, calculation chain, Article 6."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipelines.report.html import INCOMPLETE, render_report
from pipelines.report.package import read_tables
from pipelines.report.svg import QUARANTINE_COLOUR, num

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "projects"


def _html(package) -> str:
    return (package / "report.html").read_text(encoding="utf-8")


def _svg(html: str, css_class: str) -> list[str]:
    return re.findall(rf'<svg[^>]*class="{css_class}".*?</svg>', html, flags=re.S)


@pytest.mark.parametrize("kind", ["cookstoves", "trees", "trees_mp1"])
def test_every_package_has_a_self_contained_report_listed_in_the_manifest(packages, kind):
    package = packages[kind]
    html = _html(package)
    manifest = json.loads((package / "manifest.json").read_text())
    assert manifest["files"]["report.html"] == hashlib.sha256((package / "report.html").read_bytes()).hexdigest()
    assert html.startswith("<!DOCTYPE html>") and "@media print" in html
    # offline: no script, no external stylesheet, image or font
    assert "<script" not in html and not re.search(r'(src|href)="(https?:)?//', html)
    assert INCOMPLETE not in html


def test_no_personal_data_reaches_the_page(packages):
    exports = SAMPLES / "IN-MP-CS-001" / "exports"
    names = pd.read_csv(exports / "stove_distribution_kobo.csv")["household/respondent_name"].dropna()
    phones = pd.read_csv(exports / "stove_distribution_kobo.csv", dtype=str)["household/phone"].dropna()
    html = _html(packages["cookstoves"])
    assert len(names) > 100
    assert not [v for v in [*names, *phones] if len(v) > 4 and v in html]
    assert "respondent_name" not in html


def test_cookstove_report_shows_households_quarantine_charts_and_sampling(packages):
    html = _html(packages["cookstoves"])
    tables = read_tables(packages["cookstoves"])
    maps = _svg(html, "map")
    assert len(maps) == 1
    households = len(tables["stove_distribution"])
    assert maps[0].count("<circle") == households
    quarantined = tables["quarantine_locations"]
    assert len(quarantined) > 0
    assert maps[0].count(f'stroke="{QUARANTINE_COLOUR}"') == len(quarantined)
    assert f"quarantined submission ({len(quarantined)})" in html
    for chart in ("Usage by commissioning cohort", "Stoves commissioned per month", "Quarantine by reason",
                  "Quarantine by runner", "Warnings by reason", "Usage proportion with its 90 % interval"):
        assert f'aria-label="{chart}"' in html, chart
    steps = tables["calculation_steps"]
    n = int(steps.loc[steps["name"] == "usage_sample_size", "value"].iloc[0])
    assert f"<th>n — stoves counted</th><td>{n}</td>" in html
    assert "Lower bound forced by the 90/10 rule" in html


def test_tree_report_shows_plots_bunds_trees_strata_and_charts(packages):
    html = _html(packages["trees"])
    tables = read_tables(packages["trees"])
    overview = _svg(html, "map")[0]
    assert overview.count("<circle") == len(tables["tree_planting"])
    bunds = tables["bund_plantation"]
    assert overview.count("bund B") == int(bunds["latest_visit"].sum())
    assert overview.count("plot P") >= len(tables["plots"])
    assert overview.count(f'stroke="{QUARANTINE_COLOUR}"') >= len(tables["quarantine_locations"])
    assert "Plots in detail" in html and len(_svg(html, "map")) == 5
    for chart in ("Survival by species", "Stock by stratum", "Quarantine by reason", "Quarantine by runner"):
        assert f'aria-label="{chart}"' in html, chart
    for species in tables["strata"]["species_code"]:
        assert f"<td>{species}</td>" in html
    event = tables["event_summary"].iloc[0]
    assert f"{event['u_p'] * 100:.2f} %" in html


@pytest.mark.parametrize("kind", ["cookstoves", "trees"])
def test_parameter_table_lists_every_parameter_with_source_and_qaqc(packages, kind):
    html = _html(packages[kind])
    section = html[html.index('id="parameters"'):html.index('id="chain"')]
    assert "D.1 Parameters fixed ex ante" in section and "D.2 Monitored parameters" in section
    for header in ("Data / parameter", "Unit", "Value applied", "Source of data", "Measurement method", "QA/QC"):
        assert header in section
    params = read_tables(packages[kind])["parameters"]
    for row in params.itertuples(index=False):
        assert f"<code>{row.name}</code>" in section
        assert num(row.value, 8) in section


@pytest.mark.parametrize("kind", ["cookstoves", "trees"])
def test_calculation_chain_shows_every_step_in_order(packages, kind):
    html = _html(packages[kind])
    steps = read_tables(packages[kind])["calculation_steps"].sort_values("step_no")
    section = html[html.index('id="chain"'):html.index('id="quality"')]
    positions = [section.index(f"<code>{name}</code>") for name in steps["name"].drop_duplicates()]
    assert positions == sorted(positions)
    assert section.count("<tr") == len(steps) + 1


@pytest.mark.parametrize("kind", ["cookstoves", "trees"])
def test_article6_block_and_table_default_to_not_authorized(packages, kind):
    html = _html(packages[kind])
    block = html[html.index('id="article6"'):html.index('id="map"')]
    with duckdb.connect(str(packages[kind] / "report.duckdb"), read_only=True) as con:
        article6 = con.execute("SELECT * FROM article6 ORDER BY vintage").df()
        er = con.execute("SELECT vintage FROM emission_reductions ORDER BY vintage").df()
    assert article6["vintage"].tolist() == er["vintage"].tolist()
    assert set(article6["authorization_status"]) == {"not_authorized"}
    assert set(article6["corresponding_adjustment_status"]) == {"not_applicable"}
    assert set(article6["check_status"]) == {"ok"}
    assert set(article6["host_list_status"]) == {"not_listed"}
    assert "Article 6 warning" not in block and "not_authorized" in block
    assert "India: activities eligible for authorization under Article 6.2 (2023 list)" in block


def test_the_page_is_a_function_of_the_package_tables(packages):
    """Rendering again from the Parquet copies gives the same page (what `mrv sample` relies on)."""
    html = _html(packages["cookstoves"])
    assert render_report(read_tables(packages["cookstoves"])) == html


def test_a_partial_package_still_renders_and_says_what_is_missing():
    tables = {"report_info": pd.DataFrame({"key": ["project_id", "period_id", "methodology"],
                                           "value": ["P", "MP1", "cdm-ams-ii-g"]}),
              "emission_reductions": pd.DataFrame({"vintage": [2024], "er_tco2e": [1.5], "issuable_tco2e": [1]}),
              "stove_distribution": pd.DataFrame({"latitude": [23.1], "longitude": [77.1]})}
    html = render_report(tables)
    assert "<h2>1. Summary</h2>" in html and INCOMPLETE in html


def test_a_map_of_a_very_large_project_draws_a_bounded_sample(monkeypatch):
    import pandas as pd

    from pipelines.report import maps

    monkeypatch.setattr(maps, "MAX_MAP_POINTS", 50)
    n = 500
    stoves = pd.DataFrame({"latitude": 23.0 + pd.Series(range(n)) * 1e-4, "longitude": 77.0 + pd.Series(range(n)) * 1e-4,
                           "stove_model": "M1", "stove_serial": [f"S{i}" for i in range(n)],
                           "household_id": [f"H{i}" for i in range(n)], "commissioned_on": "2024-01-01"})
    figure = maps.cookstove_map({"stove_distribution": stoves})
    assert figure.svg.count("<circle") == 50
    assert "50 (a random sample) of 500" in figure.caption
