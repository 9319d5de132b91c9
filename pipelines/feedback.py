"""Feedback for field teams: which runner must revisit which household, and why, in plain words.

Written per batch right after it is validated, under ``$MRV_HOME/feedback/<project>/``:

- ``<batch>-<file>.csv``: one line per (row, reason) — the row number in the uploaded file, the
  submission id, the runner, the household / stove / tree / plot / bund the form names, the status
  (quarantined, warning, duplicate ignored), the reason in plain words and what to do;
- ``<batch>-<file>.xlsx``: the same for a supervisor, with a *Summary* sheet (rows per runner,
  problems per reason, the runner risk summary of `pipelines.quality.risk`) and one sheet per runner;
- ``<batch>-<file>.runners/<runner>.csv``: each runner's own lines, to send to the runner.

Lines are sorted by runner, then what must be fixed before what is only a warning, then household
(or tree, bund) and row. Every text value a spreadsheet would read as a formula — starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return — gets a leading single quote (OWASP CSV
injection guidance), in the CSV files and the workbook alike: the values come from phones.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from pipelines import atomic
from pipelines.quality import risk as runner_risk
from pipelines.quality.reasons import QUARANTINE, REASONS, WARNING
from pipelines.settings import DataHome

ID_COLUMNS = ("household_id", "stove_serial", "tree_id", "plot_id", "farmer_id", "bund_id")
"""Questions that tell a supervisor where to go back to, in the order they are shown."""

QUARANTINED, WARNED, DUPLICATE = "quarantined", "warning", "duplicate (ignored)"
STATUS_ORDER = {QUARANTINED: 0, WARNED: 1, DUPLICATE: 2}
DUPLICATE_REASON = "This submission was already received; it is counted once."
MEANINGS = {code: r.meaning for code, r in REASONS.items()}
ACTIONS = {code: r.action for code, r in REASONS.items()}

FORMULA_START = r"^[=+\-@\t\r]"
XLSX_ILLEGAL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"  # openpyxl's ILLEGAL_CHARACTERS_RE, as a pattern pyarrow runs
SUMMARY_SHEET = "Summary"
MAX_SHEET_TITLE = 31


# ----------------------------------------------------------------------------- where

def feedback_path(home: DataHome, upload) -> Path:
    """The batch's feedback CSV (the path the ``batches`` table and ``mrv ingest`` report)."""
    stem = Path(upload.source_name).stem
    return home.feedback / upload.project_id / f"{upload.batch_id}-{stem}.csv"


def workbook_path(home: DataHome, upload) -> Path:
    """The supervisor's workbook, beside the CSV."""
    return feedback_path(home, upload).with_suffix(".xlsx")


def runner_folder(home: DataHome, upload) -> Path:
    """One CSV per runner with problems, beside the CSV."""
    return feedback_path(home, upload).with_suffix(".runners")


# ----------------------------------------------------------------------------- what

def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells a spreadsheet would evaluate get a leading ``'``; control characters XLSX cannot hold are dropped."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        text = values.astype("str").str.replace(XLSX_ILLEGAL, "", regex=True)
        text = text.where(~text.str.match(FORMULA_START).fillna(False).astype(bool), "'" + text)
        out[column] = text.where(values.notna())
    return out


def _lookup(rows: pd.DataFrame | None, duplicates: pd.DataFrame) -> pd.DataFrame:
    """source_row -> runner and the identifying answers, from the batch's canonical rows."""
    frames = [f for f in (rows, duplicates) if f is not None and not f.empty and "source_row" in f]
    if not frames:
        return pd.DataFrame({"source_row": pd.Series(dtype="int64")})
    keep = ["source_row", "runner_id", *ID_COLUMNS]
    both = pd.concat([f[[c for c in keep if c in f]] for f in frames], ignore_index=True)
    return both.drop_duplicates("source_row").astype({"source_row": "int64"})


