"""Batch ingest: keep the upload, read it, validate it, commit accepted rows, quarantine the rest.

A *batch* is one uploaded file for one project; its id is the first 16 hex digits of the file's
SHA-256, so the same file uploaded twice is the same batch. Steps (each a Dagster asset or check):

1. `store_upload`     keep the file as received under ``uploads/<project>/<batch>/`` and recognise
                      its form and flavour from the header (bad files stop here with a one-line error);
2. `stage_batch`      read it into canonical tables (``staging/<project>/<batch>/*.parquet``);
3. `check_row_rules`  run the form's GX suites; failing row ids per reason are saved beside the stage;
4. `commit_batch`     drop submissions already stored, add geospatial and cross-batch rules, and
                      write rows, quarantine, warnings and the batch record in ONE warehouse
                      transaction; then write the field team's feedback file.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.atomic import sha256_file as _sha256
from pipelines import atomic, warehouse
from pipelines.feedback import feedback_path, write_feedback
from pipelines.errors import UserError
from pipelines.forms import load_form
from pipelines.parameters import resolve_parameters
from pipelines.project import PARTITION_SEPARATOR, Project, load_project
from pipelines.quality import integrity
from pipelines.quality.vector import isin
from pipelines.quality.expectations import EARLIEST_DATE, RowValidation, expectation_columns, load_suite, validate_rows
from pipelines.quality.geo import (DEFAULT_ACCURACY_M, distance_outside_m, distance_outside_plots_m, lines_outside_m,
                                   outside_by_more_than_accuracy)
from pipelines.readers.canonical import read_export, sniff, stored_columns, table_name
from pipelines.settings import DataHome

UPLOAD_META = "upload.json"
LATEST_TIME_ZONE_HOURS = 14  # UTC+14: no honest same-day record anywhere on Earth is "in the future"


@dataclass(frozen=True)
class Upload:
    """A kept upload: what it is and when it arrived."""

    project_id: str
    batch_id: str
    sha256: str
    source_name: str
    path: str
    uploaded_at: str  # ISO 8601 UTC
    form: str
    flavour: str

    @property
    def partition_key(self) -> str:
        return f"{self.project_id}{PARTITION_SEPARATOR}{self.batch_id}"

    @property
    def uploaded_time(self) -> pd.Timestamp:
        return pd.Timestamp(self.uploaded_at)


@dataclass
class BatchSummary:
    """What happened to a batch, as printed by ``mrv ingest`` and shown in Dagster metadata."""

    project_id: str
    batch_id: str
    form: str
    flavour: str
    source_file: str
    rows_read: int
    accepted: int
    duplicates: int
    quarantined: int
    warned: int
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    warnings_by_reason: dict[str, int] = field(default_factory=dict)
    feedback_path: str = ""
    already_ingested: bool = False

    def lines(self) -> list[str]:
        head = "already ingested — nothing changed" if self.already_ingested else "ingested"
        out = [f"{self.source_file}: {head} as batch {self.batch_id} ({self.form}, {self.flavour} export)",
               f"  rows read {self.rows_read}, accepted {self.accepted}, duplicates ignored {self.duplicates}, "
               f"quarantined {self.quarantined}, with warnings {self.warned}"]
        for code, count in sorted(self.quarantined_by_reason.items()):
            out.append(f"  quarantined  {code:<18} {count:>6}")
        for code, count in sorted(self.warnings_by_reason.items()):
            out.append(f"  warning      {code:<18} {count:>6}")
        if self.feedback_path:
            workbook = Path(self.feedback_path).with_suffix(".xlsx")
            out.append(f"  feedback for the field team: {self.feedback_path}"
                       + (f" and {workbook.name} (a sheet per runner)" if workbook.exists() else ""))
        return out


# ----------------------------------------------------------------------------- 1. keep the upload



def upload_dir(home: DataHome, project_id: str, batch_id: str) -> Path:
    return home.uploads / project_id / batch_id


def store_upload(home: DataHome, project: Project, file: Path, now: dt.datetime | None = None) -> Upload:
    """Keep `file` under the data home and recognise it; `UserError` when it cannot be used.

    The file is kept even when it is rejected, so nothing a field team sent is ever lost.
    """
    file = Path(file)
    if not file.is_file():
        raise UserError(f"{file}: file not found")
    sha = _sha256(file)
    batch_id = sha[:16]
    folder = upload_dir(home, project.project_id, batch_id)
    stored = folder / file.name
    meta_path = folder / UPLOAD_META
    if meta_path.exists():
        return Upload(**json.loads(meta_path.read_text()))
    if not stored.exists():
        atomic.copy_file(file, stored)
    uploaded_at = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).isoformat()
    form, flavour = sniff(stored)
    if form not in project.forms:
        raise UserError(f"{file.name}: a {form} export does not belong to project {project.project_id} "
                        f"({project.methodology} reads {', '.join(project.forms)})")
    upload = Upload(project.project_id, batch_id, sha, file.name, str(stored), uploaded_at, form, flavour)
    atomic.write_text(meta_path, json.dumps(asdict(upload), indent=2))
    return upload


def load_upload(home: DataHome, partition_key: str) -> Upload:
    project_id, _, batch_id = partition_key.partition(PARTITION_SEPARATOR)
    meta_path = upload_dir(home, project_id, batch_id) / UPLOAD_META
    if not meta_path.exists():
        raise UserError(f"batch {partition_key}: no upload is stored under {meta_path.parent}")
    return Upload(**json.loads(meta_path.read_text()))


# ----------------------------------------------------------------------------- 2. stage

def stage_dir(home: DataHome, upload: Upload) -> Path:
    return home.staging / upload.project_id / upload.batch_id


def stage_batch(home: DataHome, upload: Upload) -> dict[str, int]:
    """Read the kept upload into canonical tables; returns rows per table."""
    batch = read_export(Path(upload.path), upload.batch_id, upload.source_name)
    if batch.form.form_id != upload.form:
        raise UserError(f"{upload.source_name}: read as {batch.form.form_id}, registered as {upload.form}")
    if batch.main.empty:
        raise UserError(f"{upload.source_name}: the export has a header but no rows")
    counts = {}
    for repeat, frame in batch.frames.items():
        name = table_name(upload.form, repeat)
        frame = frame.assign(project_id=upload.project_id) if "project_id" not in frame else frame
        atomic.write_parquet(stage_dir(home, upload) / f"{name}.parquet", frame)
        counts[name] = len(frame)
    return counts


def read_stage(home: DataHome, upload: Upload, columns: list[str] | None = None) -> dict[str | None, pd.DataFrame]:
    """The staged tables of a batch (only `columns` when given)."""
    form = load_form(upload.form)
    frames = {}
    for repeat in [None, *form.repeats]:
        path = stage_dir(home, upload) / f"{table_name(upload.form, repeat)}.parquet"
        frames[repeat] = pd.read_parquet(path, columns=columns)
    return frames


# ----------------------------------------------------------------------------- 3. row rules (GX)

def expectation_parameters(project: Project, upload: Upload) -> dict[str, object]:
    values = resolve_parameters(project).values
    upload_time = upload.uploaded_time
    latest_local_day = (upload_time + pd.Timedelta(hours=LATEST_TIME_ZONE_HOURS)).tz_convert(None).normalize()
    return {
        "project_ids": [project.project_id],
        "stove_models": sorted(values.get("stove_models", {})),
        "species": sorted(values.get("species", {})),
        "upload_time": upload_time,
        "upload_date": latest_local_day,
        "earliest_date": pd.Timestamp(EARLIEST_DATE),
    }


def validation_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The staged rows in the dtypes GX checks vectorised, plus the derived columns the suites check.

    GX's pandas range checks take a fast path only for numpy int/float and nanosecond datetimes;
    nullable integers and second-resolution dates fall back to a Python call per value.
    """
    out = frame.copy()
    for column in out.columns:
        dtype = out[column].dtype
        if isinstance(dtype, pd.Int64Dtype):
            out[column] = out[column].astype("float64")
        elif pd.api.types.is_datetime64_dtype(dtype) and not isinstance(dtype, pd.DatetimeTZDtype):
            # Nanoseconds span 1677-2262 only: a typo like 2300-01-01 is pinned to the edge, where the
            # date rules still see it as after the upload (future_date) or before 2000 (bad_value).
            edge_low, edge_high = pd.Timestamp.min.ceil("D"), pd.Timestamp.max.floor("D")
            out[column] = out[column].clip(lower=edge_low, upper=edge_high).astype("datetime64[ns]")
    if "ended_at" in out and "started_at" in out:
        out["interview_seconds"] = (out["ended_at"] - out["started_at"]).dt.total_seconds()
    return out


