"""Read an uploaded export file into tables of text: CSV, XLSX, or a zip of CSVs.

Every value is read as text (blank -> missing) so that nothing is lost or guessed here; typing is
the canonicaliser's job. Each table gets ``_source_row``: the row number a person sees when opening
the file (the header is row 1).

Uploads come from the field and are treated as hostile: every way a file can be unusable ends in a
one-line `UserError` naming the file (and row), never in another exception. CSV is streamed with
pyarrow's block reader in bounded memory (`open_export` / `TableSource.chunks`), whatever the file's
size or encoding (UTF-8 with or without BOM, UTF-16/32 with BOM, UTF-16 without BOM, Windows-1252);
zip members are streamed from the archive, never extracted to disk; spreadsheets are read with
openpyxl in read-only mode, taking formulas' cached values (nothing is ever evaluated).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pipelines.errors import UserError

SOURCE_ROW = "_source_row"
MAX_ZIP_MEMBER_BYTES = 2 * 1024**3
MAX_ZIP_RATIO = 200
MAX_ZIP_TOTAL_BYTES = 4 * 1024**3
"""Zip guards on the sizes an archive declares (zipfile never inflates past them, so they hold)."""
ZIP_RATIO_CHECKED_ABOVE = 16 * 1024**2
"""Below this size a high compression ratio is harmless (a small CSV of repeated values)."""
MAX_HEADER_BYTES = 512 * 1024
CSV_BLOCK_BYTES = (1 << 19, 1 << 22, 1 << 25)
"""pyarrow block sizes, tried in turn. A row must fit in one block, and the streaming reader holds some
tens of blocks at a time (about 40 MB with 512 KiB blocks, whatever the file's size); a file with a
longer row is read again with the next size, and a row longer than the last is an error."""
CHUNK_ROWS = 100_000
CHUNK_BYTES = 8 * 1024**2
"""A chunk of CSV rows also ends at this much text, so wide rows do not make chunks large."""
DELIMITERS = (",", ";", "\t", "|")
EXCEL_EPOCH = dt.date(1899, 12, 30)
"""Day 0 of Excel's 1900 date system (the 1904 system starts 1904-01-01)."""
EXCEL_MAX_ROWS = 1_048_576

_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, ValueError, OSError, EOFError, pa.ArrowException,
                NotImplementedError, RuntimeError, csv.Error, UnicodeError)
_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")


@dataclass
class Table:
    """One sheet or CSV of an export."""

    name: str  # file stem or sheet name
    frame: pd.DataFrame  # text columns (original header) + _source_row
    date_epoch: dt.date = EXCEL_EPOCH  # day 0 of numeric (serial) dates in this table


def read_tables(path: Path) -> list[Table]:
    """Read every table of an export file; raise `UserError` when the file cannot be used."""
    with open_export(path) as sources:
        return [Table(s.name, s.read(), s.date_epoch) for s in sources]


@dataclass
class TableSource:
    """One table of an open export: its cleaned header, and its rows read in chunks of text."""

    name: str
    columns: list[str]
    display: str  # for messages: file name, or file:member / file:sheet
    _chunks: Callable[[int], Iterator[pd.DataFrame]] = field(repr=False)
    _check: Callable[[], None] | None = field(default=None, repr=False)
    date_epoch: dt.date = EXCEL_EPOCH

    def chunks(self, rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
        """Frames of at most `rows` rows (text columns + ``_source_row``), in file order; at least one."""
        try:
            yield from self._chunks(rows)
        except UserError:
            raise
        except MemoryError:
            raise UserError(f"{self.display}: too large to read in the memory available") from None
        except _READ_ERRORS as exc:
            raise UserError(f"{self.display}: cannot be read ({_first_line(exc)})") from None

    def read(self) -> pd.DataFrame:
        parts = list(self.chunks())
        return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)

    def empty_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame({c: pd.Series(dtype="str") for c in self.columns})
        frame[SOURCE_ROW] = pd.Series(dtype="int64")
        return frame

    def check(self) -> None:
        """Stream every row once (structure only) and keep nothing."""
        try:
            if self._check is not None:
                self._check()
            else:
                for _ in self.chunks():
                    pass
        except UserError:
            raise
        except _READ_ERRORS as exc:
            raise UserError(f"{self.display}: cannot be read ({_first_line(exc)})") from None