def problem_table(duplicates: pd.DataFrame, quarantine: pd.DataFrame, warnings: pd.DataFrame,
                  rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """One line per (row, reason), with the identifying answers, sorted for a supervisor."""
    parts = []
    for kind, table in ((QUARANTINE, quarantine), (WARNING, warnings)):
        if table.empty:
            continue
        parts.append(pd.DataFrame({
            "row": table["source_row"].astype("int64").to_numpy(),
            "submission_id": table["submission_id"].to_numpy(), "runner_id": table["runner_id"].to_numpy(),
            "status": QUARANTINED if kind == QUARANTINE else WARNED,
            "reason_code": table["reason"].to_numpy(),
            "reason": table["reason"].map(MEANINGS).fillna(table["reason"]).to_numpy(),
            "what_to_do": table["reason"].map(ACTIONS).fillna("").to_numpy(),
            "detail": table["detail"].to_numpy(),
        }))
    if not duplicates.empty:
        parts.append(pd.DataFrame({
            "row": duplicates["source_row"].astype("int64").to_numpy(),
            "submission_id": duplicates["submission_id"].to_numpy(), "runner_id": duplicates["runner_id"].to_numpy(),
            "status": DUPLICATE, "reason_code": "duplicate_submission", "reason": DUPLICATE_REASON,
            "what_to_do": "Nothing.", "detail": "",
        }))
    lookup = _lookup(rows, duplicates)
    ids = [c for c in ID_COLUMNS if c in lookup]
    columns = ["row", "submission_id", "runner_id", *ids, "status", "reason_code", "reason", "what_to_do", "detail"]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row" else "str") for c in columns})
    problems = pd.concat(parts, ignore_index=True)
    if "runner_id" in lookup:
        known = problems["row"].map(lookup.set_index("source_row")["runner_id"])
        problems["runner_id"] = known.where(known.notna(), problems["runner_id"])
    problems["runner_id"] = runner_risk.runner_labels(problems["runner_id"])
    if ids:
        problems = problems.join(lookup.set_index("source_row")[ids], on="row")
    problems["_status"] = problems["status"].map(STATUS_ORDER)
    problems = problems.sort_values(["runner_id", "_status", *ids, "row", "reason_code"], kind="stable",
                                    na_position="last")
    return problems[columns].reset_index(drop=True)


def runner_summary(problems: pd.DataFrame, rows: pd.DataFrame | None, risk: pd.DataFrame) -> pd.DataFrame:
    """Per runner: submissions, accepted, quarantined, with warnings, duplicates ignored, risk."""
    def distinct_rows(status: str) -> pd.Series:
        part = problems[problems["status"] == status]
        return part.groupby("runner_id")["row"].nunique()

    quarantined, warned, duplicates = distinct_rows(QUARANTINED), distinct_rows(WARNED), distinct_rows(DUPLICATE)
    if rows is not None and not rows.empty:
        submissions = runner_risk.runner_labels(rows["runner_id"]).value_counts()
    else:
        submissions = pd.Series(dtype="int64")
    runners = submissions.index.union(problems["runner_id"].unique()).sort_values()
    out = pd.DataFrame(index=pd.Index(runners, name="runner_id"))
    out["submissions"] = submissions.reindex(runners).fillna(0).astype("int64")
    out["quarantined"] = quarantined.reindex(runners).fillna(0).astype("int64")
    out["accepted"] = out["submissions"] - out["quarantined"]
    out["with_warnings"] = warned.reindex(runners).fillna(0).astype("int64")
    out["duplicates_ignored"] = duplicates.reindex(runners).fillna(0).astype("int64")
    if not risk.empty:
        scored = risk.set_index("runner_id")
        out["risk_score"] = scored["score"].reindex(runners)
        out["risk_level"] = scored["level"].reindex(runners)
        out["risk_signals"] = scored["signals"].reindex(runners)
    return out.reset_index()[["runner_id", "submissions", "accepted", "quarantined", "with_warnings",
                              "duplicates_ignored", *(c for c in ("risk_score", "risk_level", "risk_signals") if c in out)]]


def reason_summary(problems: pd.DataFrame) -> pd.DataFrame:
    """Per reason: how many rows, what it means and what to do."""
    if problems.empty:
        return pd.DataFrame(columns=["reason_code", "status", "rows", "reason", "what_to_do"])
    grouped = problems.groupby(["status", "reason_code"], sort=False).agg(
        rows=("row", "nunique"), reason=("reason", "first"), what_to_do=("what_to_do", "first")).reset_index()
    grouped["_status"] = grouped["status"].map(STATUS_ORDER)
    grouped = grouped.sort_values(["_status", "rows", "reason_code"], ascending=[True, False, True], kind="stable")
    return grouped[["reason_code", "status", "rows", "reason", "what_to_do"]]


# ----------------------------------------------------------------------------- writing

def _sheet_titles(runners: list[str]) -> dict[str, str]:
    """A valid, unique sheet title per runner (31 characters, none of ``[]:*?/\\``)."""
    taken = {SUMMARY_SHEET.lower()}
    titles = {}
    for runner in runners:
        base = re.sub(r"[\\*?:/\[\]]", "_", runner).strip("'").strip() or "runner"
        title = base[:MAX_SHEET_TITLE]
        if title.lower() in taken or title.lower() == "history":
            digest = hashlib.sha1(runner.encode()).hexdigest()[:6]
            title = f"{base[:MAX_SHEET_TITLE - 7]}~{digest}"
        taken.add(title.lower())
        titles[runner] = title
    return titles


def _file_names(runners: list[str]) -> dict[str, str]:
    """A safe, unique file name per runner; a runner id is never used as a path."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for runner in runners:
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", runner).strip("._") or "runner"
        if safe != runner or safe.lower() in taken:  # case-insensitive file systems
            safe = f"{safe[:60]}-{hashlib.sha1(runner.encode()).hexdigest()[:8]}"
        taken.add(safe.lower())
        names[runner] = f"{safe}.csv"
    return names


def _widths(frames: list[pd.DataFrame]) -> dict[int, float]:
    """Column width per position (1-based) fitting the headers and values of every frame, at most 80."""
    widths: dict[int, float] = {}
    for frame in frames:
        for j, column in enumerate(frame.columns, start=1):
            lengths = frame[column].astype("str").str.len()
            longest = int(lengths.max()) if lengths.notna().any() else 0
            widths[j] = min(max(widths.get(j, 0), len(str(column)) + 2, longest + 2), 80)
    return widths


def _header_cells(sheet, labels) -> list[WriteOnlyCell]:
    cells = []
    for label in labels:
        cell = WriteOnlyCell(sheet, value=str(label))
        cell.font = Font(bold=True)
        cells.append(cell)
    return cells


def _append_table(sheet, frame: pd.DataFrame, *, title: str | None = None, percent: tuple[str, ...] = ()) -> None:
    """Append `frame` (already spreadsheet-safe: no text starts a formula) with a bold header and a blank row after."""
    if title:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = Font(bold=True, size=12)
        sheet.append([cell])
    sheet.append(_header_cells(sheet, frame.columns))
    values = frame.astype(object).where(frame.notna(), None)
    positions = [j for j, c in enumerate(frame.columns) if c in percent]
    for record in values.itertuples(index=False):
        record = list(record)
        for j in positions:
            if record[j] is not None:
                record[j] = WriteOnlyCell(sheet, value=record[j])
                record[j].number_format = "0%"
        sheet.append(record)
    sheet.append([])


def _risk_for_sheet(risk: pd.DataFrame) -> pd.DataFrame:
    columns = {"runner_id": "runner_id", "submissions": "submissions"}
    for s in runner_risk.SIGNALS:
        columns[s] = f"{runner_risk.SIGNAL_LABELS[s]} (rows)"
        columns[f"{s}_share"] = f"{runner_risk.SIGNAL_LABELS[s]} (share)"
    columns.update({"score": "risk_score", "level": "risk_level", "signals": "signals over threshold"})
    return risk[list(columns)].rename(columns=columns)


def _risk_notes() -> pd.DataFrame:
    lines = [f"{runner_risk.SIGNAL_LABELS[s]}: full {runner_risk.POINTS_PER_SIGNAL:.0f} points at "
             f"{runner_risk.THRESHOLDS[s]:.0%} of the runner's submissions" for s in runner_risk.SIGNALS]
    lines += [f"score = sum of the signals' points (0-100); high from {runner_risk.HIGH_SCORE:.0f} "
              f"(with at least {runner_risk.MIN_SUBMISSIONS_FOR_HIGH} submissions), medium from "
              f"{runner_risk.MEDIUM_SCORE:.0f}; n/a = the signal does not apply to this form",
              "The score says whom to back-check first; it never changes what is accepted. See docs/field_teams.md."]
    return pd.DataFrame({"how the risk score works": lines})


MAX_RUNNER_SHEETS = 100
"""Above this many runners with problems in one batch, the workbook has one Problems sheet instead."""


def _problem_sheet(sheet, rows: pd.DataFrame, columns: list[str]) -> str | None:
    """Write a sheet of problem lines; returns the XML of its rows below the header when they are
    to be put in after the save (`sheet_rows_xml`), None when openpyxl wrote them."""
    for j, width in _widths([rows[columns]]).items():
        sheet.column_dimensions[get_column_letter(j)].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(rows) + 1}"
    sheet.append(_header_cells(sheet, columns))
    body = sheet_rows_xml(rows[columns], first_row=2) if FAST_SHEETS else None
    if body is None:
        for record in rows[columns].astype(object).where(rows[columns].notna(), None).itertuples(index=False):
            sheet.append(list(record))
    return body


FAST_SHEETS = True
"""Write the problem lines' cells as `sheet_rows_xml` (False: cell by cell through openpyxl, which a
test compares against)."""

_SPACE = "".join(f"\\x{{{c:x}}}" for c in range(0x110000) if chr(c).isspace())  # Python's str.strip() set
_OPENPYXL_OWN = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\r]"
"""Characters openpyxl refuses (ILLEGAL_CHARACTERS_RE), and a carriage return: such text is left to openpyxl."""


def sheet_rows_xml(frame: pd.DataFrame, first_row: int) -> str | None:
    """The ``<row>`` elements openpyxl's write-only sheet writes for `frame` from row `first_row`, built
    column by column in pyarrow: the same XML, without a Python object per cell.

    Integers (below 10^15) become numbers, text inline strings (``xml:space="preserve"`` when it has
    leading or trailing white space, an empty text an empty cell), missing values no cell. None when
    a value needs openpyxl's own handling: another type, a formula or error code, over 32,767
    characters, a character openpyxl refuses or a carriage return.
    """
    if frame.empty:
        return ""
    numbers = pa.array(np.arange(first_row, first_row + len(frame)).astype(str))
    cells = []
    for j, column in enumerate(frame.columns, start=1):
        values = frame[column]
        start = pc.binary_join_element_wise(f'<c r="{get_column_letter(j)}', numbers, "", "")
        if pd.api.types.is_integer_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
            numeric = pa.array(values, type=pa.int64(), from_pandas=True)
            if (pc.max(pc.abs(numeric)).as_py() or 0) >= 10**15:  # openpyxl writes "%.16g"
                return None
            cell = pc.binary_join_element_wise(start, '" t="n"><v>', pc.cast(numeric, pa.string()), "</v></c>", "")
        elif isinstance(values.dtype, pd.StringDtype):
            text = pa.array(values, type=pa.string(), from_pandas=True)
            own = pc.or_kleene(pc.or_kleene(pc.match_substring_regex(text, _OPENPYXL_OWN), pc.is_in(text, pa.array(ERROR_CODES))),
                               pc.or_kleene(pc.greater(pc.utf8_length(text), 32767),
                                            pc.and_kleene(pc.starts_with(text, "="), pc.greater(pc.utf8_length(text), 1))))
            if pc.any(own).as_py():
                return None
            escaped = pc.replace_substring(pc.replace_substring(pc.replace_substring(text, "&", "&amp;"), "<", "&lt;"), ">", "&gt;")
            preserve = pc.and_(pc.match_substring_regex(text, f"^[{_SPACE}]|[{_SPACE}]$"),
                               pc.invert(pc.match_substring_regex(text, f"^[{_SPACE}]*$")))
            opening = pc.if_else(preserve, '<t xml:space="preserve">', "<t>")
            full = pc.binary_join_element_wise(start, '" t="inlineStr"><is>', opening, escaped, "</t></is></c>", "")
            cell = pc.if_else(pc.equal(text, ""), pc.binary_join_element_wise(start, '" t="inlineStr" />', ""), full)
        else:
            return None
        cells.append(pc.fill_null(cell, ""))
    rows = pc.binary_join_element_wise('<row r="', numbers, '">', *cells, "</row>", "")
    return "".join(rows.to_pylist())


def _sheet_file(book, sheet) -> str:
    """The sheet's part in the saved file: openpyxl numbers the sheets in order from 1 when it saves."""
    return f"xl/worksheets/sheet{book.worksheets.index(sheet) + 1}.xml"


