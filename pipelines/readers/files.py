"""Read an uploaded export file into tables of text: CSV, XLSX, or a zip of CSVs.

Every value is read as text (blank -> missing) so that nothing is lost or guessed here; typing is
the canonicaliser's job. Each table gets ``_source_row``: the row number a person sees when opening
the file (the header is row 1).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from pipelines.errors import UserError

SOURCE_ROW = "_source_row"
MAX_ZIP_MEMBER_BYTES = 2 * 1024**3
MAX_ZIP_RATIO = 200


@dataclass
class Table:
    """One sheet or CSV of an export."""

    name: str  # file stem or sheet name
    frame: pd.DataFrame  # text columns (original header) + _source_row


def read_tables(path: Path) -> list[Table]:
    """Read every table of an export file; raise `UserError` when the file cannot be used."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return [Table(path.stem, _read_csv_bytes(path.read_bytes(), path.name))]
        if suffix in (".xlsx", ".xlsm"):
            return _read_xlsx(path)
        if suffix == ".zip":
            return _read_zip(path)
    except UserError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, pa.ArrowInvalid) as exc:
        raise UserError(f"{path.name}: cannot be read as {suffix[1:].upper()} ({_first_line(exc)})") from None
    raise UserError(f"{path.name}: unsupported file type {suffix or '(none)'}; upload a CSV, XLSX or zip export")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _decode(data: bytes, name: str) -> str:
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(encoding)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Excel on Windows saves "CSV" as Windows-1252.
        return data.decode("cp1252", errors="replace")


def _sniff_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    return max(counts, key=counts.get) if max(counts.values()) > 0 else ","


def _read_csv_bytes(data: bytes, name: str) -> pd.DataFrame:
    if not data.strip():
        raise UserError(f"{name}: the file is empty")
    text = _decode(data, name)
    header_line = text.split("\n", 1)[0]
    delimiter = _sniff_delimiter(header_line)
    header = next(csv.reader([header_line], delimiter=delimiter))
    header = [h.strip() for h in header]
    duplicated = sorted({h for h in header if header.count(h) > 1 and h})
    if duplicated:
        raise UserError(f"{name}: duplicate column name(s) {', '.join(duplicated)} in the header")
    try:
        table = pacsv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header},
                strings_can_be_null=True,
                null_values=[""],
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise UserError(f"{name}: not a well-formed CSV ({_first_line(exc)})") from None
    frame = table.to_pandas()
    for column in frame.columns:
        stripped = frame[column].str.strip()
        frame[column] = stripped.where(stripped != "")
    frame[SOURCE_ROW] = range(2, len(frame) + 2)
    return frame


def _cell_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def _read_xlsx(path: Path) -> list[Table]:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    tables = []
    for sheet in book.worksheets:
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            continue
        header = [_cell_text(h) or "" for h in header]
        while header and not header[-1]:
            header.pop()
        if not header:
            continue
        duplicated = sorted({h for h in header if header.count(h) > 1 and h})
        if duplicated:
            raise UserError(f"{path.name}: sheet {sheet.title!r} has duplicate column name(s) {', '.join(duplicated)}")
        width = len(header)
        body = [[_cell_text(v) for v in row[:width]] for row in rows]
        numbered = [(i + 2, r) for i, r in enumerate(body) if any(v is not None for v in r)]
        frame = pd.DataFrame([r + [None] * (width - len(r)) for _, r in numbered], columns=header, dtype="str")
        frame[SOURCE_ROW] = [n for n, _ in numbered]
        tables.append(Table(sheet.title, frame))
    book.close()
    if not tables:
        raise UserError(f"{path.name}: the workbook has no data")
    return tables


def _read_zip(path: Path) -> list[Table]:
    tables = []
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            member = PurePosixPath(info.filename)
            if info.is_dir() or member.name.startswith(".") or "__MACOSX" in member.parts:
                continue
            if member.is_absolute() or ".." in member.parts:
                raise UserError(f"{path.name}: unsafe member name {info.filename!r} in the zip")
            if member.suffix.lower() == ".zip":
                raise UserError(f"{path.name}: nested zip {info.filename!r}; upload the inner export directly")
            if member.suffix.lower() != ".csv":
                continue  # ODK zips may also hold media; they are not survey rows
            if info.file_size > MAX_ZIP_MEMBER_BYTES or (
                info.compress_size and info.file_size / info.compress_size > MAX_ZIP_RATIO and info.file_size > 50 * 1024**2
            ):
                raise UserError(f"{path.name}: member {info.filename!r} unpacks to {info.file_size} bytes (zip bomb?)")
            data = archive.read(info)
            tables.append(Table(member.stem, _read_csv_bytes(data, f"{path.name}:{info.filename}")))
    if not tables:
        raise UserError(f"{path.name}: the zip holds no CSV export")
    return tables