@contextlib.contextmanager
def open_export(path: Path) -> Iterator[list[TableSource]]:
    """The tables of an export, each readable in chunks while the context is open.

    Raises `UserError` when the file cannot be used: unsupported type, unreadable, empty, unsafe
    (zip slip, zip bomb, nested or encrypted zip), or with a header that cannot be a table.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    label = one_line(path.name, 120)  # a file name may hold anything, a message stays one line
    if suffix not in (".csv", ".xlsx", ".xlsm", ".zip"):
        raise UserError(f"{label}: unsupported file type {one_line(suffix) or '(none)'}; upload a CSV, XLSX or zip export")
    with contextlib.ExitStack() as stack:
        try:
            if suffix == ".csv":
                sources = [_csv_source(path.stem, label, lambda: open(path, "rb"))]
            elif suffix == ".zip":
                archive = stack.enter_context(zipfile.ZipFile(path))
                sources = _zip_sources(archive, label)
            else:
                sources = _xlsx_sources(path, label, stack)
        except UserError:
            raise
        except MemoryError:
            raise UserError(f"{label}: too large to read in the memory available") from None
        except (*_READ_ERRORS, SyntaxError) as exc:  # xml.etree's ParseError is a SyntaxError
            raise UserError(f"{label}: cannot be read as {suffix[1:].upper()} ({_first_line(exc)})") from None
        yield sources


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return one_line(text[0] if text else type(exc).__name__, 200)


def _clean_header(names: list[str], where: str) -> list[str]:
    """Stripped names; a blank name becomes ``_unnamed_<column number>``; duplicates are an error."""
    header = [(n or "").strip() or f"_unnamed_{i}" for i, n in enumerate(names, start=1)]
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        shown = ", ".join(one_line(h) for h in duplicated[:10])
        raise UserError(f"{where}: duplicate column name(s) {shown} in the header")
    return header


def one_line(text: str, limit: int = 60) -> str:
    """A value as it can appear in a one-line message."""
    text = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return text if len(text) <= limit else text[:limit] + "…"


# ----------------------------------------------------------------------------- CSV (streamed)

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _detect_encoding(opener: Callable[[], IO[bytes]], display: str) -> str:
    """The text encoding of a CSV stream (Python codec name), checked over the whole stream in bounded memory."""
    with opener() as stream:
        head = stream.read(4096)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            if not _decodes(opener, encoding):
                raise UserError(f"{display}: starts like {encoding.upper()} text (byte order mark) but is not valid "
                                f"{encoding.upper()}; export it again")
            return encoding
    candidates = ["utf-8", "cp1252"]  # Excel on Windows saves "CSV" as Windows-1252
    if len(head) >= 4:
        # Excel's "Unicode text" and some Windows tools write UTF-16 without a BOM: every other byte is NUL.
        even, odd = head[0::2], head[1::2]
        if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
            candidates.insert(0, "utf-16-le")
        elif even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
            candidates.insert(0, "utf-16-be")
    for encoding in candidates:
        if _decodes(opener, encoding):
            return encoding
    return "latin-1"  # every byte is a Latin-1 character; what cp1252 leaves undefined can only be that


def _decodes(opener: Callable[[], IO[bytes]], encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with opener() as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _first_text(opener: Callable[[], IO[bytes]], encoding: str, limit: int) -> tuple[str, bool]:
    """Up to `limit` bytes of the stream, decoded; and whether the stream holds more than that."""
    with opener() as stream:
        data = stream.read(limit + 1)
    more = len(data) > limit
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    return decoder.decode(data[:limit], final=not more), more


def _sniff_delimiter(header_line: str) -> str:
    unquoted = re.sub(r'"[^"]*"', "", header_line)
    counts = {d: unquoted.count(d) for d in DELIMITERS}
    return max(counts, key=counts.get) if max(counts.values()) > 0 else ","


def _csv_source(stem: str, display: str, opener: Callable[[], IO[bytes]]) -> TableSource:
    stream = _CsvStream.open(opener, display)
    return TableSource(stem, stream.header, display, stream.chunks, stream.check)


class _RowTooLong(Exception):
    """A row does not fit in one pyarrow block: read again with larger blocks."""


@dataclass
class _CsvStream:
    """A CSV file or zip member: encoding, delimiter and header found; rows read block by block."""

    opener: Callable[[], IO[bytes]]
    display: str
    encoding: str
    delimiter: str
    raw_names: list[str]
    header: list[str]
    header_only: bool = False

    @classmethod
    def open(cls, opener: Callable[[], IO[bytes]], display: str) -> "_CsvStream":
        encoding = _detect_encoding(opener, display)
        text, more = _first_text(opener, encoding, MAX_HEADER_BYTES)
        if not text.strip() and not more:
            raise UserError(f"{display}: the file is empty")
        lines = text.lstrip("\ufeff").splitlines()
        first = next((line for line in lines if line.strip()), None)
        if first is None or (more and len(lines) <= 1):
            raise UserError(f"{display}: the first line is longer than {MAX_HEADER_BYTES // 1024} KiB; "
                            "this is not a CSV export")
        delimiter = _sniff_delimiter(first)
        if not more and not re.search(r"[\r\n]", text.strip()):
            # A header alone without a line break: pyarrow sees no complete row to take names from.
            names = next(csv.reader([first.lstrip("\ufeff")], delimiter=delimiter), [])
            return cls(opener, display, encoding, delimiter, names, _clean_header(names, display), header_only=True)
        # pyarrow parses the header itself (a quoted name may hold the delimiter or a newline).
        probe_parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                         invalid_row_handler=lambda row: "skip")
        for block_size in CSV_BLOCK_BYTES:
            try:
                with opener() as raw:
                    raw_names = pacsv.open_csv(raw, read_options=cls._read_options(encoding, block_size),
                                               parse_options=probe_parse).schema.names
                break
            except pa.ArrowInvalid as exc:
                if "straddl" not in str(exc) or block_size == CSV_BLOCK_BYTES[-1]:
                    raise UserError(f"{display}: not a well-formed CSV ({_first_line(exc)})") from None
        return cls(opener, display, encoding, delimiter, raw_names, _clean_header(raw_names, display))

    @staticmethod
    def _read_options(encoding: str, block_size: int = CSV_BLOCK_BYTES[0]) -> pacsv.ReadOptions:
        # pyarrow reads UTF-8 natively (skipping a BOM); other encodings are transcoded block by block.
        arrow_encoding = "utf8" if encoding in ("utf-8", "utf-8-sig") else encoding
        return pacsv.ReadOptions(encoding=arrow_encoding, block_size=block_size)

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Record batches of text, renamed to the cleaned header; ragged rows are a `UserError`."""
        if self.header_only:
            return
        yielded = 0  # rows already handed out: a retry with larger blocks skips them
        for block_size in CSV_BLOCK_BYTES:
            skip = yielded
            try:
                for batch in self._read(block_size):
                    if skip >= batch.num_rows:
                        skip -= batch.num_rows
                        continue
                    batch, skip = batch.slice(skip), 0
                    yield batch
                    yielded += batch.num_rows
                return
            except _RowTooLong:
                continue
        raise UserError(f"{self.display}: a row is longer than {CSV_BLOCK_BYTES[-1] // 1024**2} MiB; "
                        "this is not a survey export")

    def _read(self, block_size: int) -> Iterator[pa.RecordBatch]:
        ragged: list = []

        def on_invalid(row) -> str:
            ragged.append(row)
            return "error"

        parse = pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True, invalid_row_handler=on_invalid)
        convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in self.raw_names}, strings_can_be_null=True,
                                       null_values=[""], quoted_strings_can_be_null=True)
        with self.opener() as raw:
            try:
                reader = pacsv.open_csv(raw, read_options=self._read_options(self.encoding, block_size),
                                        parse_options=parse, convert_options=convert)
                for batch in reader:
                    yield batch.rename_columns(self.header)
            except pa.ArrowInvalid as exc:
                if ragged:
                    raise UserError(self._ragged_row_message()) from None
                if "straddl" in str(exc):
                    raise _RowTooLong from None
                if "utf8" in str(exc).lower() or "utf-8" in str(exc).lower():
                    raise UserError(f"{self.display}: holds bytes that are not valid {self.encoding} text") from None
                raise UserError(f"{self.display}: not a well-formed CSV ({_first_line(exc)})") from None

    def chunks(self, rows: int) -> Iterator[pd.DataFrame]:
        next_row = 2
        pending: list[pa.RecordBatch] = []
        pending_rows = pending_bytes = 0
        emitted = False
        for batch in self.batches():
            pending.append(batch)
            pending_rows += batch.num_rows
            pending_bytes += batch.nbytes
            while pending_rows >= rows or (pending_rows and pending_bytes >= CHUNK_BYTES):
                table = pa.Table.from_batches(pending)
                take = min(rows, pending_rows)
                yield _text_frame(table.slice(0, take), self.header, next_row)
                emitted = True
                next_row += take
                pending = table.slice(take).to_batches()
                pending_rows = sum(b.num_rows for b in pending)
                pending_bytes = sum(b.nbytes for b in pending)
        if pending_rows or not emitted:
            schema = pa.schema([(h, pa.string()) for h in self.header])
            yield _text_frame(pa.Table.from_batches(pending, schema=schema), self.header, next_row)

    def check(self) -> None:
        for _ in self.batches():
            pass

    def _ragged_row_message(self) -> str:
        """Find the first row whose field count differs from the header's (a second pass, bounded memory)."""
        width, found, last = len(self.header), None, False
        limit = csv.field_size_limit()
        csv.field_size_limit(CSV_BLOCK_BYTES[-1])
        try:
            with self.opener() as raw:
                text = io.TextIOWrapper(raw, encoding=self.encoding, errors="replace", newline="")
                records = (r for r in csv.reader(text, delimiter=self.delimiter) if r)
                next(records, None)  # the header
                for number, record in enumerate(records, start=2):
                    if found is not None:
                        break  # a row follows the bad one
                    if len(record) != width:
                        found = (number, len(record))
                else:
                    last = found is not None
        except csv.Error:
            found = None
        finally:
            csv.field_size_limit(limit)
        if found is None:
            return f"{self.display}: not a well-formed CSV (a row's column count differs from the header's {width})"
        row, count = found
        if last and count < width:
            return (f"{self.display}: the last row (row {row}) has {count} of the header's {width} columns — "
                    "the file looks cut off; export it again")
        hint = (f"the rows do not use the header's delimiter {self.delimiter!r}" if count == 1 else
                "a delimiter inside an unquoted value, or rows using another delimiter than the header")
        return f"{self.display}: row {row} has {count} columns but the header has {width} ({hint})"


