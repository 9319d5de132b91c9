"""`mrv synth --kind trees`: tree projects of any size, deterministic from the seed, that the pipeline
reads with exactly the faults of their ground truth (`expected_faults.csv`) and computes.

The ground truth is written by the generator from what it injected, independently of the pipeline's
rules; the checks compare the two both ways, as tests/test_samples.py does for the bundled samples.
"""

import hashlib
import os
import subprocess
import sys
import time

import duckdb
import numpy as np
import pandas as pd
import pytest
from support import assert_faults_match_ground_truth

from pipelines import cli
from pipelines.ingest import ingest_in_process
from pipelines.settings import DataHome
from pipelines.synth import REASON_KIND, generate_in_mh_af_001, synth_tree_project, write_kobo_xlsx

PID = "T-SYN-1"
TREE_FORMS = ("tree_planting", "tree_survival", "bund_plantation")
# Reasons of the contract's data-quality table that no tree form can raise.
STOVE_ONLY = {"unknown_stove", "duplicate_stove"}


def digest(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    a = synth_tree_project(tmp_path / "a", "T-1", 1200, 80, seed=3, batches=2)
    b = synth_tree_project(tmp_path / "b", "T-1", 1200, 80, seed=3, batches=2)
    c = synth_tree_project(tmp_path / "c", "T-1", 1200, 80, seed=4, batches=2)
    da, db, dc = digest(a.folder), digest(b.folder), digest(c.folder)
    assert da == db
    assert {"project.yaml", "boundary.geojson", "plots.geojson", "expected_faults.csv", "README.md"} <= set(da)
    exports = [name for name in da if name.startswith("exports/")]
    assert len(exports) == 5 * 2  # five datasets (planting, survival and bunds in MP1 and MP2), two files each
    assert set(da) == set(dc) and all(da[name] != dc[name] for name in [*exports, "expected_faults.csv", "plots.geojson"])


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """A mixed Kobo/ODK tree project with every fault at 2 %, uploaded file by file in the listed order."""
    home = DataHome(tmp_path_factory.mktemp("synth_trees") / "home")
    project = synth_tree_project(home.projects, PID, 2000, 150, seed=7, fault_rate=0.02)
    for export in project.exports:
        ingest_in_process(home, PID, home.project_dir(PID) / "exports" / export.name)
    return home, project


def test_every_injected_fault_is_found_and_nothing_else(ingested):
    home, project = ingested
    expected = assert_faults_match_ground_truth(home, PID)
    assert (expected["kind"] == "ignored").sum() > 0
    # Every reason of the contract that a tree form can raise is in the data, on each form it applies to.
    assert set(expected["reason"]) == (set(REASON_KIND) - STOVE_ONLY) | {"outside_plot"}
    per_form = expected.groupby("form")["reason"].agg(set)
    assert {"unknown_tree", "repeat_visit"} <= per_form["tree_survival"]
    assert "duplicate_tree" in per_form["tree_planting"]
    for form in TREE_FORMS:
        assert {"missing_required", "bad_value", "wrong_project", "no_gps", "outside_boundary", "future_date",
                "low_gps_accuracy", "short_interview", "runner_too_fast", "photo_reused",
                "duplicate_submission"} <= per_form[form], form
    assert {"repeat_set", "alive_gt_planted"} <= set(expected.loc[expected["form"] == "bund_plantation", "fault"])


def test_every_form_comes_from_kobo_and_odk_with_its_repeat(ingested):
    home, project = ingested
    with duckdb.connect(str(home.warehouse_db), read_only=True) as con:
        batches = con.execute("SELECT form, flavour, source_file FROM batches WHERE project_id = ?", [PID]).df()
        measured = con.execute("SELECT count(*) FROM bund_tree_measure WHERE project_id = ?", [PID]).fetchone()[0]
        accepted = con.execute("SELECT count(*) FROM bund_tree_measure WHERE project_id = ? AND accepted", [PID]).fetchone()[0]
    assert len(batches) == len(project.exports)
    assert batches.groupby("form")["flavour"].agg(set).to_dict() == {form: {"kobo", "odk"} for form in TREE_FORMS}
    suffixes = {e.name.rsplit(".", 1)[1] for e in project.exports if e.form_id == "bund_plantation"}
    assert suffixes == {"xlsx", "zip"}  # Kobo: a workbook with a tree_measure sheet; ODK: a zip with its CSV
    # Every measured tree arrived once (overlapping files hold some bunds twice), and the trees of
    # quarantined bund visits went to quarantine with them.
    truth = pd.concat([project.truth["bund_plantation_mp1/tree_measure"], project.truth["bund_plantation_mp2/tree_measure"]])
    assert measured == len(truth)
    quarantined = set(project.faults.loc[project.faults["kind"] == "quarantine", "submission_id"])
    assert accepted == (~truth["submission_id"].isin(quarantined)).sum()


def test_mrv_run_computes_both_periods(ingested):
    home, project = ingested
    env = {**os.environ, "MRV_HOME": str(home.root)}
    for period in ("MP1", "MP2"):
        run = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "--project", PID, "--period", period],
                             env=env, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        assert "total:" in run.stdout
        er = pd.read_parquet(home.results / "vm0047" / "emission_reductions" / PID / f"{period}.parquet")
        assert len(er) == 1 and np.isfinite(er["er_tco2e"]).all()
    # The census the pipeline counted is the generator's: accepted planting records per species, and the
    # census counts (saplings_planted) of the accepted bund visits of the period.
    quarantined = set(project.faults.loc[project.faults["kind"] == "quarantine", "submission_id"])
    planted = project.truth["tree_planting"]
    bunds = project.truth["bund_plantation_mp1"]
    strata = pd.read_parquet(home.results / "vm0047" / "strata" / PID / "MP1.parquet").set_index("species_code")
    tagged = planted.loc[~planted["submission_id"].isin(quarantined)].groupby("species_code").size()
    assert strata["n_tagged"].loc[tagged.index].tolist() == tagged.tolist()
    assert strata.loc["AZIN", "n_bund_saplings"] == bunds.loc[~bunds["submission_id"].isin(quarantined), "saplings_planted"].sum()
    assert (strata["n_planted"] == strata["n_tagged"] + strata["n_bund_saplings"]).all()


