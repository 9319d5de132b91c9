"""Send a batch's QA verdict back to the collection server, where field teams already look.

Optional and off by default (``MRV_WRITEBACK=odk|kobo|off``, see `pipelines.settings.WriteBackSettings`):

- **ODK Central**: each submission's review state — ``hasIssues`` when quarantined, ``approved``
  when accepted — with ``PATCH /v1/projects/{projectId}/forms/{xmlFormId}/submissions/{instanceId}``
  and body ``{"reviewState": …}``, after logging in with ``POST /v1/sessions`` (a Bearer session
  token, logged out again with ``DELETE /v1/sessions/current``).
- **KoboToolbox**: the validation status — ``validation_status_not_approved`` /
  ``validation_status_approved`` — in bulk with ``PATCH /api/v2/assets/{uid}/data/validation_statuses/``
  and ``Authorization: Token …``. kpi reads the body as ``{"payload": {"submission_ids": [_id, …],
  "validation_status.uid": …}}`` (`kpi.serializers.v2.data.DataBulkActionsValidator`); the ids are
  Kobo's integer ``_id``, read from the kept export. A row whose export carries no ``_id`` is
  matched by ``{"query": {"_uuid": {"$in": […]}}}`` instead.

Only batches exported by the same app are sent (a Kobo export's ids mean nothing to ODK Central).
The requests use the standard library only. A write-back never fails an ingest: `write_back`
catches every error and returns it in a `WriteBackResult`. The verdicts the server confirmed are
kept in ``feedback/<project>/<batch>-<file>.writeback.json``; calling `write_back` again (``mrv
writeback``) sends only the verdicts not confirmed yet, or changed since.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import typer

from pipelines import atomic
from pipelines.settings import DataHome, WriteBackSettings

log = logging.getLogger(__name__)

VERDICTS = {
    "odk": {True: "approved", False: "hasIssues"},
    "kobo": {True: "validation_status_approved", False: "validation_status_not_approved"},
}
KOBO_CHUNK = 500
MAX_ERRORS_KEPT = 5


class WriteBackError(Exception):
    """A request the server refused or could not be reached for."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status

    @property
    def reached_server(self) -> bool:
        """The server answered about this one item (not a network, login or permission failure)."""
        return self.status is not None and self.status not in (401, 403) and self.status < 500


@dataclass
class WriteBackResult:
    """What one write-back attempt did; `ok` is False when something is left to retry."""

    target: str
    status: str  # off | skipped | not configured | nothing to send | sent | failed
    sent: int = 0
    failed: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    state_path: str = ""

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.status not in ("failed", "not configured")

    def line(self) -> str:
        if self.status in ("off", "skipped", "not configured"):
            return f"write-back ({self.target}): {self.status}" + (f": {self.errors[0]}" if self.errors else "")
        text = f"write-back ({self.target}): {self.sent} sent, {self.unchanged} already on the server, {self.failed} failed"
        if self.errors:
            text += f" — {self.errors[0]}" + ("; run `mrv writeback` to retry" if self.failed else "")
        return text

    def metadata(self) -> dict[str, object]:
        """Plain values for Dagster metadata or a log line."""
        return {"writeback/target": self.target, "writeback/status": self.status, "writeback/sent": self.sent,
                "writeback/failed": self.failed, "writeback/unchanged": self.unchanged,
                **({"writeback/error": self.errors[0]} if self.errors else {})}


# ----------------------------------------------------------------------------- HTTP

def _request(method: str, url: str, *, headers: dict[str, str], body: object | None, timeout: float) -> object:
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Accept": "application/json", **({"Content-Type": "application/json"} if data is not None else {}), **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:200].decode("utf-8", errors="replace").strip()
        raise WriteBackError(f"{method} {_path(url)}: HTTP {exc.code} {detail}".strip(), exc.code) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise WriteBackError(f"{method} {_path(url)}: {reason}") from None
    try:
        return json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {}


def _path(url: str) -> str:
    return urllib.parse.urlsplit(url).path