def _text_frame(table: pa.Table, header: list[str], first_row: int) -> pd.DataFrame:
    """Text columns, whitespace stripped and blanks missing, plus the row number a person sees."""
    null = pa.scalar(None, pa.string())
    columns = []
    for column in table.columns:
        trimmed = pc.utf8_trim_whitespace(column)
        columns.append(pc.if_else(pc.equal(trimmed, ""), null, trimmed))
    frame = pa.table(columns, names=header).to_pandas()
    frame[SOURCE_ROW] = pd.RangeIndex(first_row, first_row + len(frame)).to_numpy(dtype="int64")
    return frame


# ----------------------------------------------------------------------------- zip (streamed members)

def _unsafe_member(name: str) -> bool:
    member = PurePosixPath(name.replace("\\", "/"))
    return member.is_absolute() or ".." in member.parts or bool(re.match(r"^[A-Za-z]:", name))


def _zip_sources(archive: zipfile.ZipFile, name: str) -> list[TableSource]:
    sources = []
    total = 0
    for info in archive.infolist():
        member = PurePosixPath(info.filename.replace("\\", "/"))
        if info.is_dir():
            continue
        if _unsafe_member(info.filename):
            raise UserError(f"{name}: unsafe member name {one_line(info.filename)!r} in the zip")
        if member.name.startswith(".") or "__MACOSX" in member.parts:
            continue
        if member.suffix.lower() in (".zip", ".gz", ".tgz", ".7z", ".rar"):
            raise UserError(f"{name}: nested archive {one_line(info.filename)!r}; upload the inner export directly")
        if member.suffix.lower() != ".csv":
            continue  # ODK zips may also hold media; they are not survey rows
        if info.flag_bits & 0x1:
            raise UserError(f"{name}: member {one_line(info.filename)!r} is encrypted; upload an export without a password")
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if (info.file_size > MAX_ZIP_MEMBER_BYTES or total > MAX_ZIP_TOTAL_BYTES
                or (ratio > MAX_ZIP_RATIO and info.file_size > ZIP_RATIO_CHECKED_ABOVE)):
            raise UserError(f"{name}: member {one_line(info.filename)!r} unpacks to {info.file_size:,} bytes from "
                            f"{info.compress_size:,} (zip bomb?); not read")
        display = f"{name}:{one_line(info.filename)}"
        sources.append(_csv_source(member.stem, display, lambda info=info: archive.open(info)))
    if not sources:
        raise UserError(f"{name}: the zip holds no CSV export")
    return sources