def suite_columns(suite: dict) -> list[str]:
    """The columns a suite reads (plus the row id)."""
    columns = {"source_row"}
    for expectation in suite["expectations"]:
        columns |= expectation_columns(expectation)
    return sorted(columns)


def check_row_rules(home: DataHome, upload: Upload, project: Project) -> dict[str | None, RowValidation]:
    """Run the stored GX suite of every staged table; save failing rows beside the stage.

    Only the columns a suite reads (and the start and end its interview length is derived from)
    are read from the stage.
    """
    form = load_form(upload.form)
    parameters = expectation_parameters(project, upload)
    results: dict[str | None, RowValidation] = {}
    saved = []
    for repeat in [None, *form.repeats]:
        name = table_name(upload.form, repeat)
        suite = load_suite(name)
        path = stage_dir(home, upload) / f"{name}.parquet"
        wanted = set(suite_columns(suite)) | {"started_at", "ended_at"}
        frame = pd.read_parquet(path, columns=[c for c in pq.read_schema(path).names if c in wanted])
        if repeat is not None and frame.empty:
            results[repeat] = RowValidation(pd.DataFrame(columns=["source_row", "reason", "severity", "rule"]), [], [])
            continue
        checked = validation_frame(frame)
        result = validate_rows(checked[[c for c in suite_columns(suite) if c in checked]], suite, parameters)
        results[repeat] = result
        saved.append(result.failures.assign(table=name))
    failures = pd.concat(saved, ignore_index=True) if saved else pd.DataFrame()
    atomic.write_parquet(stage_dir(home, upload) / "row_rule_failures.parquet", failures)
    return results


