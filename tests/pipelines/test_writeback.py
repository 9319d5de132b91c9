"""Write-back of QA verdicts to ODK Central and KoboToolbox, against a local fake server that records every request."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import pytest
import typer
from support import export_frame, stove, write_export
from typer.testing import CliRunner

from pipelines import ingest, settings, writeback
from pipelines.ingest import ingest_in_process
from pipelines.settings import WriteBackSettings

ODK_TOKEN = "session-token-123"
KOBO_TOKEN = "kobo-api-token"


class FakeServer(ThreadingHTTPServer):
    """ODK Central and KoboToolbox, just enough of them: records requests, answers as the real ones do."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), FakeHandler)
        self.requests: list[dict] = []
        self.refuse: dict[str, int] = {}  # decoded path -> status to answer with

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def calls(self, method: str) -> list[dict]:
        return [r for r in self.requests if r["method"] == method]


class FakeHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = unquote(urlsplit(self.path).path)
        record = {"method": self.command, "path": path, "raw_path": self.path,
                  "authorization": self.headers.get("Authorization"), "content_type": self.headers.get("Content-Type"),
                  "body": json.loads(raw) if raw else None}
        self.server.requests.append(record)
        status, answer = self._answer(record)
        body = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _answer(self, record):
        if record["path"] in self.server.refuse:
            return self.server.refuse[record["path"]], {"message": "refused by the test"}
        if record["path"] == "/v1/sessions" and record["method"] == "POST":
            if record["body"] != {"email": "qa@example.org", "password": "s3cret"}:
                return 401, {"message": "Could not authenticate with the provided credentials."}
            return 200, {"token": ODK_TOKEN, "expiresAt": "2030-01-01T00:00:00Z"}
        if record["path"].startswith("/v1/"):
            if record["authorization"] != f"Bearer {ODK_TOKEN}":
                return 401, {"message": "unauthorised"}
            return 200, {"success": True} if record["method"] == "DELETE" else {"reviewState": record["body"]["reviewState"]}
        if record["path"].startswith("/api/v2/"):
            if record["authorization"] != f"Token {KOBO_TOKEN}":
                return 401, {"detail": "Invalid token."}
            payload = record["body"]["payload"]
            return 200, {"detail": f"{len(payload.get('submission_ids', []))} submissions have been updated"}
        return 404, {}

    do_GET = do_POST = do_PATCH = do_DELETE = _handle


