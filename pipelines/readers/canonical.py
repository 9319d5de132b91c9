"""Turn an export (either flavour) into the canonical, typed tables of its form.

One canonical table per form (and per repeat group), the same whichever app produced the file:
typed columns named after the questions, the geopoint as ``latitude``/``longitude``/
``altitude_m``/``gps_accuracy_m``, a geotrace as WKT, timestamps in UTC, and lineage
(``batch_id``, ``source_file``, ``source_row``). Personal data is dropped here.

For validation, every typed question also keeps its text as ``<question>__raw``: a blank raw value
is a missing answer, a raw value that did not parse is a bad value. These columns are never stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from pipelines.errors import UserError
from pipelines.forms import FORM_IDS, PERSONAL_QUESTIONS, FormSpec, Question, load_form
from pipelines.readers.files import SOURCE_ROW, Table, read_tables
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

def parse_integer(text: pd.Series) -> pd.Series:
    number = pd.to_numeric(text, errors="coerce")
    number = number.where(np.isfinite(number) & (number % 1 == 0))
    return number.astype("Int64")


def parse_decimal(text: pd.Series) -> pd.Series:
    number = pd.to_numeric(text, errors="coerce").astype("float64")
    return number.where(np.isfinite(number))


def parse_date(text: pd.Series) -> pd.Series:
    """ISO ``YYYY-MM-DD`` (an XLSX cell may add a midnight time); anything else is missing."""
    day = text.str.extract(r"^(\d{4}-\d{2}-\d{2})(?:[ T]00:00(?::00(?:\.0+)?)?)?$", expand=False)
    return pd.to_datetime(day, format="%Y-%m-%d", errors="coerce").astype("datetime64[s]")


def parse_timestamp(text: pd.Series) -> pd.Series:
    """ISO 8601 with or without offset; no offset means UTC (Kobo ``_submission_time``)."""
    return pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce").astype("datetime64[us, UTC]")


def parse_yes_no(text: pd.Series) -> pd.Series:
    mapping = {"yes": True, "no": False, "true": True, "false": False, "1": True, "0": False}
    return text.str.lower().map(mapping).astype("boolean")


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


def _geopoint(frame: pd.DataFrame, cmap: ColumnMap, question: Question) -> dict[str, pd.Series]:
    out_names = geopoint_columns(question)
    parts: dict[str, pd.Series] = {}
    split_cols = {p: cmap.get(f"{question.name}-{p}") for p in GEOPOINT_PARTS}
    composite = cmap.get(question.name)
    index = frame.index
    if split_cols["Latitude"] and split_cols["Longitude"]:
        raw = {p: frame[c] if c else pd.Series(pd.NA, index=index, dtype="str") for p, c in split_cols.items()}
    elif composite:
        pieces = frame[composite].str.split(r"\s+", expand=True, regex=True).reindex(columns=range(4))
        raw = {p: pieces[i] for i, p in enumerate(GEOPOINT_PARTS)}
    else:
        raw = {p: pd.Series(pd.NA, index=index, dtype="str") for p in GEOPOINT_PARTS}
    for (part, text), name in zip(raw.items(), out_names):
        parts[name] = parse_decimal(text.astype("str"))
    present = raw["Latitude"].notna() | raw["Longitude"].notna()
    parts[f"{question.name}{RAW_SUFFIX}"] = raw["Latitude"].astype("str").where(present)
    return parts


def _typed_columns(frame: pd.DataFrame, cmap: ColumnMap, questions: list[Question]) -> dict[str, pd.Series]:
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
            out[question.name] = parse_date(text)
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
    matches = [form_id for form_id, signature in FORM_SIGNATURES.items() if signature <= leaves]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:  # a usage export also carries stove_serial; the larger signature is more specific
        return max(matches, key=lambda f: len(FORM_SIGNATURES[f]))
    expected = "; ".join(f"{f}: {', '.join(sorted(s))}" for f, s in FORM_SIGNATURES.items())
    raise UserError(f"{source}: unknown form — the header has none of the question sets of the five forms ({expected})")


def _split_tables(tables: list[Table], source: str) -> tuple[Table, list[Table], str]:
    mains = [t for t in tables if not is_repeat_table(list(t.frame.columns))]
    repeats = [t for t in tables if is_repeat_table(list(t.frame.columns))]
    if not mains:
        raise UserError(f"{source}: no main table found (every table carries PARENT_KEY or _parent_index)")
    flavoured = [(t, detect_flavour(list(t.frame.columns))) for t in mains]
    flavoured = [(t, f) for t, f in flavoured if f]
    if not flavoured:
        raise UserError(f"{source}: not a Kobo or ODK Central export — expected the columns _uuid and "
                        "_submission_time (Kobo) or KEY and SubmissionDate (ODK Central)")
    if len(flavoured) > 1:
        names = ", ".join(t.name for t, _ in flavoured)
        raise UserError(f"{source}: holds several main tables ({names}); upload one form per file")
    main, flavour = flavoured[0]
    return main, repeats, flavour


def sniff(path: Path) -> tuple[str, str]:
    """(form_id, flavour) of an export, from its headers; `UserError` when not recognisable."""
    tables = read_tables(path)
    main, _, flavour = _split_tables(tables, path.name)
    cmap = ColumnMap.of(list(main.frame.columns), flavour)
    return detect_form(set(cmap.columns), path.name), flavour


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
    source = source_name or path.name
    tables = read_tables(path)
    main, repeat_tables, flavour = _split_tables(tables, source)
    cmap = ColumnMap.of(list(main.frame.columns), flavour)
    form = load_form(detect_form(set(cmap.columns), source))
    id_column = cmap.submission_id_column()
    if id_column is None:
        raise UserError(f"{source}: no submission id column (_uuid / meta/instanceID for Kobo, KEY for ODK Central)")
    _check_required_columns(form, cmap, form.main_questions(), source)

    frame = main.frame
    index = frame.index
    empty = pd.Series(pd.NA, index=index, dtype="str")
    columns: dict[str, pd.Series] = {
        "submission_id": _normalise_submission_id(frame[id_column]),
        "submitted_at": parse_timestamp(frame[cmap.submitted_at_column()] if cmap.submitted_at_column() else empty),
        "started_at": parse_timestamp(frame[cmap.get("start")] if cmap.get("start") else empty),
        "ended_at": parse_timestamp(frame[cmap.get("end")] if cmap.get("end") else empty),
        "device_id": frame[cmap.get("deviceid") or cmap.get("DeviceID")] if (cmap.get("deviceid") or cmap.get("DeviceID")) else empty,
    }
    columns["started_at__raw"] = frame[cmap.get("start")] if cmap.get("start") else empty
    columns["ended_at__raw"] = frame[cmap.get("end")] if cmap.get("end") else empty
    columns.update(_typed_columns(frame, cmap, form.main_questions()))
    columns.update({"batch_id": pd.Series(batch_id, index=index, dtype="str"),
                    "source_file": pd.Series(source, index=index, dtype="str"),
                    "source_row": frame[SOURCE_ROW].astype("int64")})
    batch = CanonicalBatch(form, flavour, source, {None: pd.DataFrame(columns)})

    parent_col, main_key_col = cmap.parent_key_columns()
    main_key = cmap.get(main_key_col) if flavour == "kobo" else cmap.get("KEY")
    for repeat in form.repeats:
        table = _find_repeat_table(repeat_tables, repeat, form.form_id)
        schema_frame = _canonical_repeat(table, repeat, form, flavour, parent_col, main_key, frame, columns, batch_id, source)
        batch.frames[repeat] = schema_frame
    return batch


def _find_repeat_table(tables: list[Table], repeat: str, form_id: str) -> Table | None:
    for table in tables:
        if table.name == repeat or table.name.endswith(f"-{repeat}") or table.name.endswith(f"_{repeat}"):
            return table
    return None


def _canonical_repeat(table: Table | None, repeat: str, form: FormSpec, flavour: str, parent_col: str,
                      main_key: str | None, main_frame: pd.DataFrame, main_columns: dict[str, pd.Series],
                      batch_id: str, source: str) -> pd.DataFrame:
    questions = form.repeat_questions(repeat)
    if table is None:
        schema = canonical_schema(form, repeat)
        return pd.DataFrame({c: pd.Series(dtype="object") for c in schema})
    frame = table.frame
    cmap = ColumnMap.of(list(frame.columns), flavour)
    where = f"{source}:{table.name}"
    _check_required_columns(form, cmap, questions, where)
    if parent_col not in frame.columns or main_key is None:
        raise UserError(f"{where}: repeat rows cannot be joined to their submissions ({parent_col} or the main key is missing)")
    parent_lookup = pd.Series(main_columns["submission_id"].to_numpy(), index=main_frame[main_key].astype("str").to_numpy())
    parent_lookup = parent_lookup[~parent_lookup.index.duplicated()]
    parent = frame[parent_col].astype("str").map(parent_lookup)
    columns: dict[str, pd.Series] = {
        "submission_id": parent.astype("str"),
        "repeat_index": frame.groupby(parent_col, sort=False).cumcount().astype("int64") + 1,
    }
    columns.update(_typed_columns(frame, cmap, questions))
    columns.update({"batch_id": pd.Series(batch_id, index=frame.index, dtype="str"),
                    "source_file": pd.Series(f"{source}:{table.name}", index=frame.index, dtype="str"),
                    "source_row": frame[SOURCE_ROW].astype("int64")})
    return pd.DataFrame(columns)


def stored_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop the validation-only ``__raw`` columns."""
    return frame[[c for c in frame.columns if not c.endswith(RAW_SUFFIX)]]


def all_form_ids() -> tuple[str, ...]:
    return FORM_IDS