# ----------------------------------------------------------------------------- XLSX

def _check_container(path: Path, label: str) -> bool:
    """Refuse a workbook that would inflate to more than the zip limits; True when it holds formulas."""
    formulas = False
    with zipfile.ZipFile(path) as archive:
        total = 0
        for info in archive.infolist():
            total += info.file_size
            ratio = info.file_size / max(info.compress_size, 1)
            if (info.file_size > MAX_ZIP_MEMBER_BYTES or total > MAX_ZIP_TOTAL_BYTES
                    or (ratio > MAX_ZIP_RATIO and info.file_size > ZIP_RATIO_CHECKED_ABOVE)):
                raise UserError(f"{label}: the workbook part {one_line(info.filename)!r} unpacks to "
                                f"{info.file_size:,} bytes (zip bomb?); not read")
            if info.flag_bits & 0x1:
                raise UserError(f"{label}: the workbook is encrypted; save it without a password")
            if not formulas and info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                with archive.open(info) as part:
                    tail = b""
                    for block in iter(lambda: part.read(1 << 20), b""):
                        if _FORMULA_TAG.search(tail + block):
                            formulas = True
                            break
                        tail = block[-16:]
    return formulas


def _cell_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = getattr(value, "text", value)  # openpyxl ArrayFormula keeps its formula in .text
    text = str(text).strip()
    return text or None