def _put_rows(path: Path, bodies: dict[str, str]) -> None:
    """Put each sheet's rows (`sheet_rows_xml`) after its header in the saved workbook at `path`."""
    with zipfile.ZipFile(path) as saved:
        entries = [(info, saved.read(info)) for info in saved.infolist()]
    with zipfile.ZipFile(path, "w") as book:
        for info, data in entries:
            body = bodies.get(info.filename)
            if body:
                data = data.replace(b"</sheetData>", body.encode("utf-8") + b"</sheetData>", 1)
            book.writestr(info, data)


def write_workbook(target: Path, upload, problems: pd.DataFrame, runners: pd.DataFrame, reasons: pd.DataFrame,
                   risk: pd.DataFrame) -> Path:
    """The supervisor's workbook: a Summary sheet and a sheet per runner with problems, written atomically.

    Streamed (openpyxl write-only), so a batch with many findings costs little memory.
    """
    book = openpyxl.Workbook(write_only=True)
    summary = book.create_sheet(SUMMARY_SHEET)
    header = pd.DataFrame({"batch": [upload.batch_id], "project": [upload.project_id], "file": [upload.source_name],
                           "form": [upload.form], "export": [upload.flavour], "uploaded_at (UTC)": [upload.uploaded_at]})
    blocks = [("Feedback for the field team", spreadsheet_safe(header), ()),
              ("Rows per runner", spreadsheet_safe(runners), ()),
              ("Problems per reason", spreadsheet_safe(reasons), ())]
    if not risk.empty:
        shares = tuple(f"{runner_risk.SIGNAL_LABELS[s]} (share)" for s in runner_risk.SIGNALS)
        blocks.append(("Runner risk", spreadsheet_safe(_risk_for_sheet(risk)), shares))
        blocks.append((None, _risk_notes(), ()))
    for j, width in _widths([frame for _, frame, _ in blocks[:-1] or blocks]).items():
        summary.column_dimensions[get_column_letter(j)].width = width
    for title, frame, percent in blocks:
        _append_table(summary, frame, title=title, percent=percent)

    safe = spreadsheet_safe(problems)
    has_problems = set(problems["runner_id"].unique().tolist())
    with_problems = [r for r in runners["runner_id"].tolist() if r in has_problems]
    bodies: dict[str, str | None] = {}
    if len(with_problems) > MAX_RUNNER_SHEETS:
        # A programme-scale batch: one filterable sheet sorted by runner instead of thousands of tabs
        # (the per-runner CSVs beside the workbook still give each runner their own list).
        sheet = book.create_sheet("Problems")
        bodies[_sheet_file(book, sheet)] = _problem_sheet(sheet, safe, list(problems.columns))
    else:
        columns = [c for c in problems.columns if c != "runner_id"]
        by_runner = dict(tuple(safe.groupby(problems["runner_id"], sort=False)))
        for runner, title in _sheet_titles(with_problems).items():
            sheet = book.create_sheet(title)
            bodies[_sheet_file(book, sheet)] = _problem_sheet(sheet, by_runner[runner], columns)
    with atomic.atomic_path(target) as tmp:
        book.save(tmp)
        if any(bodies.values()):
            _put_rows(tmp, {name: body for name, body in bodies.items() if body})
    return target