def _base(url: str, api_suffix: str) -> str:
    base = url.strip().rstrip("/")
    return base[: -len(api_suffix)] if base.endswith(api_suffix) else base


def _per_form(setting: str, form: str, default: str) -> str:
    """``MRV_ODK_FORM`` / ``MRV_KOBO_ASSET``: one value for every form, or ``form=value,…`` per form."""
    if "=" not in setting:
        return setting or default
    pairs = dict(part.split("=", 1) for part in setting.split(",") if "=" in part)
    return pairs.get(form, "").strip() or default


# ----------------------------------------------------------------------------- the two servers

def _odk_missing(settings: WriteBackSettings) -> list[str]:
    return [name for name, value in (("MRV_ODK_URL", settings.odk_url), ("MRV_ODK_EMAIL", settings.odk_email),
                                     ("MRV_ODK_PASSWORD", settings.odk_password),
                                     ("MRV_ODK_PROJECT", settings.odk_project)) if not value]


def _kobo_missing(settings: WriteBackSettings, form: str) -> list[str]:
    return [name for name, value in (("MRV_KOBO_URL", settings.kobo_url), ("MRV_KOBO_TOKEN", settings.kobo_token),
                                     ("MRV_KOBO_ASSET", _per_form(settings.kobo_asset, form, ""))) if not value]


def _send_odk(settings: WriteBackSettings, form: str, items: pd.DataFrame) -> dict[str, str]:
    """PATCH each submission's reviewState; returns submission_id -> error for those that failed."""
    base = _base(settings.odk_url, "/v1")
    timeout = settings.timeout_seconds
    session = _request("POST", f"{base}/v1/sessions", headers={}, timeout=timeout,
                       body={"email": settings.odk_email, "password": settings.odk_password})
    token = session.get("token") if isinstance(session, dict) else None
    if not token:
        raise WriteBackError("POST /v1/sessions: no session token in the answer")
    auth = {"Authorization": f"Bearer {token}"}
    xml_form_id = _per_form(settings.odk_form, form, form)
    prefix = f"{base}/v1/projects/{quote(settings.odk_project, safe='')}/forms/{quote(xml_form_id, safe='')}/submissions"
    failed: dict[str, str] = {}
    try:
        # One request per submission: Central has no bulk review endpoint.
        for position, (submission_id, instance_id, verdict) in enumerate(
                items[["submission_id", "remote_id", "verdict"]].itertuples(index=False)):
            try:
                _request("PATCH", f"{prefix}/{quote(str(instance_id), safe='')}", headers=auth, timeout=timeout,
                         body={"reviewState": verdict})
            except WriteBackError as exc:
                failed[submission_id] = str(exc)
                if not exc.reached_server:  # the server is down or refuses us: the rest would fail alike
                    failed.update({s: str(exc) for s in items["submission_id"].iloc[position + 1:]})
                    break
    finally:
        try:
            _request("DELETE", f"{base}/v1/sessions/current", headers=auth, body=None, timeout=timeout)
        except WriteBackError:
            pass  # sessions expire by themselves after 24 h
    return failed


def _send_kobo(settings: WriteBackSettings, form: str, items: pd.DataFrame) -> dict[str, str]:
    """Bulk-PATCH the validation status, one request per status and chunk; returns submission_id -> error."""
    base = _base(settings.kobo_url, "/api/v2")
    asset = _per_form(settings.kobo_asset, form, "")
    url = f"{base}/api/v2/assets/{quote(asset, safe='')}/data/validation_statuses/"
    auth = {"Authorization": f"Token {settings.kobo_token}"}
    failed: dict[str, str] = {}
    numeric = pd.to_numeric(items["remote_id"], errors="coerce")
    batches = []
    for verdict, group in items.assign(_id=numeric).groupby("verdict", sort=True):
        with_id, without_id = group[group["_id"].notna()], group[group["_id"].isna()]
        for start in range(0, len(with_id), KOBO_CHUNK):
            chunk = with_id.iloc[start:start + KOBO_CHUNK]
            batches.append((chunk, {"submission_ids": [int(v) for v in chunk["_id"]], "validation_status.uid": verdict}))
        for start in range(0, len(without_id), KOBO_CHUNK):
            chunk = without_id.iloc[start:start + KOBO_CHUNK]
            batches.append((chunk, {"query": {"_uuid": {"$in": chunk["submission_id"].tolist()}},
                                    "validation_status.uid": verdict}))
    for chunk, payload in batches:
        try:
            _request("PATCH", url, headers=auth, body={"payload": payload}, timeout=settings.timeout_seconds)
        except WriteBackError as exc:
            failed.update({s: str(exc) for s in chunk["submission_id"]})
    return failed


