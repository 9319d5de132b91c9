"""Where things live. The only module that reads environment variables.

State lives under one folder, the *data home*: ``$MRV_HOME`` when set, else ``data/`` in the
checkout. The Dagster instance shared by the ``mrv`` commands and ``dagster dev`` lives inside it
(``$MRV_HOME/.dagster``), so batch partitions, runs and check results agree whichever way work
was started.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMAS_DIR = REPO_ROOT / "schemas"
PARAMETERS_DIR = REPO_ROOT / "data" / "parameters"

DAGSTER_YAML = """\
# Written by Field MRV. Offline by design: no telemetry.
telemetry:
  enabled: false
"""


@dataclass(frozen=True)
class DataHome:
    """The data home and the fixed layout beneath it."""

    root: Path

    @classmethod
    def from_env(cls) -> "DataHome":
        return cls(Path(os.environ.get("MRV_HOME") or REPO_ROOT / "data").resolve())

    @property
    def projects(self) -> Path:
        return self.root / "projects"

    def project_dir(self, project_id: str) -> Path:
        return self.projects / project_id

    @property
    def uploads(self) -> Path:
        """Every uploaded file, kept as received: ``uploads/<project>/<batch>/<file name>``."""
        return self.root / "uploads"

    @property
    def staging(self) -> Path:
        """Per-batch canonical rows and validation results, before they are committed."""
        return self.root / "staging"

    @property
    def warehouse_dir(self) -> Path:
        return self.root / "warehouse"

    @property
    def warehouse_db(self) -> Path:
        """The DuckDB file holding every stored survey row, quarantine and batch record."""
        return self.warehouse_dir / "warehouse.duckdb"

    @property
    def results(self) -> Path:
        """Period results (Parquet per asset and partition)."""
        return self.root / "results"

    @property
    def feedback(self) -> Path:
        """Per-batch feedback files for field teams."""
        return self.root / "feedback"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def locks(self) -> Path:
        return self.root / ".locks"

    @property
    def dagster_home(self) -> Path:
        return self.root / ".dagster"

    def ensure_dagster_home(self) -> Path:
        """Create the Dagster instance folder with telemetry off, and point DAGSTER_HOME at it."""
        home = self.dagster_home
        home.mkdir(parents=True, exist_ok=True)
        config = home / "dagster.yaml"
        if not config.exists():
            config.write_text(DAGSTER_YAML)
        os.environ["DAGSTER_HOME"] = str(home)
        return home


def lock_timeout_seconds() -> float:
    """How long a writer waits for the warehouse before giving up (``MRV_LOCK_TIMEOUT``)."""
    return float(os.environ.get("MRV_LOCK_TIMEOUT", "120"))


@dataclass(frozen=True)
class WriteBackSettings:
    """Where QA verdicts go back to, if anywhere (``MRV_WRITEBACK=odk|kobo|off``, default off).

    ODK Central: ``MRV_ODK_URL``, ``MRV_ODK_EMAIL``, ``MRV_ODK_PASSWORD``, ``MRV_ODK_PROJECT`` (numeric
    project id) and ``MRV_ODK_FORM`` (the xmlFormId; or ``form=xmlFormId,…`` per pipeline form;
    blank means the pipeline's form id, which is the XLSForm's ``form_id``).
    KoboToolbox: ``MRV_KOBO_URL`` (e.g. ``https://kf.kobotoolbox.org``), ``MRV_KOBO_TOKEN`` and
    ``MRV_KOBO_ASSET`` (the form's asset uid; or ``form=uid,…`` per pipeline form).
    """

    target: str = "off"
    odk_url: str = ""
    odk_email: str = ""
    odk_password: str = field(default="", repr=False)
    odk_project: str = ""
    odk_form: str = ""
    kobo_url: str = ""
    kobo_token: str = field(default="", repr=False)
    kobo_asset: str = ""
    timeout_seconds: float = 30.0


def writeback_settings() -> WriteBackSettings:
    """The write-back settings from the environment (secrets are kept out of the repr)."""
    env = {name: os.environ.get(name, "").strip() for name in (
        "MRV_WRITEBACK", "MRV_ODK_URL", "MRV_ODK_EMAIL", "MRV_ODK_PASSWORD", "MRV_ODK_PROJECT", "MRV_ODK_FORM",
        "MRV_KOBO_URL", "MRV_KOBO_TOKEN", "MRV_KOBO_ASSET")}
    return WriteBackSettings(
        target=(env["MRV_WRITEBACK"] or "off").lower(),
        odk_url=env["MRV_ODK_URL"], odk_email=env["MRV_ODK_EMAIL"], odk_password=env["MRV_ODK_PASSWORD"],
        odk_project=env["MRV_ODK_PROJECT"], odk_form=env["MRV_ODK_FORM"],
        kobo_url=env["MRV_KOBO_URL"], kobo_token=env["MRV_KOBO_TOKEN"], kobo_asset=env["MRV_KOBO_ASSET"],
    )