def write_runner_files(folder: Path, problems: pd.DataFrame) -> Path:
    """One CSV per runner with problems; the folder is replaced whole."""
    safe = spreadsheet_safe(problems)
    runners = sorted(problems["runner_id"].unique())
    names = _file_names(runners)
    with atomic.atomic_directory(folder) as building:
        pieces = _csv_pieces(safe, problems["runner_id"])
        if pieces is not None:
            for runner, text in pieces:
                (building / names[runner]).write_text(text, encoding="utf-8")
        else:
            for runner, part in safe.groupby(problems["runner_id"], sort=True):
                part.to_csv(building / names[runner], index=False)
    return folder


def _csv_pieces(frame: pd.DataFrame, keys: pd.Series) -> list[tuple[str, str]] | None:
    """``frame.to_csv`` of each group of `keys` (sorted), cut from one ``to_csv`` of the whole frame.

    Only when that is exactly what the groups would print on their own: integer and text columns
    (a datetime column's format depends on its values), no value spanning lines, and each key's
    rows together (they are: the problem lines are sorted by runner). Else None.
    """
    plain = all(pd.api.types.is_integer_dtype(t) or t == object or isinstance(t, pd.StringDtype) for t in frame.dtypes)
    if not plain or frame.empty:
        return None
    for column in frame.columns:
        if not pd.api.types.is_integer_dtype(frame[column].dtype):
            text = frame[column].astype("str")
            if text.str.contains("[\r\n]", regex=True).fillna(False).any():
                return None
    codes, uniques = pd.factorize(keys, sort=True)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    if len(starts) != len(uniques):
        return None
    ends = np.r_[starts[1:], len(codes)]
    header, *lines = frame.to_csv(index=False, lineterminator="\n").split("\n")[:-1]
    if len(lines) != len(frame):
        return None
    newline = "\n"
    return [(str(uniques[codes[a]]), header + newline + newline.join(lines[a:b]) + newline)
            for a, b in zip(starts.tolist(), ends.tolist())]