@pytest.fixture
def server():
    fake = FakeServer()
    thread = threading.Thread(target=fake.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.shutdown()
    fake.server_close()


def odk_settings(url: str, **changes) -> WriteBackSettings:
    values = dict(target="odk", odk_url=url, odk_email="qa@example.org", odk_password="s3cret", odk_project="7",
                  timeout_seconds=5.0)
    values.update(changes)
    return WriteBackSettings(**values)


def kobo_settings(url: str, **changes) -> WriteBackSettings:
    values = dict(target="kobo", kobo_url=url, kobo_token=KOBO_TOKEN, kobo_asset="aXyZ123", timeout_seconds=5.0)
    values.update(changes)
    return WriteBackSettings(**values)


def ingested(home, tmp_path, flavour, rows=None, name=None):
    rows = rows or [stove(1), stove(2), stove(3, stove_model="M9")]  # d3 is quarantined
    suffix = ".zip" if flavour == "odk" else ".csv"
    summary = ingest_in_process(home, "T-CS-1", write_export(tmp_path / (name or f"d-{flavour}{suffix}"),
                                                             "stove_distribution", rows, flavour))
    return ingest.load_upload(home, f"T-CS-1:{summary.batch_id}")


def test_off_by_default_sends_nothing(home, tmp_path, server, monkeypatch):
    for name in ("MRV_WRITEBACK", "MRV_ODK_URL", "MRV_KOBO_URL"):
        monkeypatch.delenv(name, raising=False)
    upload = ingested(home, tmp_path, "odk")
    result = writeback.write_back(home, upload, settings.writeback_settings())
    assert (result.target, result.status, result.ok) == ("off", "off", True)
    assert server.requests == []


def test_odk_review_states_with_a_session_token(home, tmp_path, server):
    upload = ingested(home, tmp_path, "odk")
    result = writeback.write_back(home, upload, odk_settings(server.url))
    assert (result.status, result.sent, result.failed, result.ok) == ("sent", 3, 0, True)
    login, *patches, logout = server.requests
    assert (login["method"], login["path"], login["body"]) == ("POST", "/v1/sessions",
                                                               {"email": "qa@example.org", "password": "s3cret"})
    assert login["authorization"] is None and login["content_type"] == "application/json"
    assert {(p["method"], p["path"], json.dumps(p["body"])) for p in patches} == {
        ("PATCH", "/v1/projects/7/forms/stove_distribution/submissions/uuid:d1", '{"reviewState": "approved"}'),
        ("PATCH", "/v1/projects/7/forms/stove_distribution/submissions/uuid:d2", '{"reviewState": "approved"}'),
        ("PATCH", "/v1/projects/7/forms/stove_distribution/submissions/uuid:d3", '{"reviewState": "hasIssues"}')}
    assert all(p["authorization"] == f"Bearer {ODK_TOKEN}" for p in patches)
    assert all("uuid%3Ad" in p["raw_path"] for p in patches)  # the instanceId is one path segment
    assert (logout["method"], logout["path"]) == ("DELETE", "/v1/sessions/current")

    again = writeback.write_back(home, upload, odk_settings(server.url))
    assert (again.status, again.sent, again.unchanged) == ("nothing to send", 0, 3)
    assert len(server.requests) == 5  # nothing new: every verdict was confirmed


def test_odk_form_id_per_pipeline_form_and_url_with_v1(home, tmp_path, server):
    upload = ingested(home, tmp_path, "odk", rows=[stove(1)])
    form = "cookstove_usage=usage_v3,stove_distribution=stoves_2024"
    result = writeback.write_back(home, upload, odk_settings(server.url + "/v1/", odk_form=form))
    assert result.ok
    assert [p["path"] for p in server.calls("PATCH")] == ["/v1/projects/7/forms/stoves_2024/submissions/uuid:d1"]


def test_kobo_validation_status_in_bulk_by_integer_id(home, tmp_path, server):
    upload = ingested(home, tmp_path, "kobo")
    result = writeback.write_back(home, upload, kobo_settings(server.url + "/"))
    assert (result.status, result.sent, result.ok) == ("sent", 3, True)
    patches = server.calls("PATCH")
    assert len(server.requests) == len(patches) == 2
    assert {p["path"] for p in patches} == {"/api/v2/assets/aXyZ123/data/validation_statuses/"}
    assert all(p["authorization"] == f"Token {KOBO_TOKEN}" and p["content_type"] == "application/json" for p in patches)
    assert sorted((p["body"]["payload"]["validation_status.uid"], p["body"]["payload"]["submission_ids"]) for p in patches) == [
        ("validation_status_approved", [1, 2]), ("validation_status_not_approved", [3])]


def test_kobo_export_without_id_column_is_matched_by_uuid(home, tmp_path, server):
    path = tmp_path / "no_id.csv"
    export_frame("stove_distribution", [stove(1), stove(2, stove_model="M9")], "kobo").drop(columns=["_id"]).to_csv(path, index=False)
    summary = ingest_in_process(home, "T-CS-1", path)
    upload = ingest.load_upload(home, f"T-CS-1:{summary.batch_id}")
    assert writeback.write_back(home, upload, kobo_settings(server.url)).ok
    payloads = sorted((p["body"]["payload"] for p in server.calls("PATCH")), key=lambda p: p["validation_status.uid"])
    assert payloads == [{"query": {"_uuid": {"$in": ["d1"]}}, "validation_status.uid": "validation_status_approved"},
                        {"query": {"_uuid": {"$in": ["d2"]}}, "validation_status.uid": "validation_status_not_approved"}]


def test_a_refused_submission_is_reported_and_sent_again_on_retry(home, tmp_path, server):
    upload = ingested(home, tmp_path, "odk")
    missing = "/v1/projects/7/forms/stove_distribution/submissions/uuid:d2"
    server.refuse[missing] = 404
    first = writeback.write_back(home, upload, odk_settings(server.url))
    assert (first.status, first.sent, first.failed, first.ok) == ("sent", 2, 1, False)
    assert "HTTP 404" in first.errors[0] and "mrv writeback" in first.line()
    state = json.loads(writeback.state_path(home, upload).read_text())
    assert state["confirmed"] == {"d1": "approved", "d3": "hasIssues"} and list(state["failed"]) == ["d2"]

    del server.refuse[missing]
    server.requests.clear()
    retry = writeback.write_back(home, upload, odk_settings(server.url))
    assert (retry.sent, retry.failed, retry.unchanged, retry.ok) == (1, 0, 2, True)
    assert [p["path"] for p in server.calls("PATCH")] == [missing]


def test_a_login_failure_stops_at_once_and_nothing_is_confirmed(home, tmp_path, server):
    upload = ingested(home, tmp_path, "odk")
    result = writeback.write_back(home, upload, odk_settings(server.url, odk_password="wrong"))
    assert (result.status, result.sent, result.failed) == ("failed", 0, 3)
    assert "HTTP 401" in result.errors[0]
    assert [r["method"] for r in server.requests] == ["POST"]


def test_an_unreachable_server_never_fails_the_ingest(home, tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    upload = ingested(home, tmp_path, "kobo")
    result = writeback.write_back(home, upload, kobo_settings(f"http://127.0.0.1:{port}", timeout_seconds=2.0))
    assert (result.status, result.failed, result.ok) == ("failed", 3, False)
    assert ingest.batch_is_committed(home, upload)
    assert json.loads(writeback.state_path(home, upload).read_text())["confirmed"] == {}


def test_unexpected_errors_are_reported_not_raised(home, tmp_path, server, monkeypatch):
    upload = ingested(home, tmp_path, "odk")

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(writeback, "batch_verdicts", broken)
    result = writeback.write_back(home, upload, odk_settings(server.url))
    assert result.status == "failed" and "disk on fire" in result.errors[0]


def test_other_app_exports_and_incomplete_settings_are_not_sent(home, tmp_path, server):
    kobo_upload = ingested(home, tmp_path, "kobo")
    skipped = writeback.write_back(home, kobo_upload, odk_settings(server.url))
    assert skipped.status == "skipped" and "kobo export" in skipped.errors[0] and skipped.ok
    incomplete = writeback.write_back(home, kobo_upload, kobo_settings(server.url, kobo_token="", kobo_asset=""))
    assert incomplete.status == "not configured" and incomplete.errors == ["set MRV_KOBO_TOKEN, MRV_KOBO_ASSET"]
    unknown = writeback.write_back(home, kobo_upload, WriteBackSettings(target="commcare"))
    assert unknown.status == "not configured" and not unknown.ok
    assert server.requests == []


def test_settings_come_from_the_environment_and_hide_secrets(monkeypatch):
    monkeypatch.setenv("MRV_WRITEBACK", " ODK ")
    monkeypatch.setenv("MRV_ODK_URL", "https://central.example.org")
    monkeypatch.setenv("MRV_ODK_PASSWORD", "hunter2")
    monkeypatch.setenv("MRV_KOBO_TOKEN", "tok")
    loaded = settings.writeback_settings()
    assert (loaded.target, loaded.odk_url, loaded.odk_password) == ("odk", "https://central.example.org", "hunter2")
    assert "hunter2" not in repr(loaded) and "tok" not in repr(loaded)


def test_command_line_retries_every_batch_of_a_project(home, tmp_path, server, monkeypatch):
    ingested(home, tmp_path, "odk", rows=[stove(1)], name="a.zip")
    ingested(home, tmp_path, "odk", rows=[stove(2)], name="b.zip")
    monkeypatch.setenv("MRV_HOME", str(home.root))
    for name, value in (("MRV_WRITEBACK", "odk"), ("MRV_ODK_URL", server.url), ("MRV_ODK_EMAIL", "qa@example.org"),
                        ("MRV_ODK_PASSWORD", "s3cret"), ("MRV_ODK_PROJECT", "7")):
        monkeypatch.setenv(name, value)
    app = typer.Typer()
    app.command("writeback")(writeback.cli)
    app.command("noop")(lambda: None)  # a second command, so the app keeps its sub-command names
    runner = CliRunner()
    first = runner.invoke(app, ["writeback", "--project", "T-CS-1"])
    assert first.exit_code == 0, first.output
    assert first.output.count("1 sent") == 2 and "a.zip" in first.output and "b.zip" in first.output
    server.refuse["/v1/sessions"] = 503  # a repeat must not even log in: everything is confirmed
    again = runner.invoke(app, ["writeback", "--project", "T-CS-1"])
    assert again.exit_code == 0 and again.output.count("0 sent, 1 already on the server, 0 failed") == 2
    new_batch = ingested(home, tmp_path, "odk", rows=[stove(3)], name="c.zip")
    failing = runner.invoke(app, ["writeback", "--project", "T-CS-1", "--batch", new_batch.batch_id])
    assert failing.exit_code == 1 and "HTTP 503" in failing.output and "c.zip" in failing.output
    unknown = runner.invoke(app, ["writeback", "--project", "NO-SUCH-PROJECT"])
    assert unknown.exit_code != 0 and "no ingested batches" in str(unknown.exception)
    monkeypatch.setenv("MRV_WRITEBACK", "off")
    off = runner.invoke(app, ["writeback", "--project", "T-CS-1"])
    assert off.exit_code == 0 and "write-back is off" in off.output
