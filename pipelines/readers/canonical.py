"""Turn an export (either flavour) into the canonical, typed tables of its form.

One canonical table per form (and per repeat group), the same whichever app produced the file:
typed columns named after the questions, the geopoint as ``latitude``/``longitude``/
``altitude_m``/``gps_accuracy_m``, a geotrace as WKT, timestamps in UTC, and lineage
(``batch_id``, ``source_file``, ``source_row``). Personal data is dropped here.

For validation, every typed question also keeps its text as ``<question>__raw``: a blank raw value
is a missing answer, a raw value that did not parse is a bad value. These columns are never stored.

Every frame has the columns of `canonical_schema` (plus the ``__raw`` columns) with the pandas
dtypes of `PANDAS_DTYPES`, whatever the file holds: a value that does not parse is missing in its
typed column, never an exception. `iter_export` reads an export in chunks of bounded size.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from pipelines.errors import UserError
from pipelines.forms import FORM_IDS, PERSONAL_QUESTIONS, FormSpec, Question, load_form
from pipelines.quality.vector import isin
from pipelines.readers.files import CHUNK_ROWS, EXCEL_EPOCH, SOURCE_ROW, TableSource, one_line, open_export
from pipelines.readers.flavours import ColumnMap, detect_flavour, is_repeat_table

RAW_SUFFIX = "__raw"

FORM_SIGNATURES: dict[str, frozenset[str]] = {
    "stove_distribution": frozenset({"stove_serial", "commissioned_on"}),
    "cookstove_usage": frozenset({"stove_serial", "visit_date", "stove_found"}),
    "tree_planting": frozenset({"tree_id", "planted_on"}),
    "tree_survival": frozenset({"tree_id", "visit_date", "status"}),
    "bund_plantation": frozenset({"bund_id", "saplings_planted"}),
}
"""Questions that together identify a form from an export header."""

META_COLUMNS = {"submission_id": "VARCHAR", "submitted_at": "TIMESTAMPTZ", "started_at": "TIMESTAMPTZ",
                "ended_at": "TIMESTAMPTZ", "device_id": "VARCHAR"}
LINEAGE_COLUMNS = {"batch_id": "VARCHAR", "source_file": "VARCHAR", "source_row": "BIGINT"}
REPEAT_KEY_COLUMNS = {"submission_id": "VARCHAR", "repeat_index": "BIGINT"}
GEOPOINT_PARTS = {"Latitude": "latitude", "Longitude": "longitude", "Altitude": "altitude_m", "Accuracy": "gps_accuracy_m"}
_SQL_TYPES = {"integer": "BIGINT", "decimal": "DOUBLE", "date": "DATE", "yes_no": "BOOLEAN"}

PANDAS_DTYPES = {"VARCHAR": "str", "BIGINT": "Int64", "DOUBLE": "float64", "DATE": "datetime64[s]",
                 "TIMESTAMPTZ": "datetime64[us, UTC]", "BOOLEAN": "boolean"}
"""pandas dtype of each canonical (DuckDB) column type; ``__raw`` columns are ``str``."""
NEVER_NULL_COLUMNS = {"source_row": "int64", "repeat_index": "int64"}
"""Columns the reader always fills, held as plain ``int64``."""


def geopoint_columns(question: Question) -> dict[str, str]:
    prefix = "" if question.name == "location" else f"{question.name}_"
    return {f"{prefix}{part}": "DOUBLE" for part in GEOPOINT_PARTS.values()}


def question_columns(question: Question) -> dict[str, str]:
    """Canonical column(s) and DuckDB type(s) of one question."""
    if question.name in PERSONAL_QUESTIONS:
        return {}
    if question.type == "geopoint":
        return geopoint_columns(question)
    if question.type == "geotrace":
        return {f"{question.name}_wkt": "VARCHAR"}
    return {question.name: _SQL_TYPES.get(question.type, "VARCHAR")}


def canonical_schema(form: FormSpec, repeat: str | None = None) -> dict[str, str]:
    """Column -> DuckDB type of the stored table of a form (or of one of its repeat groups)."""
    if repeat is None:
        columns = dict(META_COLUMNS)
        for question in form.main_questions():
            columns.update(question_columns(question))
    else:
        columns = dict(REPEAT_KEY_COLUMNS)
        for question in form.repeat_questions(repeat):
            columns.update(question_columns(question))
    columns.update(LINEAGE_COLUMNS)
    return columns


def frame_dtypes(form: FormSpec, repeat: str | None = None) -> dict[str, str]:
    """Column -> pandas dtype of the frames `read_export` returns for a form (or a repeat group), without ``__raw``."""
    return {c: NEVER_NULL_COLUMNS.get(c, PANDAS_DTYPES[t]) for c, t in canonical_schema(form, repeat).items()}


def table_name(form_id: str, repeat: str | None = None) -> str:
    """Warehouse table of a form or repeat group (``bund_plantation`` + ``tree_measure`` -> ``bund_tree_measure``)."""
    if repeat is None:
        return form_id
    return f"{form_id.split('_')[0]}_{repeat}"


@dataclass
class CanonicalBatch:
    """An export read into canonical tables; ``frames`` keyed by repeat name (None = main)."""

    form: FormSpec
    flavour: str
    source_file: str
    frames: dict[str | None, pd.DataFrame] = field(default_factory=dict)

    @property
    def main(self) -> pd.DataFrame:
        return self.frames[None]


# ----------------------------------------------------------------------------- parsing (vectorised)

MAX_EXACT_INTEGER = 2**53
"""Larger integers are no survey answer (and would not survive a float); they are bad values."""
PYTHON_YEARS = (1, 9999)
"""Dates and timestamps outside Python's calendar (year 0, -2024, UTC year 10000) cannot be printed in a
quarantine detail or compared as datetimes: they are bad values, like any text that is no date."""
EXCEL_SERIAL_DAYS = (36526, 73050)
"""Excel serial numbers read as dates: 2000-01-01 to 2099-12-31 in the 1900 date system. A bare number
outside this window in a date column is not taken for a date (``2024`` is a year, not 1905-07-16)."""


def parse_integer(text: pd.Series) -> pd.Series:
    number = pd.to_numeric(text, errors="coerce").astype("float64")
    number = number.where(np.isfinite(number) & (number % 1 == 0) & (number.abs() <= MAX_EXACT_INTEGER))
    return number.astype("Int64")


def parse_decimal(text: pd.Series) -> pd.Series:
    number = pd.to_numeric(text, errors="coerce").astype("float64")
    return number.where(np.isfinite(number))


def parse_date(text: pd.Series, epoch: dt.date = EXCEL_EPOCH) -> pd.Series:
    """ISO ``YYYY-MM-DD`` (an XLSX cell may add a midnight time) or an Excel serial day number; else missing.

    A spreadsheet resaved with the date column formatted as a number holds serials such as 45292
    (= 2024-01-01 in Excel's 1900 date system; `epoch` is day 0 of the workbook's system).
    """
    text = text.astype("str")
    day = text.str.extract(r"^(\d{4}-\d{2}-\d{2})(?:[ T]00:00(?::00(?:\.0+)?)?)?$", expand=False)
    parsed = pd.to_datetime(day, format="%Y-%m-%d", errors="coerce").astype("datetime64[s]")
    parsed = parsed.where(parsed.dt.year.between(*PYTHON_YEARS))
    # A serial has a digit where an ISO date has its first "-": only the other values are searched.
    maybe_serial = text.str.slice(4, 5).ne("-").fillna(True).astype(bool)
    serial_text = pd.Series(pd.NA, index=text.index, dtype="str")
    if maybe_serial.any():
        serial_text[maybe_serial] = text[maybe_serial].str.extract(r"^(\d{5})(?:\.0+)?$", expand=False)
    serial = pd.to_numeric(serial_text, errors="coerce")
    in_window = serial.between(*EXCEL_SERIAL_DAYS) & parsed.isna()
    if in_window.any():
        days = pd.to_timedelta(serial[in_window].astype("int64"), unit="D")
        parsed = parsed.copy()
        parsed[in_window] = (pd.Timestamp(epoch) + days).astype("datetime64[s]")
    return parsed


def parse_timestamp(text: pd.Series) -> pd.Series:
    """ISO 8601 with or without offset; no offset means UTC (Kobo ``_submission_time``)."""
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce").astype("datetime64[us, UTC]")
    return parsed.where(parsed.dt.year.between(*PYTHON_YEARS))


YES, NO = ("yes", "true", "1"), ("no", "false", "0")


def parse_yes_no(text: pd.Series) -> pd.Series:
    """yes/true/1 and no/false/0 in any case; anything else missing."""
    lower = text.str.lower()
    yes, no = isin(lower, YES).to_numpy(), isin(lower, NO).to_numpy()
    return pd.Series(pd.arrays.BooleanArray(yes, ~(yes | no)), index=text.index, name=text.name)


def parse_geotrace(text: pd.Series) -> pd.Series:
    """``lat lon alt acc;lat lon alt acc;...`` -> WKT LINESTRING (lon lat order); unparseable -> missing."""
    result = pd.Series(pd.NA, index=text.index, dtype="str")
    present = text.dropna()
    if present.empty:
        return result
    points = present.str.strip().str.rstrip(";").str.split(";").explode()
    parts = points.str.strip().str.split(r"\s+", expand=True, regex=True)
    lat = pd.to_numeric(parts[0], errors="coerce")
    lon = pd.to_numeric(parts[1], errors="coerce") if parts.shape[1] > 1 else pd.Series(np.nan, index=parts.index)
    valid_point = lat.between(-90, 90) & lon.between(-180, 180)
    per_row = pd.DataFrame({"ok": valid_point, "n": 1}).groupby(level=0).agg(ok=("ok", "all"), n=("n", "sum"))
    good_rows = per_row.index[per_row["ok"] & (per_row["n"] >= 2)]
    keep = points.index.isin(good_rows)
    coords = np.column_stack([lon[keep].to_numpy(float), lat[keep].to_numpy(float)])
    codes, _ = pd.factorize(points.index[keep])
    lines = shapely.linestrings(coords, indices=codes)
    result.loc[good_rows] = shapely.to_wkt(lines, rounding_precision=7)
    return result


_DMS = re.compile(r"""^\s*(?P<sign>[-+])?\s*(?P<pre>[NSEW])?\s*
    (?P<deg>\d{1,3}(?:\.\d+)?)\s*(?P<mark>[°º˚]|deg)?\s*
    (?:(?P<min>\d{1,2}(?:\.\d+)?)\s*(?:['′’]|min)\s*)?
    (?:(?P<sec>\d{1,2}(?:\.\d+)?)\s*(?:["″”]|''|sec)\s*)?
    (?P<post>[NSEW])?\s*$""", re.X | re.I)
_HEMISPHERES = {"latitude": ("N", "S"), "longitude": ("E", "W")}
_LIMITS = {"latitude": 90.0, "longitude": 180.0}


def parse_coordinate(text: pd.Series, axis: str) -> pd.Series:
    """Decimal degrees, or degrees-minutes-seconds when unambiguous (``23°10'30"N``, ``77° 5.5' E``); else missing.

    `axis` is ``latitude`` or ``longitude``. A DMS value needs a degree sign or a hemisphere letter,
    minutes and seconds under 60, and a hemisphere letter of its own axis (a latitude written with
    E/W is missing, as the two are then swapped); S and W are negative.
    """
    number = parse_decimal(text)
    todo = number.isna() & text.notna()
    if not todo.any():
        return number
    parts = text[todo].astype("str").str.extract(_DMS)
    hemisphere = parts["pre"].fillna(parts["post"]).str.upper()
    both_letters = parts["pre"].notna() & parts["post"].notna()
    degrees, minutes, seconds = (pd.to_numeric(parts[k], errors="coerce") for k in ("deg", "min", "sec"))
    fractional = {k: parts[k].str.contains(".", regex=False).fillna(False).astype(bool) for k in ("deg", "min")}
    positive, negative = _HEMISPHERES[axis]
    ok = (parts["deg"].notna() & (parts["mark"].notna() | hemisphere.notna()) & ~both_letters
          & (hemisphere.isna() | hemisphere.isin([positive, negative]))
          & ~(hemisphere.notna() & parts["sign"].notna())
          & minutes.fillna(0).lt(60) & seconds.fillna(0).lt(60)
          & ~(seconds.notna() & minutes.isna())
          & ~(fractional["deg"] & minutes.notna()) & ~(fractional["min"] & seconds.notna()))
    value = degrees + minutes.fillna(0) / 60 + seconds.fillna(0) / 3600
    value = value.where(~(hemisphere.eq(negative).fillna(False) | parts["sign"].eq("-").fillna(False)), -value)
    value = value.where(ok & value.abs().le(_LIMITS[axis]))
    number = number.copy()
    number[todo] = value.astype("float64")
    return number


def _composite_dms(text: pd.Series) -> pd.DataFrame:
    """``<lat> <lon> [alt] [acc]`` where the coordinates are DMS that may hold spaces (hemisphere letters needed)."""
    return text.str.extract(r"^(?P<lat>[^NSns]*?[NSns])\s*[,;]?\s*(?P<lon>[^EWew]*?[EWew])(?:\s+(?P<alt>\S+))?(?:\s+(?P<acc>\S+))?\s*$")


def _geopoint(frame: pd.DataFrame, cmap: ColumnMap, question: Question) -> dict[str, pd.Series]:
    out_names = geopoint_columns(question)
    parts: dict[str, pd.Series] = {}
    split_cols = {p: cmap.get(f"{question.name}-{p}") for p in GEOPOINT_PARTS}
    composite = cmap.get(question.name)
    index = frame.index
    if split_cols["Latitude"] and split_cols["Longitude"]:
        raw = {p: frame[c] if c else pd.Series(pd.NA, index=index, dtype="str") for p, c in split_cols.items()}
    elif composite:
        text = frame[composite].astype("str")
        split = text.str.split(r"\s+", expand=True, regex=True)
        pieces = split.reindex(columns=range(4))
        raw = {p: pieces[i].astype("str") for i, p in enumerate(GEOPOINT_PARTS)}
        # DMS written with spaces ("23° 10' 30\" N 77° 5' E 400 5") splits into more than four parts.
        spaced = text.str.contains(r"[°º˚'′\"″]", regex=True).fillna(False).astype(bool) & (split.notna().sum(axis=1) > 4)
        if spaced.any():
            dms = _composite_dms(text[spaced])
            for i, p in enumerate(GEOPOINT_PARTS):
                raw[p] = raw[p].copy()
                raw[p][spaced] = dms.iloc[:, i]
    else:
        raw = {p: pd.Series(pd.NA, index=index, dtype="str") for p in GEOPOINT_PARTS}
    for (part, text), name in zip(raw.items(), out_names):
        text = text.astype("str")
        if part in ("Latitude", "Longitude"):
            parts[name] = parse_coordinate(text, part.lower())
        else:
            parts[name] = parse_decimal(text)
    present = raw["Latitude"].notna() | raw["Longitude"].notna()
    parts[f"{question.name}{RAW_SUFFIX}"] = raw["Latitude"].astype("str").where(present)
    return parts


def _typed_columns(frame: pd.DataFrame, cmap: ColumnMap, questions: list[Question],
                   epoch: dt.date = EXCEL_EPOCH) -> dict[str, pd.Series]:
    out: dict[str, pd.Series] = {}
    index = frame.index
    for question in questions:
        if question.name in PERSONAL_QUESTIONS:
            continue
        if question.type == "geopoint":
            out.update(_geopoint(frame, cmap, question))
            continue
        column = cmap.get(question.name)
        text = frame[column].astype("str") if column else pd.Series(pd.NA, index=index, dtype="str")
        if question.type == "integer":
            out[question.name] = parse_integer(text)
        elif question.type == "decimal":
            out[question.name] = parse_decimal(text)
        elif question.type == "date":
            out[question.name] = parse_date(text, epoch)
        elif question.type == "yes_no":
            out[question.name] = parse_yes_no(text)
        elif question.type == "geotrace":
            out[f"{question.name}_wkt"] = parse_geotrace(text)
        else:
            out[question.name] = text
            continue
        out[f"{question.name}{RAW_SUFFIX}"] = text
    return out


def _normalise_submission_id(text: pd.Series) -> pd.Series:
    return text.astype("str").str.strip().str.removeprefix("uuid:")


# ----------------------------------------------------------------------------- detection

def detect_form(leaves: set[str], source: str) -> str:
    """The form whose signature questions the header carries; `UserError` for none, or for a mix of forms."""
    matches = [form_id for form_id, signature in FORM_SIGNATURES.items() if signature <= leaves]
    if not matches:
        expected = "; ".join(f"{f}: {', '.join(sorted(s))}" for f, s in FORM_SIGNATURES.items())
        raise UserError(f"{source}: unknown form — the header has none of the question sets of the five forms ({expected})")
    # A usage export also carries stove_serial; the larger signature is more specific.
    form_id = max(matches, key=lambda f: len(FORM_SIGNATURES[f]))
    own = {q.name for q in load_form(form_id).questions}
    foreign = sorted(q for other in matches if other != form_id for q in FORM_SIGNATURES[other] - own)
    if foreign:
        others = ", ".join(f for f in matches if f != form_id)
        raise UserError(f"{source}: the header mixes forms — it has the questions of {form_id} and also "
                        f"{', '.join(foreign)} of {others}; upload one form per file")
    return form_id


def _columns(table: TableSource) -> list[str]:
    return list(table.columns)


def _split_tables(tables: list[TableSource], source: str) -> tuple[TableSource, list[TableSource], str]:
    """(main table, repeat tables, flavour) of an export's tables."""
    mains = [t for t in tables if not is_repeat_table(_columns(t))]
    repeats = [t for t in tables if is_repeat_table(_columns(t))]
    if not mains:
        raise UserError(f"{source}: no main table found (every table carries PARENT_KEY or _parent_index)")
    flavoured = [(t, detect_flavour(_columns(t))) for t in mains]
    flavoured = [(t, f) for t, f in flavoured if f]
    if not flavoured:
        hint = ""
        if len(mains) == 1 and len(_columns(mains[0])) == 1:
            hint = " (the header is a single column: columns must be separated by , ; tab or |)"
        raise UserError(f"{source}: not a Kobo or ODK Central export — expected the columns _uuid and "
                        f"_submission_time (Kobo) or KEY and SubmissionDate (ODK Central){hint}")
    if len(flavoured) > 1:
        names = ", ".join(one_line(t.name) for t, _ in flavoured)
        raise UserError(f"{source}: holds several main tables ({names}); upload one form per file")
    main, flavour = flavoured[0]
    return main, repeats, flavour


def sniff(path: Path) -> tuple[str, str]:
    """(form_id, flavour) of an export, from its headers; `UserError` when not recognisable.

    Reads the headers in bounded memory; a CSV export (or zip of CSVs) is also streamed through once,
    so a file with broken rows stops here, before anything of it is staged.
    """
    label = one_line(Path(path).name, 120)
    with open_export(path) as tables:
        main, _, flavour = _split_tables(tables, label)
        cmap = ColumnMap.of(_columns(main), flavour)
        form_id = detect_form(set(cmap.columns), label)
        if Path(path).suffix.lower() in (".csv", ".zip"):  # a workbook's rows cost a full parse; read at staging
            for table in tables:
                table.check()
    return form_id, flavour


# ----------------------------------------------------------------------------- canonicalise

def _check_required_columns(form: FormSpec, cmap: ColumnMap, questions: list[Question], where: str) -> None:
    missing = []
    for question in questions:
        if not question.required or question.name in PERSONAL_QUESTIONS:
            continue
        if question.type == "geopoint":
            if not (cmap.get(question.name) or (cmap.get(f"{question.name}-Latitude") and cmap.get(f"{question.name}-Longitude"))):
                missing.append(question.name)
        elif not cmap.get(question.name):
            missing.append(question.name)
    if missing:
        raise UserError(f"{where}: required column(s) missing for form {form.form_id}: {', '.join(missing)}")


def read_export(path: Path, batch_id: str, source_name: str | None = None) -> CanonicalBatch:
    """Read an export file into canonical frames (with ``__raw`` text columns for validation)."""
    parts: dict[str | None, list[pd.DataFrame]] = {}
    batch = None
    for chunk in iter_export(path, batch_id, source_name):
        batch = batch or CanonicalBatch(chunk.form, chunk.flavour, chunk.source_file)
        for key, frame in chunk.frames.items():
            parts.setdefault(key, []).append(frame)
    for key, frames in parts.items():
        batch.frames[key] = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return batch


def iter_export(path: Path, batch_id: str, source_name: str | None = None,
                chunk_rows: int = CHUNK_ROWS) -> Iterator[CanonicalBatch]:
    """Read an export in chunks of at most `chunk_rows` rows, in bounded memory whatever the file's size.

    Each yielded batch holds ONE frame: a chunk of the main table (key None) — all of them first —
    then the chunks of each repeat group. Every table yields at least one (possibly empty) frame.
    Raises `UserError` when the file cannot be used.
    """
    source = source_name or path.name  # lineage keeps the name as it is; messages get a one-line label
    label = one_line(source, 120)
    with open_export(path) as tables:
        main, repeat_tables, flavour = _split_tables(tables, label)
        cmap = ColumnMap.of(main.columns, flavour)
        form = load_form(detect_form(set(cmap.columns), label))
        id_column = cmap.submission_id_column()
        if id_column is None:
            raise UserError(f"{label}: no submission id column (_uuid / meta/instanceID for Kobo, KEY for ODK Central)")
        _check_required_columns(form, cmap, form.main_questions(), label)
        parent_col, main_key_col = cmap.parent_key_columns()
        main_key = cmap.get(main_key_col) if flavour == "kobo" else cmap.get("KEY")
        dtypes = frame_dtypes(form)
        keys: list[pd.Series] = []
        for frame in main.chunks(chunk_rows):
            columns = _main_columns(frame, cmap, form, id_column, batch_id, source, main.date_epoch)
            if form.repeats and main_key is not None:
                keys.append(pd.Series(columns["submission_id"].to_numpy(), index=frame[main_key].astype("str").to_numpy()))
            yield CanonicalBatch(form, flavour, source, {None: _conform(pd.DataFrame(columns), dtypes)})
        parent_lookup = pd.concat(keys) if keys else pd.Series(dtype="str")
        parent_lookup = parent_lookup[~parent_lookup.index.duplicated()]
        for repeat in form.repeats:
            table = _find_repeat_table(repeat_tables, repeat, form.form_id)
            for frame in _canonical_repeat(table, repeat, form, flavour, parent_col, main_key, parent_lookup,
                                           batch_id, source, chunk_rows):
                yield CanonicalBatch(form, flavour, source, {repeat: frame})


def _main_columns(frame: pd.DataFrame, cmap: ColumnMap, form: FormSpec, id_column: str, batch_id: str, source: str,
                  epoch: dt.date) -> dict[str, pd.Series]:
    index = frame.index
    empty = pd.Series(pd.NA, index=index, dtype="str")
    device = cmap.get("deviceid") or cmap.get("DeviceID")
    submitted = cmap.submitted_at_column()
    columns: dict[str, pd.Series] = {
        "submission_id": _normalise_submission_id(frame[id_column]),
        "submitted_at": parse_timestamp(frame[submitted] if submitted else empty),
        "started_at": parse_timestamp(frame[cmap.get("start")] if cmap.get("start") else empty),
        "ended_at": parse_timestamp(frame[cmap.get("end")] if cmap.get("end") else empty),
        "device_id": frame[device] if device else empty,
    }
    columns["started_at__raw"] = frame[cmap.get("start")] if cmap.get("start") else empty
    columns["ended_at__raw"] = frame[cmap.get("end")] if cmap.get("end") else empty
    columns.update(_typed_columns(frame, cmap, form.main_questions(), epoch))
    columns.update({"batch_id": pd.Series(batch_id, index=index, dtype="str"),
                    "source_file": pd.Series(source, index=index, dtype="str"),
                    "source_row": frame[SOURCE_ROW].astype("int64")})
    return columns


def _conform(frame: pd.DataFrame, dtypes: dict[str, str]) -> pd.DataFrame:
    """Every canonical column in its documented dtype (an all-blank column or an empty chunk included)."""
    wrong = {c: t for c, t in dtypes.items() if c in frame and str(frame[c].dtype) != t}
    wrong.update({c: "str" for c in frame.columns if c.endswith(RAW_SUFFIX) and str(frame[c].dtype) != "str"})
    return frame.astype(wrong) if wrong else frame


def _find_repeat_table(tables: list[TableSource], repeat: str, form_id: str) -> TableSource | None:
    for table in tables:
        if table.name == repeat or table.name.endswith(f"-{repeat}") or table.name.endswith(f"_{repeat}"):
            return table
    return None


_MISSING_PARENT = "\x00missing"


def _canonical_repeat(table: TableSource | None, repeat: str, form: FormSpec, flavour: str, parent_col: str,
                      main_key: str | None, parent_lookup: pd.Series, batch_id: str, source: str,
                      chunk_rows: int) -> Iterator[pd.DataFrame]:
    questions = form.repeat_questions(repeat)
    dtypes = frame_dtypes(form, repeat)
    if table is None:
        yield _conform(pd.DataFrame({c: pd.Series(dtype=t) for c, t in dtypes.items()}), dtypes)
        return
    cmap = ColumnMap.of(table.columns, flavour)
    where = f"{one_line(source, 120)}:{one_line(table.name)}"
    _check_required_columns(form, cmap, questions, where)
    if parent_col not in table.columns or main_key is None:
        raise UserError(f"{where}: repeat rows cannot be joined to their submissions ({parent_col} or the main key is missing)")
    seen = pd.Series(dtype="int64")  # repeat rows per parent in earlier chunks
    for frame in table.chunks(chunk_rows):
        parent_key = frame[parent_col].astype("str").fillna(_MISSING_PARENT)
        before = parent_key.map(seen).fillna(0).astype("int64")
        counts = parent_key.value_counts()
        seen = seen.add(counts, fill_value=0).astype("int64")
        columns: dict[str, pd.Series] = {
            "submission_id": frame[parent_col].astype("str").map(parent_lookup).astype("str"),
            "repeat_index": (frame.groupby(parent_key, sort=False).cumcount() + 1 + before).astype("int64"),
        }
        columns.update(_typed_columns(frame, cmap, questions, table.date_epoch))
        columns.update({"batch_id": pd.Series(batch_id, index=frame.index, dtype="str"),
                        "source_file": pd.Series(f"{source}:{table.name}", index=frame.index, dtype="str"),
                        "source_row": frame[SOURCE_ROW].astype("int64")})
        yield _conform(pd.DataFrame(columns), dtypes)


def stored_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop the validation-only ``__raw`` columns."""
    return frame[[c for c in frame.columns if not c.endswith(RAW_SUFFIX)]]


def all_form_ids() -> tuple[str, ...]:
    return FORM_IDS
