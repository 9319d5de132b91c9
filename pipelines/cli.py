"""The ``mrv`` command: ingest survey exports, run monitoring periods, write verifier packages.

Every command works on the data home (``$MRV_HOME``, else ``data/`` in the checkout) and runs its
assets in the Dagster instance inside it, so the UI shows what the command did. A user mistake ends
with one line on stderr and exit status 2 — never a traceback.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd
import typer

from pipelines.errors import UserError
from pipelines.settings import DataHome
from pipelines.report.commands import sample_command, verify_command
from pipelines.writeback import cli as writeback_cli

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True,
                  help="Field MRV: survey batches in, emission reductions and verifier packages out.")

FORM_ORDER = ("stove_distribution", "cookstove_usage", "tree_planting", "tree_survival", "bund_plantation")


def _home() -> DataHome:
    return DataHome.from_env()


def _echo_er(er: pd.DataFrame) -> None:
    for row in er.itertuples():
        typer.echo(f"  vintage {row.vintage}: {row.er_tco2e:,.4f} tCO2e (issuable {row.issuable_tco2e:,})")
    typer.echo(f"  total: {er['er_tco2e'].sum():,.4f} tCO2e (issuable {int(er['issuable_tco2e'].sum()):,})")


def _results_table(home: DataHome, project, period_id: str, name: str) -> pd.DataFrame:
    group = {"cdm-ams-ii-g": "ams_ii_g", "vm0047-census": "vm0047"}[project.methodology]
    return pd.read_parquet(home.results / group / name / project.project_id / f"{period_id}.parquet")


def _plot_warnings(project) -> None:
    """Invalid or overlapping plots are reported whenever a tree project is loaded."""
    if not project.plots_file:
        return
    from pipelines.quality.geo import plot_problems

    for row in plot_problems(project.plots).itertuples():
        typer.echo(f"  warning: {project.plots_file}: plot {row.plot_id}: {row.problem.replace('_', ' ')} ({row.detail})")


@app.command()
def ingest(file: Path = typer.Argument(..., help="Kobo CSV/XLSX or ODK Central CSV/zip export of one form"),
           project: str = typer.Option(..., "--project", help="project id (folder under projects/)")) -> None:
    """Upload one export: validate it, store accepted rows, quarantine the rest with reasons."""
    from pipelines import orchestration

    from pipelines.project import load_project

    home = _home()
    summary = orchestration.ingest(home, project, file)
    for line in summary.lines():
        typer.echo(line)
    _plot_warnings(load_project(home, project))


@app.command()
def run(project: str = typer.Option(..., "--project"), period: str = typer.Option(..., "--period")) -> None:
    """Compute a monitoring period: sampling statistics, emission reductions or removals, every step."""
    from pipelines import orchestration
    from pipelines.project import load_project

    home = _home()
    proj = load_project(home, project)
    orchestration.run_period(home, proj, period)
    typer.echo(f"{project} {period} ({proj.methodology}): computed; results under {home.results}")
    _plot_warnings(proj)
    _echo_er(_results_table(home, proj, period, "emission_reductions"))


@app.command()
def report(project: str = typer.Option(..., "--project"), period: str = typer.Option(..., "--period"),
           out: Path = typer.Option(..., "--out", help="folder to write the verifier package into")) -> None:
    """Write the verifier package of a period (report.duckdb, Parquet, manifest) into OUT."""
    from pipelines import orchestration
    from pipelines.atomic import atomic_directory
    from pipelines.periods import package_dir
    from pipelines.project import load_project

    home = _home()
    proj = load_project(home, project)
    orchestration.run_period(home, proj, period, with_package=True)
    source = package_dir(home, project, period)
    target = out.resolve()
    if target != source.resolve():
        with atomic_directory(target) as building:
            shutil.copytree(source, building, dirs_exist_ok=True)
    typer.echo(f"verifier package for {project} {period} ({source.name}): {target}")
    _echo_er(_results_table(home, proj, period, "emission_reductions"))


@app.command()
def backfill(project: str = typer.Option(..., "--project"),
             first: str = typer.Option(None, "--from", help="first period (default: the project's first)"),
             last: str = typer.Option(None, "--to", help="last period (default: the project's last)")) -> None:
    """Compute and report a range of periods in order, one Dagster run and one report version per period."""
    from pipelines import orchestration
    from pipelines.periods import package_dir
    from pipelines.project import load_project

    home = _home()
    proj = load_project(home, project)
    ids = [p.id for p in proj.periods]
    start = ids.index(proj.period(first).id) if first else 0
    stop = ids.index(proj.period(last).id) if last else len(ids) - 1
    if stop < start:
        raise UserError(f"--from {first} comes after --to {last} in {project}'s monitoring periods")
    for period_id in ids[start:stop + 1]:
        orchestration.run_period(home, proj, period_id, with_package=True)
        er = _results_table(home, proj, period_id, "emission_reductions")
        typer.echo(f"{project} {period_id}: {er['er_tco2e'].sum():,.4f} tCO2e -> {package_dir(home, project, period_id)}")


@app.command()
def versions(project: str = typer.Option(..., "--project"), period: str = typer.Option(..., "--period")) -> None:
    """List the report versions of a period: when, with which parameters, code and batches."""
    from pipelines import versions as report_versions

    home = _home()
    listed = report_versions.list_versions(home, project, period)
    if not listed:
        raise UserError(f"{project} {period} has no report versions yet")
    for v in listed:
        typer.echo(f"{v.version}  {v.created_at}  ER {v.er_tco2e:,.4f} tCO2e  batches {v.batches}  "
                   f"parameters {v.parameters_sha256[:12]}  code {v.code_version}")


@app.command()
def diff(project: str = typer.Option(..., "--project"), period: str = typer.Option(..., "--period"),
         old: str = typer.Option(None, "--from", help="older version (default: the second newest)"),
         new: str = typer.Option(None, "--to", help="newer version (default: the newest)")) -> None:
    """Show, step by step, which values changed between two report versions of a period, and by how much."""
    from pipelines import versions as report_versions

    before, after, changes = report_versions.diff_versions(_home(), project, period, old, new)
    typer.echo(f"{project} {period}: {before.version} ({before.created_at}) -> {after.version} ({after.created_at})")
    if before.parameters_sha256 != after.parameters_sha256:
        typer.echo(f"  parameters {before.parameters_sha256[:12]} -> {after.parameters_sha256[:12]}")
    if before.batches != after.batches:
        typer.echo(f"  batches {before.batches} -> {after.batches}")
    if before.code_version != after.code_version:
        typer.echo(f"  code {before.code_version} -> {after.code_version}")
    if changes.empty:
        typer.echo("  no value changed")
    for row in changes.itertuples():
        scope = f" [{row.scope}]" if row.scope else ""
        rel = f" ({row.relative_change:+.2%})" if pd.notna(row.relative_change) and abs(row.relative_change) != float("inf") else ""
        typer.echo(f"  {row.kind:<9} {row.name}{scope}: {row.old:.6g} -> {row.new:.6g} {row.unit or ''}"
                   f" change {row.change:+.6g}{rel}")


@app.command()
def demo() -> None:
    """Run the whole chain on the bundled sample projects and print where the reports are."""
    from pipelines import orchestration
    from pipelines.periods import package_dir
    from pipelines.project import load_projects
    from pipelines.readers.canonical import sniff

    home = _home()
    projects = load_projects(home)
    if not projects:
        raise UserError(f"no projects under {home.projects}")
    for proj in projects:
        typer.echo(f"== {proj.project_id}: {proj.name} ({proj.methodology})")
        _plot_warnings(proj)
        exports = sorted((proj.folder / "exports").glob("*")) if (proj.folder / "exports").exists() else []
        ordered = sorted(exports, key=lambda f: (FORM_ORDER.index(sniff(f)[0]), f.name))
        for export in ordered:
            summary = orchestration.ingest(home, proj.project_id, export)
            typer.echo("  " + summary.lines()[0])
            typer.echo("  " + summary.lines()[1].strip())
        for period in proj.periods:
            orchestration.run_period(home, proj, period.id, with_package=True)
            typer.echo(f"  period {period.id} ({period.start} – {period.end}): report in {package_dir(home, proj.project_id, period.id)}")
            _echo_er(_results_table(home, proj, period.id, "emission_reductions"))
        quarantine = _quarantine_counts(home, proj.project_id)
        if quarantine:
            typer.echo("  quarantined rows per reason: " + ", ".join(f"{k} {v}" for k, v in quarantine.items()))
    typer.echo(f"\nReports are under {home.reports}")


@app.command()
def synth(project: str = typer.Option(..., "--project", help="id of the project to create under projects/"),
          kind: str | None = typer.Option(None, "--kind", help="cookstoves (AMS-II.G: stove_distribution, cookstove_usage) "
                                             "or trees (VM0047: tree_planting, tree_survival, bund_plantation); "
                                             "default: trees when --trees or --bunds is given, else cookstoves"),
          stoves: int | None = typer.Option(None, "--stoves", help="cookstoves: stove distribution records (default 1000)"),
          visits: int | None = typer.Option(None, "--visits", help="cookstoves: usage visits, at most one per stove (default 800)"),
          trees: int | None = typer.Option(None, "--trees", help="trees: tagged trees, planted and revisited in MP1 and MP2 "
                                              "(default 4000)"),
          bunds: int | None = typer.Option(None, "--bunds", help="trees: planted bunds, walked in MP1 and MP2 with measured "
                                              "trees (default: trees / 16)"),
          seed: int = typer.Option(1, "--seed"),
          fault_rate: float = typer.Option(0.01, "--fault-rate", help="share of submissions given each fault"),
          fault: list[str] = typer.Option([], "--fault", help="REASON=SHARE: the share of submissions given the fault "
                                          "with that reason code, instead of --fault-rate (repeatable; e.g. no_gps=0.05)"),
          batches: int = typer.Option(1, "--batches", help="export files per form (trees: per form and period)"),
          flavour: str = typer.Option("mixed", "--flavour", help="kobo, odk or mixed (cookstoves: Kobo register, ODK visits; "
                                      "trees: each form's files Kobo first, ODK later)")) -> None:
    """Generate a synthetic cookstove or tree project of any size (deterministic from the seed) with Kobo/ODK exports."""
    import re

    from pipelines import synth as generator

    if kind is None:
        kind = "trees" if trees is not None or bunds is not None else "cookstoves"
    if kind not in ("cookstoves", "trees"):
        raise UserError(f"--kind must be cookstoves or trees, not {kind!r}")
    given = [name for name, value in (("--stoves", stoves), ("--visits", visits), ("--trees", trees), ("--bunds", bunds))
             if value is not None]
    foreign = [name for name in given if name in (("--trees", "--bunds") if kind == "cookstoves" else ("--stoves", "--visits"))]
    if foreign:
        raise UserError(f"{' and '.join(foreign)} {'does' if len(foreign) == 1 else 'do'} not apply to --kind {kind}")
    if flavour not in generator.SYNTH_FLAVOURS:
        raise UserError(f"--flavour must be one of {', '.join(generator.SYNTH_FLAVOURS)}")
    if batches < 1:
        raise UserError("--batches must be at least 1")
    if seed < 0:
        raise UserError("--seed must be 0 or more")
    fault_rates = {}
    for item in fault:
        reason, sep, share = item.partition("=")
        try:
            fault_rates[reason.strip()] = float(share) if sep else float("nan")
        except ValueError:
            fault_rates[reason.strip()] = float("nan")
        if not 0 <= fault_rates[reason.strip()] <= 1:
            raise UserError(f"--fault {item!r}: write REASON=SHARE with a share between 0 and 1, e.g. no_gps=0.05")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", project):
        raise UserError(f"--project {project!r}: use letters, digits, '.', '_' and '-' only (it names a folder)")
    if kind == "cookstoves":
        stoves = 1000 if stoves is None else stoves
        visits = 800 if visits is None else visits
        if stoves < 1 or visits < 0:
            raise UserError("--stoves must be at least 1 and --visits at least 0")
        if visits > stoves:
            raise UserError("--visits cannot exceed --stoves (one visit per stove)")
        if not 0 <= fault_rate <= 1:
            raise UserError("--fault-rate must be between 0 and 1")
    else:
        trees = 4000 if trees is None else trees
        bunds = trees // generator.TREES_PER_PLOT if bunds is None else bunds
        if trees < 0 or bunds < 0 or trees + bunds == 0:
            raise UserError("--trees and --bunds must not be negative, and one of them above 0")
        if not all(0 <= rate <= generator.MAX_TREE_FAULT_RATE for rate in [fault_rate, *fault_rates.values()]):
            raise UserError(f"--fault-rate and --fault shares must be between 0 and {generator.MAX_TREE_FAULT_RATE} for --kind trees "
                            "(each of about sixteen faults takes that share of a form's submissions)")
    home = _home()
    if home.project_dir(project).exists():
        raise UserError(f"{home.project_dir(project)} already exists; choose another --project")
    try:
        if kind == "cookstoves":
            flavours = {"kobo": ("kobo_csv", "kobo_csv"), "odk": ("odk_csv", "odk_csv"), "mixed": ("kobo_csv", "odk_csv")}
            generated = generator.synth_cookstove_project(home.projects, project, stoves, visits, seed=seed,
                                                          fault_rate=fault_rate, fault_rates=fault_rates, batches=batches,
                                                          flavours=flavours[flavour])
        else:
            generated = generator.synth_tree_project(home.projects, project, trees, bunds, seed=seed, fault_rate=fault_rate,
                                                     fault_rates=fault_rates, flavour=flavour, batches=batches)
    except ValueError as exc:  # a size the generator cannot lay out (too few rows for the faults, runner-days, plots)
        raise UserError(f"cannot generate {project}: {exc}") from None
    typer.echo(f"{project}: {len(generated.exports)} export(s) in {generated.folder / 'exports'}; "
               f"{len(generated.faults)} injected fault rows"
               + (f" (ground truth: {generated.folder / 'expected_faults.csv'})" if kind == "trees" else ""))


@app.command()
def dev(port: int = typer.Option(3000, "--port")) -> None:
    """Start the Dagster UI (``dagster dev -w workspace.yaml``) on the data home's instance."""
    import os

    from pipelines.settings import REPO_ROOT

    home = _home()
    home.ensure_dagster_home()
    os.chdir(REPO_ROOT)
    import signal

    # A shell that started us with SIGINT ignored (nohup, service wrappers) would pass that on through
    # exec, and dagster dev could then not be stopped with SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    dagster = Path(sys.executable).with_name("dagster")
    os.execv(str(dagster), [str(dagster), "dev", "-w", "workspace.yaml", "-p", str(port), "-h", "127.0.0.1"])


app.command("writeback")(writeback_cli)
app.command("verify")(verify_command)
app.command("sample")(sample_command)


def _quarantine_counts(home: DataHome, project_id: str) -> dict[str, int]:
    from pipelines import warehouse

    with warehouse.connect(home) as con:
        return dict(con.execute("SELECT reason, count(*) FROM quarantine WHERE project_id = ? GROUP BY 1 ORDER BY 1",
                                [project_id]).fetchall())


def main() -> None:
    try:
        code = app(standalone_mode=False)  # click returns typer.Exit's code instead of exiting
        if isinstance(code, int) and code:
            sys.exit(code)
    except UserError as exc:
        print(f"mrv: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