def read_row_rule_failures(home: DataHome, upload: Upload) -> pd.DataFrame:
    return pd.read_parquet(stage_dir(home, upload) / "row_rule_failures.parquet")


# ----------------------------------------------------------------------------- 4. commit

def _period_bounds(project: Project) -> list[tuple[str, pd.Timestamp, pd.Timestamp]]:
    return [(p.id, pd.Timestamp(p.start), pd.Timestamp(p.end)) for p in project.periods]


def _failure_rows(failures: pd.DataFrame, table: str, severity_is_warning: bool) -> pd.DataFrame:
    if failures.empty:
        return integrity.empty_findings()
    part = failures[failures["table"] == table]
    part = part[(part["severity"] == "warning") == severity_is_warning]
    return pd.DataFrame({"source_row": part["source_row"].astype("int64"), "reason": part["reason"].astype("str"),
                         "detail": part["rule"].astype("str")})


def _metres(values: np.ndarray, index: pd.Index, suffix: str) -> pd.Series:
    return pd.Series(np.round(values), index=index).astype("int64").astype("str") + suffix


def _geo_findings(rows: pd.DataFrame, project: Project, quarantined_rows: set[int]) -> pd.DataFrame:
    """Quarantine: a point (or a bund line) outside the project boundary by more than its accuracy."""
    located = rows.loc[~rows["source_row"].isin(quarantined_rows) & rows["latitude"].notna() & rows["longitude"].notna(),
                       ["source_row", "latitude", "longitude", "gps_accuracy_m"]]
    parts = [integrity.empty_findings()]
    if not located.empty:
        mask, distance = outside_by_more_than_accuracy(located["latitude"], located["longitude"],
                                                       located["gps_accuracy_m"], project.boundary)
        # A point far outside whose coordinates, exchanged, fall inside was typed the wrong way round
        # (only the points outside need the second look).
        swapped_inside = np.zeros(len(located), dtype=bool)
        far = np.flatnonzero(np.asarray(mask, dtype=bool))
        swapped_inside[far] = distance_outside_m(located["longitude"].to_numpy(float)[far],
                                                 located["latitude"].to_numpy(float)[far], project.boundary) == 0
        swapped = mask & swapped_inside
        outside = mask & ~swapped_inside
        hits = located[outside]
        parts.append(integrity.findings(hits["source_row"], "outside_boundary",
                                        _metres(distance[outside], hits.index, " m outside the boundary")))
        parts.append(integrity.findings(located.loc[swapped, "source_row"], "no_gps",
                                        "latitude and longitude appear swapped (the exchanged point lies in the project)"))
    if "bund_line_wkt" in rows:
        lines = rows.loc[~rows["source_row"].isin(quarantined_rows), ["source_row", "bund_line_wkt"]]
        worst = lines_outside_m(lines["bund_line_wkt"], project.boundary)
        mask = np.nan_to_num(worst, nan=0.0) > DEFAULT_ACCURACY_M
        hits = lines[mask]
        parts.append(integrity.findings(hits["source_row"], "outside_boundary",
                                        _metres(worst[mask], hits.index, " m: bund line leaves the project boundary")))
    return pd.concat(parts, ignore_index=True)


