"""Report versions: every distinct computation of a period is kept, and two can be compared.

A version is identified by the *fingerprint* of what produced it: the parameter-set hash, the code
version, the methodology version and the batches committed for the project. Re-running with
unchanged inputs gives the same fingerprint and rewrites the same version; changing a parameter
(say fNRB) or adding a batch makes a new one, and the earlier version stays under
``reports/<project>/<period>/versions/``. `diff_versions` lines up two versions' calculation steps
(and parameters) by name and scope and says what changed and by how much.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines import atomic, warehouse
from pipelines.errors import UserError
from pipelines.settings import DataHome

INDEX = "versions.json"


@dataclass(frozen=True)
class Version:
    version: str  # v001, v002, ...
    fingerprint: str
    created_at: str
    parameters_sha256: str
    code_version: str
    methodology_version: str
    batches: int
    er_tco2e: float


def period_dir(home: DataHome, project_id: str, period_id: str) -> Path:
    return home.reports / project_id / period_id


def committed_batches(home: DataHome, project_id: str) -> list[str]:
    with warehouse.connect(home) as con:
        return [r[0] for r in con.execute("SELECT sha256 FROM batches WHERE project_id = ? ORDER BY sha256",
                                          [project_id]).fetchall()]


def fingerprint(parameters_sha256: str, code_version: str, methodology_version: str, batches: list[str],
                article6: dict | None = None) -> str:
    text = json.dumps({"parameters": parameters_sha256, "code": code_version, "methodology": methodology_version,
                       "batches": sorted(batches), "article6": article6 or {}}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def list_versions(home: DataHome, project_id: str, period_id: str) -> list[Version]:
    path = period_dir(home, project_id, period_id) / INDEX
    if not path.exists():
        return []
    return [Version(**v) for v in json.loads(path.read_text())]


def version_for(home: DataHome, project_id: str, period_id: str, print_: str) -> Version | None:
    """The existing version with fingerprint `print_`, if any."""
    return next((v for v in list_versions(home, project_id, period_id) if v.fingerprint == print_), None)


def next_version_name(home: DataHome, project_id: str, period_id: str) -> str:
    return f"v{len(list_versions(home, project_id, period_id)) + 1:03d}"


def record_version(home: DataHome, project_id: str, period_id: str, version: Version) -> None:
    versions = [v for v in list_versions(home, project_id, period_id) if v.version != version.version]
    versions.append(version)
    versions.sort(key=lambda v: v.version)
    atomic.write_text(period_dir(home, project_id, period_id) / INDEX,
                      json.dumps([asdict(v) for v in versions], indent=2) + "\n")


def version_dir(home: DataHome, project_id: str, period_id: str, version: str) -> Path:
    return period_dir(home, project_id, period_id) / "versions" / version


def latest_dir(home: DataHome, project_id: str, period_id: str) -> Path:
    """The package of the newest version; `UserError` when the period was never reported."""
    versions = list_versions(home, project_id, period_id)
    if not versions:
        raise UserError(f"{project_id} {period_id} has no report yet: run `mrv report --project {project_id} "
                        f"--period {period_id} --out DIR` (or materialize its verifier_package asset)")
    return version_dir(home, project_id, period_id, versions[-1].version)


def new_version(project_id: str, period_id: str, home: DataHome, *, parameters_sha256: str, code_version: str,
                methodology_version: str, er_tco2e: float, article6: dict | None = None) -> Version:
    """The version a package computed now belongs to (existing one when nothing changed)."""
    batches = committed_batches(home, project_id)
    print_ = fingerprint(parameters_sha256, code_version, methodology_version, batches, article6)
    existing = version_for(home, project_id, period_id, print_)
    name = existing.version if existing else next_version_name(home, project_id, period_id)
    return Version(name, print_, dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
                   parameters_sha256, code_version, methodology_version, len(batches), float(er_tco2e))


# ----------------------------------------------------------------------------- diff

def _steps(package: Path) -> pd.DataFrame:
    steps = pd.read_parquet(package / "parquet" / "calculation_steps.parquet")
    return steps[["name", "symbol", "scope", "value", "unit"]]


def _parameters(package: Path) -> pd.DataFrame:
    params = pd.read_parquet(package / "parquet" / "parameters.parquet")
    return params.rename(columns={"name": "name"}).assign(scope="", symbol="", unit=params["unit"])[
        ["name", "symbol", "scope", "value", "unit"]]


def diff_versions(home: DataHome, project_id: str, period_id: str, old: str | None = None,
                  new: str | None = None) -> tuple[Version, Version, pd.DataFrame]:
    """What changed between two versions (default: the two newest), step by step.

    Returns rows ``kind`` (parameter | step), name, symbol, scope, unit, old, new, change, relative_change —
    only those whose value changed, appeared or disappeared.
    """
    versions = {v.version: v for v in list_versions(home, project_id, period_id)}
    if len(versions) < 2 and (old is None or new is None):
        raise UserError(f"{project_id} {period_id} has {len(versions)} report version(s); a diff needs two "
                        "(change a parameter or add a batch, then `mrv report` again)")
    ordered = sorted(versions)
    old = old or ordered[-2]
    new = new or ordered[-1]
    for name in (old, new):
        if name not in versions:
            raise UserError(f"{project_id} {period_id} has no version {name} (versions: {', '.join(ordered)})")
    parts = []
    for kind, loader in (("parameter", _parameters), ("step", _steps)):
        a = loader(version_dir(home, project_id, period_id, old))
        b = loader(version_dir(home, project_id, period_id, new))
        merged = a.merge(b, on=["name", "scope"], how="outer", suffixes=("_old", "_new"))
        merged["symbol"] = merged["symbol_new"].fillna(merged["symbol_old"])
        merged["unit"] = merged["unit_new"].fillna(merged["unit_old"])
        merged = merged.rename(columns={"value_old": "old", "value_new": "new"})
        changed = ~np.isclose(merged["old"].astype(float), merged["new"].astype(float), rtol=1e-12, atol=0.0,
                              equal_nan=True)
        merged = merged[changed].assign(kind=kind)
        parts.append(merged[["kind", "name", "symbol", "scope", "unit", "old", "new"]])
    changes = pd.concat(parts, ignore_index=True)
    changes["change"] = changes["new"] - changes["old"]
    with np.errstate(divide="ignore", invalid="ignore"):
        changes["relative_change"] = changes["change"] / changes["old"].abs()
    return versions[old], versions[new], changes