def _xlsx_sources(path: Path, label: str, stack: contextlib.ExitStack) -> list[TableSource]:
    import openpyxl

    has_formulas = _check_container(path, label)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        stack.callback(book.close)
        formulas_book = None
        if has_formulas:  # only to tell a formula saved without its value from an empty cell
            formulas_book = openpyxl.load_workbook(path, read_only=True, data_only=False)
            stack.callback(formulas_book.close)
    except (UserError, MemoryError):
        raise
    except Exception as exc:  # openpyxl raises many types for damaged workbooks; all mean "unreadable"
        raise UserError(f"{label}: cannot be read as XLSX ({_first_line(exc)})") from None
    epoch = dt.date(1904, 1, 1) if getattr(book, "epoch", None) and book.epoch.year == 1904 else EXCEL_EPOCH
    sources = []
    try:
        for index, sheet in enumerate(book.worksheets):
            first = next(sheet.iter_rows(values_only=True, max_row=1), None)
            names = [_cell_text(v) or "" for v in (first or ())]
            while names and not names[-1]:
                names.pop()
            if not names:
                continue
            display = f"{label}:{one_line(sheet.title)}"
            header = _clean_header(names, f"{label}: sheet {one_line(sheet.title)!r}")
            formula_sheet = formulas_book.worksheets[index] if formulas_book is not None else None
            sources.append(TableSource(sheet.title, header, display,
                                       lambda rows, s=sheet, f=formula_sheet, h=header, d=display: _xlsx_chunks(s, f, h, rows, d),
                                       date_epoch=epoch))
    except UserError:
        raise
    except MemoryError:
        raise UserError(f"{label}: too large to read in the memory available") from None
    except Exception as exc:
        raise UserError(f"{label}: cannot be read as XLSX ({_first_line(exc)})") from None
    if not sources:
        raise UserError(f"{label}: the workbook has no data")
    return sources


def _xlsx_chunks(sheet, formula_sheet, header: list[str], rows: int, display: str) -> Iterator[pd.DataFrame]:
    width = len(header)
    try:
        # max_col bounds every row to the header, whatever width the sheet claims for itself.
        values = sheet.iter_rows(values_only=True, min_row=2, max_col=width)
        formulas = formula_sheet.iter_rows(values_only=True, min_row=2, max_col=width) if formula_sheet is not None else None
        body: list[list[str | None]] = []
        numbers: list[int] = []
        emitted = False
        for number, row in enumerate(values, start=2):
            if number > EXCEL_MAX_ROWS:
                raise UserError(f"{display}: rows beyond Excel's last row {EXCEL_MAX_ROWS:,}; the sheet is damaged")
            cells = row[:width]
            texts = [_cell_text(v) for v in cells]
            if formulas is not None:
                written = next(formulas, ())
                # A formula saved without its cached value: keep the formula text, which no typed question parses.
                texts = [_cell_text(written[i]) if v is None and i < len(written) and _is_formula(written[i]) else t
                         for i, (v, t) in enumerate(zip(cells, texts))]
            if not any(t is not None for t in texts):
                continue
            body.append(texts + [None] * (width - len(texts)))
            numbers.append(number)
            if len(body) >= rows:
                yield _rows_frame(body, numbers, header)
                emitted = True
                body, numbers = [], []
        if body or not emitted:
            yield _rows_frame(body, numbers, header)
    except (UserError, MemoryError):
        raise
    except Exception as exc:  # a damaged sheet part: openpyxl and the XML parser raise many types
        raise UserError(f"{display}: cannot be read ({_first_line(exc)})") from None


def _is_formula(value) -> bool:
    return (isinstance(value, str) and value.startswith("=")) or hasattr(value, "text")


def _rows_frame(body: list[list[str | None]], numbers: list[int], header: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(body, columns=header, dtype="str") if body else \
        pd.DataFrame({c: pd.Series(dtype="str") for c in header})
    frame[SOURCE_ROW] = pd.array(numbers, dtype="int64")
    return frame
