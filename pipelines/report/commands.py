"""The verifier's commands, ``mrv verify`` and ``mrv sample``, as typer-compatible functions.

They are registered on the ``mrv`` app in pipelines/cli.py. A user mistake raises `UserError`
(one line on stderr, exit status 2); a package that is not intact ends with exit status 1.
"""

from __future__ import annotations

from pathlib import Path

import typer

from pipelines.errors import UserError


def verify_command(package: Path = typer.Argument(..., help="folder of a verifier package (written by mrv report --out)")
                   ) -> None:
    """Check a verifier package: file hashes, tables against their Parquet copies, no personal data, and the
    credits recomputed from the stored rows and parameters. Exit status 1 when anything is wrong."""
    from pipelines.report.verify import verify

    result = verify(package)
    for line in result.lines():
        typer.echo(line)
    if not result.intact:
        # Not typer.Exit: in click's non-standalone mode (cli.main) an Exit becomes a return value
        # that is dropped, and the process would end with status 0.
        raise SystemExit(1)


def sample_command(project: str = typer.Option(..., "--project", help="project id"),
                   period: str = typer.Option(..., "--period", help="monitoring period id"),
                   n: int = typer.Option(30, "--n", help="number of units to visit"),
                   seed: int = typer.Option(..., "--seed", help="random seed (write it down: same seed, same list)"),
                   csv: Path = typer.Option(None, "--csv", help="also save the list as this CSV file")) -> None:
    """Draw a reproducible random site-visit list (households with stoves; trees and bunds), stratified by stove
    model or species, and store it in the period's latest verifier package."""
    from pipelines import atomic
    from pipelines.periods import package_dir
    from pipelines.project import load_project
    from pipelines.report.sampling import write_site_visit_sample
    from pipelines.settings import DataHome

    home = DataHome.from_env()
    proj = load_project(home, project)
    proj.period(period)
    target = package_dir(home, project, period)
    if not target.is_dir():
        raise UserError(f"{project} {period}: the report folder {target} is missing; run `mrv report` again")
    sample = write_site_visit_sample(target, n, seed)
    typer.echo(f"{project} {period}: {len(sample)} site visits drawn with seed {seed} "
               f"(stratified by {sample['stratified_by'].iloc[0]}), stored in {target}")
    per_stratum = sample.groupby("stratum")[["stratum_sample", "stratum_size"]].first()
    typer.echo("  per stratum: " + ", ".join(f"{s} {r.stratum_sample} of {r.stratum_size}"
                                              for s, r in per_stratum.iterrows()))
    for row in sample.itertuples(index=False):
        where = f"household {row.household_id}" if row.household_id else f"plot {row.plot_id}"
        typer.echo(f"  {row.visit_no:>3}  {row.stratum:<10} {row.unit_type:<5} {row.unit_id:<14} {where:<22} "
                   f"{row.latitude:.6f}, {row.longitude:.6f}")
    typer.echo(f"  CSV: {target / 'site_visit_sample.csv'}")
    if csv is not None:
        atomic.write_csv(csv, sample)
        typer.echo(f"  CSV copy: {csv}")