def mrv_synth(monkeypatch, capsys, home, *args):
    """`mrv synth ARGS` in this process: (exit status, stdout, stderr)."""
    monkeypatch.setenv("MRV_HOME", str(home))
    monkeypatch.setattr(sys, "argv", ["mrv", "synth", *map(str, args)])
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_makes_tree_and_cookstove_projects(tmp_path, monkeypatch, capsys):
    code, out, err = mrv_synth(monkeypatch, capsys, tmp_path, "--project", "T-CLI", "--trees", 320, "--flavour", "odk")
    assert code == 0, err
    exports = sorted(p.name for p in (tmp_path / "projects" / "T-CLI" / "exports").iterdir())
    assert exports == ["bund_plantation_mp1_0001_odk.zip", "bund_plantation_mp2_0001_odk.zip", "tree_planting_0001_odk.csv",
                       "tree_survival_mp1_0001_odk.csv", "tree_survival_mp2_0001_odk.csv"]  # bunds default to trees / 16
    assert "expected_faults.csv" in out and (tmp_path / "projects" / "T-CLI" / "expected_faults.csv").exists()
    code, out, err = mrv_synth(monkeypatch, capsys, tmp_path, "--project", "C-CLI", "--stoves", 60, "--visits", 40)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "projects" / "C-CLI" / "exports").iterdir()) == [
        "cookstove_usage_0001.csv", "stove_distribution_0001.csv"]