# ----------------------------------------------------------------------------- the batch

def state_path(home: DataHome, upload) -> Path:
    """Verdicts the server confirmed, per submission: ``<batch>-<file>.writeback.json`` beside the feedback."""
    from pipelines.feedback import feedback_path

    return feedback_path(home, upload).with_suffix(".writeback.json")


def batch_verdicts(home: DataHome, upload) -> pd.DataFrame:
    """(submission_id, accepted) of every row the batch stored, accepted or quarantined."""
    from pipelines import warehouse
    from pipelines.readers.canonical import table_name

    with warehouse.connect(home) as con:
        return con.execute(f'SELECT DISTINCT submission_id, accepted FROM "{table_name(upload.form)}" '
                           "WHERE project_id = ? AND batch_id = ? AND submission_id IS NOT NULL ORDER BY 1",
                           [upload.project_id, upload.batch_id]).df()


def remote_ids(upload) -> pd.DataFrame:
    """(submission_id, remote_id) from the kept export: ODK's ``KEY`` (the instanceId as sent), Kobo's ``_id``."""
    from pipelines.readers.files import read_tables
    from pipelines.readers.flavours import ODK, ColumnMap, detect_flavour, is_repeat_table

    tables = [t for t in read_tables(Path(upload.path)) if not is_repeat_table(list(t.frame.columns))]
    main = next(t.frame for t in tables if detect_flavour(list(t.frame.columns)) == upload.flavour)
    cmap = ColumnMap.of(list(main.columns), upload.flavour)
    raw = main[cmap.submission_id_column()].astype("str").str.strip()
    submission_id = raw.str.removeprefix("uuid:")
    remote = raw if upload.flavour == ODK else (main[cmap.get("_id")] if cmap.get("_id") else pd.Series(pd.NA, index=main.index))
    return pd.DataFrame({"submission_id": submission_id, "remote_id": remote}).drop_duplicates("submission_id")


def _load_state(path: Path) -> dict[str, str]:
    try:
        return dict(json.loads(path.read_text()).get("confirmed", {}))
    except (OSError, ValueError):
        return {}


def _save_state(path: Path, target: str, confirmed: dict[str, str], failed: dict[str, str]) -> None:
    atomic.write_text(path, json.dumps({
        "target": target, "updated_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "confirmed": dict(sorted(confirmed.items())), "failed": dict(sorted(failed.items())),
    }, indent=2))


def write_back(home: DataHome, upload, settings: WriteBackSettings) -> WriteBackResult:
    """Send the batch's verdicts (quarantined -> has issues / not approved, accepted -> approved).

    Never raises: every failure is in the result (and logged), and a later call retries what was
    not confirmed. Sends nothing when ``MRV_WRITEBACK`` is off, when the settings are incomplete,
    or when the batch was exported by the other app.
    """
    target = settings.target
    if target == "off":
        return WriteBackResult(target, "off")
    try:
        return _write_back(home, upload, settings)
    except Exception as exc:  # a write-back must never fail the ingest that triggered it
        log.warning("write-back of batch %s to %s failed: %s", upload.batch_id, target, exc)
        return WriteBackResult(target, "failed", errors=[f"{type(exc).__name__}: {exc}"],
                               state_path=str(state_path(home, upload)))


