"""Property-based fuzzing of the readers: `read_export` raises `UserError` or returns canonical frames.

Three generators, from blind to structured: arbitrary bytes under each file type; CSV-ish text
under a real header (any delimiter, quoting, line breaks, encoding); and well-formed exports whose
typed cells hold arbitrary text. Whatever comes in, the result is either a one-line `UserError` or
frames with exactly the documented columns and dtypes — never another exception — and, for the
well-formed exports, no non-blank answer is lost (its text survives in the ``__raw`` column).
"""

from __future__ import annotations

import codecs
import os
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hostile.builders import assert_canonical
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from support import export_frame, stove

from pipelines.errors import UserError
from pipelines.forms import FORM_IDS, load_form
from pipelines.readers.canonical import read_export

DEEP = int(os.environ.get("MRV_FUZZ_EXAMPLES", "0"))
"""Set MRV_FUZZ_EXAMPLES (e.g. 5000) for a long randomised run; by default the examples are fixed and few."""
FUZZ = settings(max_examples=DEEP or 120, deadline=None, database=None, derandomize=not DEEP,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TYPED = ("integer", "decimal", "date", "yes_no", "geotrace")


@pytest.fixture(scope="module")
def scratch():
    with tempfile.TemporaryDirectory(prefix="mrv-fuzz-") as folder:
        yield Path(folder)


def _read(path: Path):
    """read_export's answer: a checked batch, or None after a one-line UserError."""
    try:
        batch = read_export(path, "fuzz")
    except UserError as exc:
        assert "\n" not in str(exc), str(exc)
        return None
    assert_canonical(batch)
    return batch


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _header(form: str, flavour: str) -> list[str]:
    return list(export_frame(form, [stove(1)], flavour).columns)


# ----------------------------------------------------------------------------- 1. arbitrary bytes


@FUZZ
@given(data=st.binary(max_size=3000), suffix=st.sampled_from([".csv", ".xlsx", ".zip", ".xlsm"]))
def test_arbitrary_bytes(scratch, data, suffix):
    path = scratch / f"bytes{suffix}"
    path.write_bytes(data)
    _read(path)


@FUZZ
@given(form=st.sampled_from(FORM_IDS), flavour=st.sampled_from(["kobo", "odk"]), tail=st.binary(max_size=2000))
def test_a_real_header_followed_by_arbitrary_bytes(scratch, form, flavour, tail):
    path = scratch / "tail.csv"
    path.write_bytes(",".join(_header(form, flavour)).encode() + b"\n" + tail)
    _read(path)


# ----------------------------------------------------------------------------- 2. CSV-ish text

CELL = st.text(alphabet=st.sampled_from(list("ab1.-:; ,\t|\"'\r\n°NEé€\x00\ufeff ")), max_size=12)


@FUZZ
@given(form=st.sampled_from(FORM_IDS), flavour=st.sampled_from(["kobo", "odk"]),
       sep=st.sampled_from([",", ";", "\t", "|"]), newline=st.sampled_from(["\n", "\r\n", "\r"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252"]),
       rows=st.lists(st.lists(CELL, max_size=40), max_size=6))
def test_csv_ish_text_under_the_right_header(scratch, form, flavour, sep, newline, encoding, rows):
    header = _header(form, flavour)
    text = newline.join([sep.join(header)] + [sep.join(row) for row in rows])
    path = scratch / "text.csv"
    path.write_bytes(text.encode(encoding, errors="replace"))
    _read(path)


# ----------------------------------------------------------------------------- 3. arbitrary typed cells

ANSWER = st.one_of(
    st.text(max_size=20),
    st.from_regex(r"-?\d{1,25}(\.\d{0,6})?([eE][-+]?\d{1,4})?", fullmatch=True),
    st.from_regex(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([+-]\d{2}:?\d{2}|Z)?)?", fullmatch=True),
    st.from_regex(r"-?\d{1,3}°\s?\d{1,2}'\s?\d{1,2}(\.\d+)?\"\s?[NSEWnsew]?", fullmatch=True),
    st.sampled_from(["yes", "no", "YES", "1", "0", "nan", "inf", "-inf", "NaN", "1e309", "99999999999999999999",
                     "45292", "2958466", "0000-00-00", "9999-12-31T23:59:59+14:00", "1 2 3 4;5 6 7 8", ";;", "° ' \""]),
)


def _typed_answers(form: str) -> list[str]:
    return [q.name for q in load_form(form).main_questions() if q.type in TYPED]


@st.composite
def typed_rows(draw):
    form = draw(st.sampled_from(FORM_IDS))
    names = _typed_answers(form) + ["start", "end", "submitted", "lat", "lon", "acc"]
    rows = []
    for i in range(draw(st.integers(1, 4))):
        row = stove(i + 1)
        row.update({name: draw(ANSWER) for name in names})
        rows.append(row)
    return form, draw(st.sampled_from(["kobo", "odk"])), draw(st.sampled_from([".csv", ".xlsx"])), rows


@settings(FUZZ, max_examples=DEEP or 60)
@given(case=typed_rows())
def test_arbitrary_values_in_every_typed_column(scratch, case):
    form, flavour, suffix, rows = case
    frame = export_frame(form, rows, flavour)
    frame = frame.drop(columns=[c for c in frame.columns if "/" in c and c.endswith("location")], errors="ignore")
    path = scratch / f"typed{suffix}"
    if suffix == ".csv":
        frame = frame.map(lambda v: v.replace("\x00", "") if isinstance(v, str) else v)
        frame.to_csv(path, index=False, lineterminator="\r\n")  # pandas' "\n" leaves a lone CR unquoted
    else:
        import openpyxl

        frame = frame.map(lambda v: ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v)
        book = openpyxl.Workbook()
        book.active.append(list(frame.columns))
        for record in frame.itertuples(index=False):
            book.active.append([None if v == "" else v for v in record])
        book.save(path)
    batch = read_export(path, "fuzz")  # a well-formed export: nothing may be refused
    assert_canonical(batch)
    main = batch.main
    assert len(main) == len(rows)
    # Nothing lost: every non-blank typed answer is in its __raw column (whitespace aside).
    columns = {name: next(c for c in frame.columns if c == name or c.endswith(("/" + name, "-" + name)))
               for name in _typed_answers(form)}
    columns.update({"started_at": "start", "ended_at": "end"})
    for name, column in columns.items():
        for sent, raw in zip(frame[column], main[f"{name}__raw"]):
            sent = str(sent)
            if suffix == ".xlsx":  # XML parsers turn a raw CR into LF (Excel itself writes _x000D_)
                sent = sent.replace("\r\n", "\n").replace("\r", "\n")
            if sent.strip():
                assert isinstance(raw, str) and raw.strip() == sent.strip(), (name, sent, raw)


@FUZZ
@given(sid=st.text(max_size=30), encoding=st.sampled_from(["utf-8", "utf-16", "cp1252"]))
def test_any_submission_id_survives_any_encoding(scratch, sid, encoding):
    try:
        data = export_frame("stove_distribution", [stove(1, id=sid)], "kobo").to_csv(index=False, lineterminator="\r\n").encode(encoding)
    except UnicodeEncodeError:
        return
    path = scratch / "ids.csv"
    path.write_bytes(data)
    got = read_export(path, "fuzz").main["submission_id"].iloc[0]
    if encoding == "cp1252" and _is_utf8(data):
        return  # Windows-1252 bytes that also form valid UTF-8 are read as UTF-8: no reader can tell them apart
    if sid.strip() and not sid.strip().startswith("uuid:"):
        assert isinstance(got, str) and got.strip() == sid.strip(), (sid, got)


def test_the_bom_alone_in_the_middle_of_a_file_is_text(tmp_path):
    frame = export_frame("stove_distribution", [stove(1, household_id="\ufeffH1")], "kobo")
    path = tmp_path / "bom_inside.csv"
    path.write_bytes(codecs.BOM_UTF8 + frame.to_csv(index=False).encode("utf-8"))
    assert _read(path) is not None
    assert pd.notna(read_export(path, "b").main["household_id"].iloc[0])
