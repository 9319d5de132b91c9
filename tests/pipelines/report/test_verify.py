"""`verify` passes on a fresh package and fails precisely on what was altered, removed or recomputed wrong."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest
import typer
from typer.testing import CliRunner

from pipelines.errors import UserError
from pipelines.report.commands import verify_command
from pipelines.report.spatial import load_spatial
from pipelines.report.verify import FAILED, OK, verify


def _status(result) -> dict[str, str]:
    return {c.name: c.status for c in result.checks}


def _sql(package: Path, statement: str) -> None:
    con = duckdb.connect(str(package / "report.duckdb"))
    try:
        load_spatial(con)
        con.execute(statement)
        con.execute("CHECKPOINT")
    finally:
        con.close()


def _rehash(package: Path) -> None:
    """What a forger would do next: bring the manifest's hashes in line with the altered files."""
    manifest = json.loads((package / "manifest.json").read_text())
    manifest["files"] = {name: hashlib.sha256((package / name).read_bytes()).hexdigest() for name in manifest["files"]}
    (package / "manifest.json").write_text(json.dumps(manifest, indent=2))


@pytest.mark.parametrize("kind", ["cookstoves", "trees", "trees_mp1"])
def test_a_fresh_package_is_intact_and_its_totals_recompute(packages, kind):
    result = verify(packages[kind])
    assert result.intact, result.lines()
    assert set(_status(result).values()) == {OK}
    assert set(_status(result)) == {"manifest", "files", "tables", "parquet", "personal_data", "recompute"}
    assert result.verdict.startswith("package intact and consistent")
    assert result.recomputed["ok"].all()
    with duckdb.connect(str(packages[kind] / "report.duckdb"), read_only=True) as con:
        stored = con.execute("SELECT vintage, er_tco2e FROM emission_reductions ORDER BY vintage").fetchall()
    assert [(v, pytest.approx(e, rel=1e-9)) for v, e in stored] == \
        list(zip(result.recomputed["vintage"], result.recomputed["recomputed_er_tco2e"]))


def test_an_altered_file_is_named_and_nothing_else_fails(package_copy):
    package = package_copy("cookstoves")
    with open(package / "report.html", "a", encoding="utf-8") as handle:
        handle.write("<!-- edited -->")
    result = verify(package)
    assert not result.intact
    assert result.changed == ["report.html"] and result.missing == [] and result.extra == []
    assert {c.name for c in result.failures} == {"files"}
    assert "changed report.html" in result.verdict


def test_a_removed_file_is_missing_and_its_table_has_no_parquet_copy(package_copy):
    package = package_copy("cookstoves")
    (package / "parquet" / "warnings.parquet").unlink()
    result = verify(package)
    assert result.missing == ["parquet/warnings.parquet"] and result.changed == []
    assert {c.name for c in result.failures} == {"files", "parquet"}
    assert "no Parquet copy of warnings" in result.check("parquet").detail


def test_an_extra_file_is_reported(package_copy):
    package = package_copy("trees")
    (package / "notes.txt").write_text("added later")
    result = verify(package)
    assert result.extra == ["notes.txt"] and {c.name for c in result.failures} == {"files"}


def test_a_changed_emission_reduction_is_caught_even_with_a_forged_manifest(package_copy):
    package = package_copy("cookstoves")
    _sql(package, "UPDATE emission_reductions SET er_tco2e = er_tco2e + 1 WHERE vintage = 2025")
    result = verify(package)
    assert result.changed == ["report.duckdb"]
    assert {c.name for c in result.failures} == {"files", "parquet", "recompute"}

    _rehash(package)
    result = verify(package)
    assert {c.name for c in result.failures} == {"parquet", "recompute"}
    assert "emission_reductions: 2 rows in report.duckdb, 2 in Parquet, 2 differ" in result.check("parquet").detail
    wrong = result.recomputed.set_index("vintage")
    assert not wrong.loc[2025, "ok"] and wrong.loc[2024, "ok"]
    assert wrong.loc[2025, "stored_er_tco2e"] == pytest.approx(wrong.loc[2025, "recomputed_er_tco2e"] + 1, rel=1e-12)
    assert "emission_reductions 2025 er_tco2e" in result.check("recompute").detail


def test_a_consistent_forgery_of_duckdb_and_parquet_still_fails_the_recomputation(package_copy):
    package = package_copy("cookstoves")
    _sql(package, "UPDATE emission_reductions SET er_tco2e = er_tco2e * 1.1")
    _sql(package, f"COPY emission_reductions TO '{package / 'parquet' / 'emission_reductions.parquet'}' (FORMAT parquet)")
    _rehash(package)
    result = verify(package)
    assert {c.name for c in result.failures} == {"recompute"}
    assert not result.recomputed["ok"].any()


def test_a_changed_usage_visit_changes_the_recomputed_usage_rate(package_copy):
    package = package_copy("cookstoves")
    _sql(package, "UPDATE usage_sample SET in_use = NOT in_use WHERE stove_serial = (SELECT min(stove_serial) FROM usage_sample)")
    _rehash(package)
    result = verify(package)
    assert result.check("recompute").status == FAILED
    assert "usage_sample.in_use" in result.check("recompute").detail


def test_a_changed_tree_stratum_is_caught(package_copy):
    package = package_copy("trees")
    _sql(package, "UPDATE strata SET mean_carbon_t = mean_carbon_t * 1.01 WHERE species_code = 'TEGR'")
    _rehash(package)
    result = verify(package)
    assert {c.name for c in result.failures} == {"parquet", "recompute"}
    assert "mean_carbon_t TEGR" in result.check("recompute").detail


def test_a_personal_data_column_is_reported(package_copy):
    package = package_copy("cookstoves")
    _sql(package, "ALTER TABLE stove_distribution ADD COLUMN phone VARCHAR")
    result = verify(package)
    assert result.check("personal_data").status == FAILED
    assert "stove_distribution.phone" in result.check("personal_data").detail


def test_a_missing_folder_is_a_user_mistake(tmp_path):
    with pytest.raises(UserError, match="no such folder"):
        verify(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not a verifier package"):
        verify(tmp_path / "empty")


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("verify")(verify_command)
    app.command("other")(lambda: None)  # two commands, so `verify` is a subcommand as in mrv
    return app


def test_command_prints_a_verdict_and_exits_1_when_not_intact(packages, package_copy):
    runner = CliRunner()
    ok = runner.invoke(_app(), ["verify", str(packages["trees"])])
    assert ok.exit_code == 0, ok.output
    assert ok.output.strip().splitlines()[-1].startswith("package intact and consistent")

    broken = package_copy("trees")
    (broken / "README.md").write_text("changed")
    bad = runner.invoke(_app(), ["verify", str(broken)])
    assert bad.exit_code == 1
    assert bad.output.strip().splitlines()[-1].startswith("package NOT intact: files: changed README.md")

    missing = runner.invoke(_app(), ["verify", str(broken.parent / "nowhere")])
    assert isinstance(missing.exception, UserError)  # mrv's main turns it into one line and exit status 2