def _write_back(home: DataHome, upload, settings: WriteBackSettings) -> WriteBackResult:
    target = settings.target
    if target not in VERDICTS:
        return WriteBackResult(target, "not configured", errors=[f"MRV_WRITEBACK must be odk, kobo or off, not {target!r}"])
    missing = _odk_missing(settings) if target == "odk" else _kobo_missing(settings, upload.form)
    if missing:
        return WriteBackResult(target, "not configured", errors=[f"set {', '.join(missing)}"])
    if upload.flavour != target:
        return WriteBackResult(target, "skipped", errors=[f"the batch is a {upload.flavour} export"])

    verdicts = batch_verdicts(home, upload)
    items = verdicts.assign(verdict=verdicts["accepted"].astype(bool).map(VERDICTS[target]))
    items = items.merge(remote_ids(upload), on="submission_id", how="left")
    if target == "odk":
        # An id missing from the export (cannot happen for a file the pipeline read) falls back to Collect's form.
        fallback = "uuid:" + items["submission_id"].astype("str")
        items["remote_id"] = items["remote_id"].where(items["remote_id"].notna(), fallback)
    path = state_path(home, upload)
    confirmed = _load_state(path)
    pending = items[items["submission_id"].map(confirmed) != items["verdict"]]
    unchanged = len(items) - len(pending)
    if pending.empty:
        return WriteBackResult(target, "nothing to send", unchanged=unchanged, state_path=str(path))

    try:
        sender = _send_odk if target == "odk" else _send_kobo
        failed = sender(settings, upload.form, pending)
    except WriteBackError as exc:
        failed = {s: str(exc) for s in pending["submission_id"]}
    sent = pending[~pending["submission_id"].isin(set(failed))]
    confirmed.update(zip(sent["submission_id"], sent["verdict"]))
    _save_state(path, target, confirmed, failed)
    errors = list(dict.fromkeys(failed.values()))[:MAX_ERRORS_KEPT]
    result = WriteBackResult(target, "failed" if failed and sent.empty else "sent", sent=len(sent),
                             failed=len(failed), unchanged=unchanged, errors=errors, state_path=str(path))
    (log.warning if failed else log.info)("batch %s: %s", upload.batch_id, result.line())
    return result


# ----------------------------------------------------------------------------- command line

def write_back_project(home: DataHome, project_id: str, batch_ids: list[str] | None = None,
                       settings: WriteBackSettings | None = None) -> list[tuple[str, WriteBackResult]]:
    """Write back every committed batch of a project (or the given ones); safe to repeat."""
    from pipelines import warehouse
    from pipelines.errors import UserError
    from pipelines.ingest import load_upload
    from pipelines.project import PARTITION_SEPARATOR
    from pipelines.settings import writeback_settings

    settings = settings or writeback_settings()
    if batch_ids is None:
        with warehouse.connect(home) as con:
            batch_ids = [r[0] for r in con.execute("SELECT batch_id FROM batches WHERE project_id = ? ORDER BY committed_at",
                                                   [project_id]).fetchall()]
        if not batch_ids:
            raise UserError(f"project {project_id} has no ingested batches")
    results = []
    for batch_id in batch_ids:
        upload = load_upload(home, f"{project_id}{PARTITION_SEPARATOR}{batch_id}")
        results.append((f"{upload.batch_id} ({upload.source_name})", write_back(home, upload, settings)))
    return results


def cli(project: str = typer.Option(..., "--project", help="project id (folder under projects/)"),
        batch: list[str] = typer.Option(None, "--batch", help="batch id (repeatable; default: every batch of the project)")) -> None:
    """Send QA verdicts to ODK Central or KoboToolbox (MRV_WRITEBACK); only what the server has not confirmed yet."""
    from pipelines.settings import writeback_settings

    settings = writeback_settings()
    if settings.target == "off":
        typer.echo("write-back is off: set MRV_WRITEBACK=odk or MRV_WRITEBACK=kobo (see docs/field_teams.md)")
        return
    results = write_back_project(DataHome.from_env(), project, batch or None, settings)
    for name, result in results:
        typer.echo(f"{name}: {result.line()}")
    if any(not result.ok for _, result in results):
        raise typer.Exit(1)