def write_feedback(home: DataHome, upload, duplicates: pd.DataFrame, quarantine: pd.DataFrame,
                   warnings: pd.DataFrame, rows: pd.DataFrame | None = None) -> Path:
    """Write the batch's feedback (CSV, workbook, per-runner CSVs); returns the CSV's path.

    `rows` are the batch's canonical rows (accepted and quarantined, duplicates left out); with
    them the lines name households, stoves, trees and bunds, and the workbook carries the runner
    risk summary. Without them only what the findings hold is written.
    """
    problems = problem_table(duplicates, quarantine, warnings, rows)
    risk = runner_risk.runner_risk(rows, warnings, upload.form) if rows is not None else pd.DataFrame()
    target = feedback_path(home, upload)
    atomic.write_csv(target, spreadsheet_safe(problems))
    runners = runner_summary(problems, rows, risk)
    write_workbook(workbook_path(home, upload), upload, problems, runners, reason_summary(problems), risk)
    write_runner_files(runner_folder(home, upload), problems)
    return target


# ----------------------------------------------------------------------------- after the commit

def read_batch(home: DataHome, upload) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(rows, quarantine, warnings) of a committed batch, from the warehouse."""
    from pipelines import warehouse
    from pipelines.readers.canonical import table_name

    key = [upload.project_id, upload.batch_id]
    with warehouse.connect(home) as con:
        rows = con.execute(f'SELECT * FROM "{table_name(upload.form)}" WHERE project_id = ? AND batch_id = ? '
                           "ORDER BY source_row", key).df()
        quarantine = con.execute("SELECT * FROM quarantine WHERE project_id = ? AND batch_id = ? ORDER BY source_row",
                                 key).df()
        warnings = con.execute("SELECT * FROM warnings WHERE project_id = ? AND batch_id = ? ORDER BY source_row",
                               key).df()
    return rows, quarantine, warnings


def batch_risk(home: DataHome, upload) -> pd.DataFrame:
    """The runner risk summary of a committed batch (what the feedback workbook shows)."""
    rows, _, warnings = read_batch(home, upload)
    return runner_risk.runner_risk(rows, warnings, upload.form)