@pytest.mark.parametrize("args", [
    ["--kind", "forest"],
    ["--kind", "cookstoves", "--trees", "10"],
    ["--stoves", "10", "--bunds", "3"],
    ["--kind", "trees", "--visits", "5"],
    ["--trees", "-5"],
    ["--trees", "0", "--bunds", "0"],
    ["--trees", "100", "--fault-rate", "0.2"],
    ["--trees", "100", "--fault-rate", "-0.1"],
    ["--trees", "100", "--batches", "0"],
    ["--trees", "100", "--flavour", "csv"],
    ["--trees", "100", "--seed", "-1"],
    ["--trees", "16", "--bunds", "0", "--fault-rate", "0.04"],  # one plot: too few rows for every fault
    ["--stoves", "10", "--visits", "11"],
])
def test_cli_mistakes_are_one_line_errors(tmp_path, monkeypatch, capsys, args):
    code, out, err = mrv_synth(monkeypatch, capsys, tmp_path, "--project", "T-BAD", *args)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mrv: error:") and "Traceback" not in err, err
    assert not (tmp_path / "projects" / "T-BAD").exists()


def test_cli_refuses_an_existing_project_or_a_path(tmp_path, monkeypatch, capsys):
    (tmp_path / "projects" / "T-OLD").mkdir(parents=True)
    for project in ("T-OLD", "../outside", "a/b"):
        code, _, err = mrv_synth(monkeypatch, capsys, tmp_path, "--project", project, "--trees", "50")
        assert code == 2 and err.startswith("mrv: error:") and len(err.strip().splitlines()) == 1, err
    assert list((tmp_path / "projects").iterdir()) == [tmp_path / "projects" / "T-OLD"]
    assert list((tmp_path / "projects" / "T-OLD").iterdir()) == []


def test_a_large_project_generates_in_bounded_time(tmp_path):
    """30 000 trees (about 90 000 submissions and 1 900 bunds) in well under a minute: no loop over rows."""
    started = time.perf_counter()
    project = synth_tree_project(tmp_path, "T-BIG", 30_000, seed=2, fault_rate=0.01)
    assert time.perf_counter() - started < 60
    assert len(project.truth["tree_planting"]) == 30_000 and project.truth["tree_planting"]["tree_id"].is_unique
    assert sum(len(e.submission_ids) for e in project.exports if e.form_id == "tree_planting") > 30_000  # + overlaps


def test_fast_xlsx_holds_the_cells_openpyxl_writes(tmp_path):
    """The column-wise XLSX writer of large projects and openpyxl give the same sheets, cell for cell."""
    sample = generate_in_mh_af_001(tmp_path / "gen", write=False)
    bunds = sample.submissions["bund_plantation_mp1"]
    write_kobo_xlsx(bunds, tmp_path / "openpyxl.xlsx")
    write_kobo_xlsx(bunds, tmp_path / "fast.xlsx", fast=True)
    slow = pd.read_excel(tmp_path / "openpyxl.xlsx", sheet_name=None)
    fast = pd.read_excel(tmp_path / "fast.xlsx", sheet_name=None)
    assert list(fast) == list(slow) == ["Bund plantation", "tree_measure"]
    for sheet in slow:
        pd.testing.assert_frame_equal(fast[sheet], slow[sheet])
    numbers = [fast[sheet][c] for sheet in fast for c in fast[sheet] if c.endswith(("m_gbh_cm", "saplings_alive", "_index"))]
    assert len(numbers) == 5 and all(pd.api.types.is_numeric_dtype(c) for c in numbers)  # numbers, not text


def test_each_fault_takes_its_own_share(tmp_path):
    """`--fault REASON=SHARE`: only the named faults, each in about its share of a form's submissions, all found."""
    home = DataHome(tmp_path / "home")
    shares = {"no_gps": 0.03, "repeat_visit": 0.02}
    project = synth_tree_project(home.projects, PID, 2000, 150, seed=3, fault_rate=0, fault_rates=shares)
    for export in project.exports:
        ingest_in_process(home, PID, home.project_dir(PID) / "exports" / export.name)
    expected = assert_faults_match_ground_truth(home, PID)
    assert set(expected["reason"]) == set(shares)
    for (form, reason), n in expected.groupby(["form", "reason"]).size().items():
        submissions = sum(len(subs.main) for dataset, subs in project.submissions.items() if dataset.startswith(form))
        assert n == pytest.approx(shares[reason] * submissions, rel=0.25), (form, reason, n, submissions)
    with pytest.raises(ValueError, match="no generated fault gives unknown_stove"):
        synth_tree_project(home.projects, "T-SYN-2", 200, seed=3, fault_rates={"unknown_stove": 0.01})