def _plot_findings(rows: pd.DataFrame, project: Project, quarantined_rows: set[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(quarantine, warnings) of tree rows against plots.geojson: unknown plot_id; tree outside its plot."""
    if "plot_id" not in rows or not project.plots_file:
        return integrity.empty_findings(), integrity.empty_findings()
    candidates = rows[~rows["source_row"].isin(quarantined_rows) & rows["plot_id"].notna()]
    if candidates.empty:
        return integrity.empty_findings(), integrity.empty_findings()
    distance, known = distance_outside_plots_m(candidates["latitude"], candidates["longitude"], candidates["plot_id"],
                                               project.plots)
    unknown = candidates[~known]
    bad = integrity.findings(unknown["source_row"], "bad_value",
                             "plot_id " + unknown["plot_id"].astype("str") + " is not in " + str(project.plots_file))
    accuracy = candidates["gps_accuracy_m"].fillna(DEFAULT_ACCURACY_M).to_numpy()
    outside = known & (np.nan_to_num(distance, nan=0.0) > accuracy)
    hits = candidates[outside]
    warn = integrity.findings(hits["source_row"], "outside_plot",
                              _metres(distance[outside], hits.index, " m outside plot ") + hits["plot_id"].astype("str"))
    return bad, warn


def _form_findings(con, form: str, rows: pd.DataFrame, project: Project, invalid: pd.Series) -> pd.DataFrame:
    pid = project.project_id
    parts = []
    if form == "stove_distribution":
        parts.append(integrity.duplicate_registrations(con, rows, ~invalid, table="stove_distribution", key="stove_serial",
                                                       reason="duplicate_stove", project_id=None))
    elif form == "cookstove_usage":
        parts.append(integrity.unknown_references(con, rows, table="stove_distribution", key="stove_serial",
                                                  reason="unknown_stove", project_id=pid))
    elif form == "tree_planting":
        parts.append(integrity.duplicate_registrations(con, rows, ~invalid, table="tree_planting", key="tree_id",
                                                       reason="duplicate_tree", project_id=pid))
    elif form == "tree_survival":
        parts.append(integrity.unknown_references(con, rows, table="tree_planting", key="tree_id",
                                                  reason="unknown_tree", project_id=pid))
    return pd.concat(parts, ignore_index=True) if parts else integrity.empty_findings()


def _warning_findings(con, form: str, rows: pd.DataFrame, project: Project, invalid: pd.Series) -> pd.DataFrame:
    pid = project.project_id
    # A quarantined row's place and time are not trusted, so they do not enter the speed check.
    parts = [integrity.photo_reused(con, rows, form=form, project_id=pid),
             integrity.runner_too_fast(con, rows[~invalid], project_id=pid)]
    if form == "cookstove_usage":
        parts.append(integrity.repeat_visits(con, rows, table=form, key="stove_serial", date_column="visit_date",
                                             project_id=pid, periods=_period_bounds(project)))
    if form == "tree_survival":
        parts.append(integrity.repeat_visits(con, rows, table=form, key="tree_id", date_column="visit_date",
                                             project_id=pid, periods=_period_bounds(project)))
    return pd.concat(parts, ignore_index=True)


def _with_submission(findings: pd.DataFrame, rows: pd.DataFrame, upload: Upload) -> pd.DataFrame:
    ids = rows.set_index("source_row")[["submission_id", "runner_id"]]
    out = findings.drop_duplicates(["source_row", "reason"]).join(ids, on="source_row")
    return pd.DataFrame({
        "project_id": upload.project_id, "batch_id": upload.batch_id, "form": upload.form,
        "submission_id": out["submission_id"].astype("str"), "source_row": out["source_row"].astype("int64"),
        "runner_id": out["runner_id"].astype("str"), "reason": out["reason"].astype("str"),
        "detail": out["detail"].astype("str"),
    })


def batch_is_committed(home: DataHome, upload: Upload) -> bool:
    with warehouse.connect(home) as con:
        return bool(con.execute("SELECT count(*) FROM batches WHERE batch_id = ? AND project_id = ?",
                                [upload.batch_id, upload.project_id]).fetchone()[0])


def commit_batch(home: DataHome, upload: Upload, project: Project) -> BatchSummary:
    """Apply the cross-row rules and store the batch in one transaction; write the feedback file."""
    if batch_is_committed(home, upload):
        summary = read_summary(home, upload)
        summary.already_ingested = True
        return summary
    frames = read_stage(home, upload)
    failures = read_row_rule_failures(home, upload)
    main = frames[None]
    form = upload.form
    table = table_name(form)

    with warehouse.connect(home, write=True) as con:
        repeated_in_file = main["submission_id"].notna() & main.duplicated("submission_id", keep="first")
        stored_before = integrity.already_accepted(con, table, main["submission_id"]) & main["submission_id"].notna()
        ignored = repeated_in_file | stored_before
        rows = main[~ignored].copy()

        quarantine = [_failure_rows(failures, table, severity_is_warning=False)]
        warnings = [_failure_rows(failures, table, severity_is_warning=True)]
        for repeat, repeat_frame in frames.items():
            if repeat is None or repeat_frame.empty:
                continue
            rep_fail = _failure_rows(failures, table_name(form, repeat), severity_is_warning=False)
            if not rep_fail.empty:
                parent = repeat_frame.set_index("source_row")["submission_id"]
                by_sub = rows.set_index("submission_id")["source_row"]
                mapped = rep_fail.assign(source_row=rep_fail["source_row"].map(parent).map(by_sub),
                                         detail=f"{repeat} row " + rep_fail["source_row"].astype("str") + ": " + rep_fail["detail"])
                quarantine.append(mapped.dropna(subset=["source_row"]).astype({"source_row": "int64"}))
        quarantine = pd.concat(quarantine, ignore_index=True)
        quarantine = quarantine[quarantine["source_row"].isin(rows["source_row"])]
        quarantine = pd.concat([quarantine, _geo_findings(rows, project, set(quarantine["source_row"]))], ignore_index=True)
        unknown_plots, outside_plots = _plot_findings(rows, project, set(quarantine["source_row"]))
        quarantine = pd.concat([quarantine, unknown_plots], ignore_index=True)
        warnings.append(outside_plots)
        invalid = rows["source_row"].isin(set(quarantine["source_row"]))
        quarantine = pd.concat([quarantine, _form_findings(con, form, rows, project, invalid)], ignore_index=True)
        invalid = rows["source_row"].isin(set(quarantine["source_row"]))
        warnings = pd.concat([*warnings, _warning_findings(con, form, rows, project, invalid)], ignore_index=True)
        warnings = warnings[warnings["source_row"].isin(rows["source_row"])]

        quarantine_table = _with_submission(quarantine, rows, upload)
        warning_table = _with_submission(warnings, rows, upload)
        rejected = set(quarantine_table["source_row"])
        rows["accepted"] = ~rows["source_row"].isin(rejected)
        # Rows are stored under the project they were uploaded to; a wrong_project row's own answer stays
        # in its quarantine detail and in the kept upload.
        rows["project_id"] = upload.project_id

        con.execute("BEGIN TRANSACTION")
        try:
            _replace_quarantined(con, upload, rows, frames)
            _insert(con, table, stored_columns(rows), upload)
            for repeat, repeat_frame in frames.items():
                if repeat is None:
                    continue
                kept = repeat_frame[isin(repeat_frame["submission_id"], rows["submission_id"])].copy()
                kept["accepted"] = kept["submission_id"].map(rows.set_index("submission_id")["accepted"]).astype("bool")
                kept["project_id"] = upload.project_id
                _insert(con, table_name(form, repeat), stored_columns(kept), upload)
            _insert(con, "quarantine", quarantine_table, upload)
            _insert(con, "warnings", warning_table, upload)
            summary = BatchSummary(
                project_id=upload.project_id, batch_id=upload.batch_id, form=form, flavour=upload.flavour,
                source_file=upload.source_name, rows_read=len(main), accepted=int(rows["accepted"].sum()),
                duplicates=int(ignored.sum()), quarantined=int((~rows["accepted"]).sum()),
                warned=int(warning_table["source_row"].nunique()),
                quarantined_by_reason=quarantine_table["reason"].value_counts().sort_index().to_dict(),
                warnings_by_reason=warning_table["reason"].value_counts().sort_index().to_dict(),
                feedback_path=str(feedback_path(home, upload)),
            )
            con.execute(
                "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
                [upload.batch_id, upload.project_id, form, upload.flavour, upload.source_name, upload.path, upload.sha256,
                 upload.uploaded_at, summary.rows_read, summary.accepted, summary.duplicates, summary.quarantined,
                 summary.warned, summary.feedback_path])
            write_feedback(home, upload, main[ignored], quarantine_table, warning_table, rows=rows)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return summary


def _insert(con, table: str, frame: pd.DataFrame, upload: Upload) -> None:
    if frame.empty:
        return
    schema = warehouse.form_tables().get(table) or warehouse.FINDINGS_COLUMNS
    columns = [c for c in schema if c in frame.columns]
    # As an Arrow table: DuckDB reads it in place, where a pandas text column is copied value by value.
    con.register("incoming", pa.Table.from_pandas(frame[columns], preserve_index=False))
    try:
        quoted = ", ".join(f'"{c}"' for c in columns)
        con.execute(f'INSERT INTO "{table}" ({quoted}) SELECT {quoted} FROM incoming')
    finally:
        con.unregister("incoming")


def _replace_quarantined(con, upload: Upload, rows: pd.DataFrame, frames) -> None:
    """A re-sent submission that was quarantined before is validated afresh: drop its old verdict."""
    ids = pd.DataFrame({"submission_id": rows["submission_id"].dropna().astype("str").unique()})
    if ids.empty:
        return
    con.register("resent", pa.Table.from_pandas(ids, preserve_index=False))
    try:
        form = upload.form
        for name in [table_name(form), *(table_name(form, r) for r in frames if r is not None)]:
            con.execute(f'DELETE FROM "{name}" WHERE NOT accepted AND project_id = ? '
                        "AND submission_id IN (SELECT submission_id FROM resent)", [upload.project_id])
        for name in ("quarantine", "warnings"):
            con.execute(f"DELETE FROM {name} WHERE project_id = ? AND form = ? "
                        "AND submission_id IN (SELECT submission_id FROM resent)", [upload.project_id, form])
    finally:
        con.unregister("resent")


def read_summary(home: DataHome, upload: Upload) -> BatchSummary:
    with warehouse.connect(home) as con:
        record = con.execute("SELECT form, flavour, source_file, rows_read, accepted, duplicates, quarantined, warned, "
                             "feedback_path FROM batches WHERE batch_id = ? AND project_id = ?",
                             [upload.batch_id, upload.project_id]).fetchone()
        if record is None:
            raise UserError(f"batch {upload.partition_key} has not been committed")
        by_reason = dict(con.execute("SELECT reason, count(*) FROM quarantine WHERE batch_id = ? AND project_id = ? GROUP BY 1 ORDER BY 1",
                                     [upload.batch_id, upload.project_id]).fetchall())
        warn_by_reason = dict(con.execute("SELECT reason, count(*) FROM warnings WHERE batch_id = ? AND project_id = ? GROUP BY 1 ORDER BY 1",
                                          [upload.batch_id, upload.project_id]).fetchall())
    form, flavour, source, rows_read, accepted, duplicates, quarantined, warned, feedback = record
    return BatchSummary(upload.project_id, upload.batch_id, form, flavour, source, rows_read, accepted, duplicates,
                        quarantined, warned, by_reason, warn_by_reason, feedback)


def ingest_in_process(home: DataHome, project_id: str, file: Path) -> BatchSummary:
    """The whole chain without Dagster (used by tests of the pieces and by benchmarks)."""
    project = load_project(home, project_id)
    upload = store_upload(home, project, file)
    if batch_is_committed(home, upload):
        summary = read_summary(home, upload)
        summary.already_ingested = True
        return summary
    stage_batch(home, upload)
    results = check_row_rules(home, upload, project)
    errors = [e for r in results.values() for e in r.errors]
    if errors:
        raise UserError(f"{upload.source_name}: validation could not run: {errors[0]}")
    return commit_batch(home, upload, project)
