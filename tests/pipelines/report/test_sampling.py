"""The site-visit sample: reproducible, stratified with proportional allocation, stored in the package."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from pipelines.errors import UserError
from pipelines.periods import compute_period, package_dir, write_period_package
from pipelines.project import load_project
from pipelines.report.commands import sample_command
from pipelines.report.package import read_tables
from pipelines.report.sampling import allocate, draw, population, write_site_visit_sample
from pipelines.report.verify import verify

COOKSTOVES, TREES = "IN-MP-CS-001", "IN-MH-AF-001"


@pytest.fixture(scope="module")
def tables(packages):
    return {kind: read_tables(packages[kind]) for kind in ("cookstoves", "trees")}


def test_allocation_is_proportional_with_at_least_one_per_stratum():
    sizes = pd.Series({"A": 1884, "B": 157, "C": 233})
    # quotas 26.5, 2.2, 3.3 for n = 32: floors 26, 2, 3 = 31; the largest remainder (A, .5) takes the last unit
    assert allocate(sizes, 32).to_dict() == {"A": 27, "B": 2, "C": 3}
    # a tiny stratum still gets one, taken from the stratum furthest above its quota
    assert allocate(pd.Series({"A": 990, "B": 5, "C": 5}), 10).to_dict() == {"A": 8, "B": 1, "C": 1}
    assert allocate(pd.Series({"A": 3, "B": 2}), 50).to_dict() == {"A": 3, "B": 2}  # everything
    with pytest.raises(UserError, match="below the number of strata"):
        allocate(sizes, 2)


@pytest.mark.parametrize("kind, column", [("cookstoves", "stove_model"), ("trees", "species_code")])
def test_same_seed_same_list_other_seed_other_list(tables, kind, column):
    first = draw(tables[kind], 30, seed=2026)
    again = draw(tables[kind], 30, seed=2026)
    other = draw(tables[kind], 30, seed=2027)
    pd.testing.assert_frame_equal(first, again)
    assert set(first["unit_id"]) != set(other["unit_id"])
    assert len(first) == 30 and first["unit_id"].is_unique and first["visit_no"].tolist() == list(range(1, 31))
    assert set(first["seed"]) == {2026} and set(first["n_requested"]) == {30} and set(first["stratified_by"]) == {column}


@pytest.mark.parametrize("kind", ["cookstoves", "trees"])
def test_the_sample_is_stratified_proportionally(tables, kind):
    units, _ = population(tables[kind])
    sample = draw(tables[kind], 30, seed=11)
    sizes = units.groupby("stratum").size()
    drawn = sample.groupby("stratum").size()
    assert drawn.index.tolist() == sizes.index.tolist()  # every stratum visited
    assert (drawn >= 1).all()
    assert (abs(drawn - sizes * 30 / sizes.sum()) < 1 + 1e-9).all()  # within one unit of the proportional quota
    assert (sample.groupby("stratum")["stratum_size"].first() == sizes).all()
    assert set(sample["unit_id"]) <= set(units["unit_id"])


def test_cookstove_units_are_households_with_a_stove_active_in_the_period(tables):
    units, _ = population(tables["cookstoves"])
    stoves = tables["cookstoves"]["stove_distribution"]
    assert set(units["unit_type"]) == {"stove"}
    assert set(units["unit_id"]) <= set(stoves["stove_serial"])
    assert units["household_id"].notna().all() and units["latitude"].notna().all()


def test_tree_units_are_tagged_trees_and_bunds(tables):
    units, _ = population(tables["trees"])
    trees = tables["trees"]
    assert set(units["unit_type"]) == {"tree", "bund"}
    assert (units["unit_type"] == "tree").sum() == trees["tree_planting"]["tree_id"].nunique()
    assert (units["unit_type"] == "bund").sum() == trees["bund_plantation"].query("latest_visit")["bund_id"].nunique()


def test_the_list_is_stored_in_the_package_and_it_stays_intact(package_copy):
    package = package_copy("trees")
    sample = write_site_visit_sample(package, 12, seed=5)
    with duckdb.connect(str(package / "report.duckdb"), read_only=True) as con:
        stored = con.execute("SELECT unit_id, seed, n_requested FROM site_visit_sample ORDER BY visit_no").fetchall()
        columns = {r[0] for r in con.execute("DESCRIBE site_visit_sample").fetchall()}
    assert "geom" in columns
    assert [r[0] for r in stored] == sample["unit_id"].tolist() and {r[1:] for r in stored} == {(5, 12)}
    csv = pd.read_csv(package / "site_visit_sample.csv")
    assert csv["unit_id"].tolist() == sample["unit_id"].tolist()
    manifest = json.loads((package / "manifest.json").read_text())
    assert manifest["site_visit_sample"]["seed"] == 5 and manifest["site_visit_sample"]["n_requested"] == 12
    assert {"site_visit_sample.csv", "parquet/site_visit_sample.parquet"} <= set(manifest["files"])
    assert manifest["amendments"][-1]["tables"] == ["site_visit_sample"]
    html = (package / "report.html").read_text()
    assert "Site-visit sample" in html and 'class="site-visits"' in html
    assert verify(package).intact

    redrawn = write_site_visit_sample(package, 12, seed=5)  # drawing again replaces, and gives the same list
    pd.testing.assert_frame_equal(redrawn, sample)
    assert verify(package).intact


def test_a_rewritten_version_keeps_its_site_visit_sample(home_copy):
    target = package_dir(home_copy, COOKSTOVES, "MP1")
    sample = write_site_visit_sample(target, 10, seed=99)
    project = load_project(home_copy, COOKSTOVES)
    rewritten = write_period_package(home_copy, compute_period(home_copy, project, "MP1"))
    assert rewritten == target  # unchanged inputs: the same version
    kept = pd.read_parquet(target / "parquet" / "site_visit_sample.parquet").drop(columns="geometry")
    assert kept["unit_id"].tolist() == sample["unit_id"].tolist()
    assert (target / "site_visit_sample.csv").exists() and verify(target).intact


def test_command_prints_and_saves_the_list(home_copy, monkeypatch, tmp_path):
    monkeypatch.setenv("MRV_HOME", str(home_copy.root))
    app = typer.Typer()
    app.command("sample")(sample_command)
    app.command("other")(lambda: None)
    runner = CliRunner()
    args = ["sample", "--project", TREES, "--period", "MP2", "--n", "8", "--seed", "3"]
    first = runner.invoke(app, [*args, "--csv", str(tmp_path / "visits.csv")])
    assert first.exit_code == 0, first.output
    assert "8 site visits drawn with seed 3 (stratified by species_code)" in first.output
    again = runner.invoke(app, args)
    assert again.output.splitlines()[2:10] == first.output.splitlines()[2:10]  # the same eight lines
    assert len(pd.read_csv(tmp_path / "visits.csv")) == 8

    for wrong, message in ((["--period", "MP9"], "no monitoring period"), (["--n", "2"], "below the number of strata")):
        bad = runner.invoke(app, ["sample", "--project", TREES, "--period", "MP2", "--n", "8", "--seed", "3", *wrong])
        assert isinstance(bad.exception, UserError) and message in str(bad.exception)
    default = runner.invoke(app, ["sample", "--project", COOKSTOVES, "--period", "MP1", "--seed", "1"])
    assert "30 site visits drawn with seed 1 (stratified by stove_model)" in default.output

    (home_copy.reports / TREES / "MP1" / "versions.json").unlink()
    unreported = runner.invoke(app, ["sample", "--project", TREES, "--period", "MP1", "--seed", "1"])
    assert isinstance(unreported.exception, UserError) and "has no report yet" in str(unreported.exception)
