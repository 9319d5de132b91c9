"""Bad files at the reader: each is read right, or refused with one line that says what is wrong.

Every file is generated here. "Read right" means the canonical frames have the documented columns
and dtypes; "refused" means a one-line `UserError` naming the file (and the row, where there is one).
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import re
import resource
import struct
import zipfile
import zlib

import pandas as pd
import pytest
from hostile.builders import (assert_canonical, cache_formula_values, column_letter, export_rows, frame_of, kobo_csv,
                              user_error, write_xlsx, zip_bomb)
from support import export_frame, stove, visit, write_export

from pipelines.errors import UserError
from pipelines.readers import files
from pipelines.readers.canonical import parse_coordinate, read_export, sniff

# ----------------------------------------------------------------------------- empty and almost empty


@pytest.mark.parametrize("content", [b"", b"   \r\n\n\t\n", codecs.BOM_UTF8, codecs.BOM_UTF16_LE])
def test_an_empty_csv_is_refused(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    user_error(path, "empty")


def test_an_empty_workbook_and_an_empty_zip_are_refused(tmp_path):
    user_error(write_xlsx(tmp_path / "empty.xlsx", {"Sheet1": []}), "no data")
    empty_zip = tmp_path / "empty.zip"
    zipfile.ZipFile(empty_zip, "w").close()
    user_error(empty_zip, "no CSV")
    zero = tmp_path / "zero.xlsx"
    zero.write_bytes(b"")
    user_error(zero, "cannot be read as XLSX")


def test_header_only_reads_as_no_rows_with_every_column_typed(tmp_path):
    header = kobo_csv("stove_distribution", [stove(1)]).splitlines()[0]
    path = tmp_path / "header_only.csv"
    path.write_text(header)  # not even a newline
    batch = read_export(path, "b")
    assert batch.main.empty
    assert_canonical(batch)


# ----------------------------------------------------------------------------- delimiters


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_each_delimiter_excel_or_kobo_writes_is_sniffed(tmp_path, sep):
    path = tmp_path / "d.csv"
    path.write_text(kobo_csv("cookstove_usage", [visit(1), visit(2)], sep=sep))
    main = frame_of(path)
    assert list(main["stove_serial"]) == ["SN0001", "SN0002"]
    assert list(main["household_size"]) == [5, 5]


def test_rows_with_another_delimiter_than_the_header_name_the_row(tmp_path):
    text = kobo_csv("cookstove_usage", [visit(1), visit(2)])
    header, body = text.split("\n", 1)
    path = tmp_path / "mixed_delimiters.csv"
    path.write_text(header.replace(",", ";") + "\n" + body)
    user_error(path, "row 2", "delimiter")


def test_a_delimiter_that_is_not_read_says_so(tmp_path):
    path = tmp_path / "hash.csv"
    path.write_text(kobo_csv("cookstove_usage", [visit(1)]).replace(",", "#"))
    user_error(path, "single column", ", ; tab or |")


def test_a_delimiter_inside_an_unquoted_value_names_the_row(tmp_path):
    lines = kobo_csv("stove_distribution", [stove(1), stove(2), stove(3)]).splitlines()
    lines[2] = lines[2].replace("H2", "H2,extra")
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join(lines) + "\n")
    user_error(path, "row 3 has", "columns but the header has")


# ----------------------------------------------------------------------------- encodings


@pytest.mark.parametrize("encoding,bom", [
    ("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE),
    ("utf-16-le", b""), ("utf-16-be", b""), ("utf-32-le", codecs.BOM_UTF32_LE), ("cp1252", b""),
])
def test_encodings_excel_and_windows_write_are_decoded(tmp_path, encoding, bom):
    text = kobo_csv("stove_distribution", [stove(1, household_id="Gaon-é", runner_id="Zoë’s team")])
    path = tmp_path / f"{encoding}.csv"
    path.write_bytes(bom + text.replace("\n", "\r\n").encode(encoding))
    batch = read_export(path, "b")
    assert batch.main["household_id"].iloc[0] == "Gaon-é"
    assert batch.main["runner_id"].iloc[0] == "Zoë’s team"
    assert batch.main["latitude"].iloc[0] == pytest.approx(23.1001)
    assert_canonical(batch)


def test_bytes_windows_1252_leaves_undefined_are_kept_as_latin_1(tmp_path):
    text = kobo_csv("stove_distribution", [stove(1, household_id="H\x81x-é")])
    path = tmp_path / "undefined.csv"
    path.write_bytes(text.encode("latin-1"))
    assert frame_of(path)["household_id"].iloc[0] == "H\x81x-é"


def test_utf16_with_a_bom_but_broken_bytes_is_refused(tmp_path):
    path = tmp_path / "broken16.csv"
    path.write_bytes(codecs.BOM_UTF16_LE + kobo_csv("stove_distribution", [stove(1)]).encode("utf-16-le") + b"\x00\xd8x")
    user_error(path, "not valid UTF-16")


# ----------------------------------------------------------------------------- Excel dates, numbers, formulas


def test_xlsx_date_cells_and_serial_numbers_are_dates(tmp_path):
    rows = export_rows("stove_distribution", [stove(1), stove(2), stove(3), stove(4), stove(5)])
    column = rows[0].index("stove/commissioned_on")
    rows[1][column] = dt.datetime(2024, 3, 1)      # a date cell
    rows[2][column] = 45352                         # a number: Excel serial of 2024-03-01
    rows[3][column] = 45352.0
    rows[4][column] = dt.datetime(2024, 3, 1, 14, 30)  # a date with a time is no date answer
    rows[5][column] = 2024                          # a year is not a serial date
    path = write_xlsx(tmp_path / "dates.xlsx", {"stove_distribution": rows})
    batch = read_export(path, "b")
    day = pd.Timestamp("2024-03-01")
    assert list(batch.main["commissioned_on"].iloc[:3]) == [day, day, day]
    assert batch.main["commissioned_on"].iloc[3:].isna().all()
    assert list(batch.main["commissioned_on__raw"].iloc[3:]) == ["2024-03-01T14:30:00", "2024"]
    assert_canonical(batch)


def test_serials_of_a_1904_workbook_use_its_epoch(tmp_path):
    rows = export_rows("stove_distribution", [stove(1)])
    rows[1][rows[0].index("stove/commissioned_on")] = 43890  # 1904 system: 2024-03-01
    path = write_xlsx(tmp_path / "mac.xlsx", {"stove_distribution": rows}, epoch_1904=True)
    assert frame_of(path)["commissioned_on"].iloc[0] == pd.Timestamp("2024-03-01")


def test_csv_resaved_by_excel_with_serial_dates(tmp_path):
    path = write_export(tmp_path / "serial.csv", "stove_distribution",
                        [stove(1, commissioned_on="45352"), stove(2, commissioned_on="45352.0"),
                         stove(3, commissioned_on="01/03/2024")])
    main = frame_of(path)
    assert list(main["commissioned_on"].iloc[:2]) == [pd.Timestamp("2024-03-01")] * 2
    assert pd.isna(main["commissioned_on"].iloc[2])  # day/month order unknown: a bad value, not a guess


def test_formulas_use_cached_values_and_a_formula_without_one_is_a_bad_value(tmp_path):
    rows = export_rows("cookstove_usage", [visit(1), visit(2)])
    header = rows[0]
    size = header.index("household/household_size")
    days = header.index("visit/days_used_last_7")
    rows[1][size] = "=2+3"                                  # cached 5 below
    rows[2][size] = '=WEBSERVICE("http://example.invalid")'  # never evaluated, no cached value
    rows[1][days] = "=1/0"                                  # cached as the error #DIV/0!
    path = write_xlsx(tmp_path / "formulas.xlsx", {"cookstove_usage": rows})
    cache_formula_values(path, {f"{column_letter(header, 'household/household_size')}2": "5",
                                f"{column_letter(header, 'visit/days_used_last_7')}2": "#DIV/0!"})
    batch = read_export(path, "b")
    main = batch.main
    assert main["household_size"].iloc[0] == 5
    assert pd.isna(main["household_size"].iloc[1])
    assert main["household_size__raw"].iloc[1] == '=WEBSERVICE("http://example.invalid")'  # -> bad_value
    assert pd.isna(main["days_used_last_7"].iloc[0]) and main["days_used_last_7__raw"].iloc[0] == "#DIV/0!"
    assert_canonical(batch)


def test_a_cell_beyond_the_header_and_a_sheet_claiming_huge_dimensions(tmp_path):
    rows = export_rows("stove_distribution", [stove(1)])
    rows[1] = rows[1] + [None] * 50 + ["stray note"]
    path = write_xlsx(tmp_path / "wide.xlsx", {"stove_distribution": rows})
    with zipfile.ZipFile(path) as archive:
        parts = {i.filename: archive.read(i) for i in archive.infolist()}
    name = "xl/worksheets/sheet1.xml"
    parts[name] = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1048576"', parts[name], count=1)
    with zipfile.ZipFile(path, "w") as archive:
        for part, data in parts.items():
            archive.writestr(part, data)
    main = frame_of(path)
    assert len(main) == 1 and main["stove_serial"].iloc[0] == "SN0001"


# ----------------------------------------------------------------------------- truncated


def test_a_truncated_last_line_is_refused_as_cut_off(tmp_path):
    text = kobo_csv("stove_distribution", [stove(i) for i in range(1, 6)])
    path = tmp_path / "cut.csv"
    path.write_text(text[: text.rindex("\n", 0, len(text) - 1) + 40])
    user_error(path, "last row (row 6)", "cut off")


def test_a_file_cut_inside_a_quoted_value_is_refused(tmp_path):
    text = kobo_csv("stove_distribution", [stove(1), stove(2, household_id='H2, "north" lane')])
    path = tmp_path / "cut_quote.csv"
    path.write_text(text[: text.index("north") + 2])
    user_error(path, "row 3")


def test_a_truncated_xlsx_is_refused(tmp_path):
    path = write_export(tmp_path / "cut.xlsx", "stove_distribution", [stove(1)])
    path.write_bytes(path.read_bytes()[:-200])
    user_error(path, "cannot be read as XLSX")


# ----------------------------------------------------------------------------- headers


def test_duplicate_column_names_are_refused(tmp_path):
    text = kobo_csv("stove_distribution", [stove(1)])
    header, body = text.split("\n", 1)
    path = tmp_path / "dup.csv"
    path.write_text(header.replace("runner_id", "household/household_id", 1) + "\n" + body)
    user_error(path, "duplicate column", "household/household_id")
    rows = export_rows("stove_distribution", [stove(1)])
    rows[0][1] = rows[0][2]
    user_error(write_xlsx(tmp_path / "dup.xlsx", {"s": rows}), "duplicate column")


def test_blank_column_names_are_kept_apart(tmp_path):
    text = kobo_csv("stove_distribution", [stove(1)])
    path = tmp_path / "blanks.csv"
    path.write_text(text.replace("\n", ",,\n"))
    assert frame_of(path)["stove_serial"].iloc[0] == "SN0001"


def test_another_forms_header_is_recognised_as_that_form(tmp_path):
    rows = [{"id": "t1", "project_id": "T-TR-1", "runner_id": "R1", "plot_id": "P1", "tree_id": "T1",
             "visit_date": "2025-01-10", "status": "alive", "gbh_cm": "20", "height_m": "3", "photo_tree": "t.jpg"}]
    path = write_export(tmp_path / "stove_distribution.csv", "tree_survival", rows)  # misleading name
    assert sniff(path) == ("tree_survival", "kobo")
    assert read_export(path, "b").form.form_id == "tree_survival"


def test_a_header_mixing_two_forms_is_refused(tmp_path):
    frame = export_frame("stove_distribution", [stove(1)])
    frame["tree/tree_id"] = "T1"
    frame["tree/planted_on"] = "2024-01-01"
    path = tmp_path / "mixed.csv"
    frame.to_csv(path, index=False)
    user_error(path, "mixes forms", "stove_distribution", "tree_planting")


def test_a_header_longer_than_the_limit_is_refused_without_reading_it_all(tmp_path):
    path = tmp_path / "long_header.csv"
    path.write_bytes(b"x" * (files.MAX_HEADER_BYTES * 4))
    user_error(path, "first line is longer")


def test_a_row_longer_than_a_block_is_read(tmp_path):
    long_note = "n" * (files.CSV_BLOCK_BYTES[0] * 2)
    path = write_export(tmp_path / "long_row.csv", "stove_distribution",
                        [stove(1), stove(2, photo_stove=long_note), stove(3)])
    main = frame_of(path)
    assert list(main["submission_id"]) == ["d1", "d2", "d3"] and main["photo_stove"].iloc[1] == long_note


def test_unsupported_file_types_are_named(tmp_path):
    path = tmp_path / "export.json"
    path.write_text("{}")
    user_error(path, "unsupported file type .json")
    fake = tmp_path / "fake.xlsx"
    fake.write_text(kobo_csv("stove_distribution", [stove(1)]))
    user_error(fake, "cannot be read as XLSX")


# ----------------------------------------------------------------------------- zips


@pytest.mark.parametrize("member", ["../stove_distribution.csv", "/etc/stove_distribution.csv",
                                    "..\\..\\stove_distribution.csv", "C:/x/stove_distribution.csv",
                                    "export/../../stove_distribution.csv"])
def test_zip_slip_member_names_are_refused(tmp_path, member):
    path = tmp_path / "slip.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("stove_distribution.csv", kobo_csv("stove_distribution", [stove(1)]))
        archive.writestr(member, kobo_csv("stove_distribution", [stove(2)]))
    user_error(path, "unsafe member name")
    assert not (tmp_path.parent / "stove_distribution.csv").exists()


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path):
    path = tmp_path / "bomb.zip"
    header = kobo_csv("stove_distribution", [stove(1)])
    size = zip_bomb(path, "stove_distribution.csv", header.encode() + b"d2,", zeros_mib=1024)
    assert path.stat().st_size < 2 * 1024**2 and size > 1024**3
    with zipfile.ZipFile(path) as archive:  # a genuine archive: it would inflate to 1 GiB
        with archive.open("stove_distribution.csv") as member:
            assert member.read(len(header)) == header.encode()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    user_error(path, "zip bomb")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # KiB


def test_a_large_honest_member_is_not_taken_for_a_bomb(tmp_path):
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("stove_distribution.csv", kobo_csv("stove_distribution", [stove(i) for i in range(1, 3000)]))
    assert len(frame_of(path)) == 2999


def test_a_zip_that_understates_its_sizes_is_refused(tmp_path):
    """Declared sizes are what zipfile inflates to; a member that claims less fails its CRC."""
    text = kobo_csv("stove_distribution", [stove(i) for i in range(1, 200)]).encode()
    path = tmp_path / "liar.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("stove_distribution.csv", text)
    data = bytearray(path.read_bytes())
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, 300)   # uncompressed size in the local header
    struct.pack_into("<I", data, central + 24, 300)  # ... and in the central directory
    path.write_bytes(bytes(data))
    user_error(path)


@pytest.mark.parametrize("inner", ["inner.zip", "export/more.ZIP", "x.csv.gz"])
def test_nested_archives_are_refused(tmp_path, inner):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("stove_distribution.csv", kobo_csv("stove_distribution", [stove(1)]))
    path = tmp_path / "nested.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(inner, buffer.getvalue())
    user_error(path, "nested archive")


def test_encrypted_and_unsupported_compression_members_are_refused(tmp_path):
    path = tmp_path / "locked.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("stove_distribution.csv", kobo_csv("stove_distribution", [stove(1)]))
    data = bytearray(path.read_bytes())
    data[data.find(b"PK\x03\x04") + 6] |= 1
    data[data.find(b"PK\x01\x02") + 8] |= 1
    path.write_bytes(bytes(data))
    user_error(path, "encrypted")

    odd = tmp_path / "deflate64.zip"
    with zipfile.ZipFile(odd, "w") as archive:
        archive.writestr("stove_distribution.csv", kobo_csv("stove_distribution", [stove(1)]))
    data = bytearray(odd.read_bytes())
    struct.pack_into("<H", data, data.find(b"PK\x03\x04") + 8, 9)   # method 9: Deflate64
    struct.pack_into("<H", data, data.find(b"PK\x01\x02") + 10, 9)
    odd.write_bytes(bytes(data))
    user_error(odd, "cannot be read")


def test_a_corrupt_member_is_refused(tmp_path):
    path = write_export(tmp_path / "odk.zip", "stove_distribution", [stove(i) for i in range(1, 50)], "odk")
    data = bytearray(path.read_bytes())
    start = data.find(b"PK\x03\x04") + 30 + len("stove_distribution.csv")
    for i in range(start + 10, start + 40):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    user_error(path)


def test_media_and_mac_metadata_in_an_odk_zip_are_ignored(tmp_path):
    path = write_export(tmp_path / "odk.zip", "stove_distribution", [stove(1)], "odk")
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("media/dist_1.jpg", zlib.compress(b"jpeg"))
        archive.writestr("__MACOSX/._stove_distribution.csv", b"\x00\x05\x16\x07")
        archive.writestr(".DS_Store", b"\x00")
    assert list(frame_of(path)["submission_id"]) == ["d1"]


# ----------------------------------------------------------------------------- coordinates


@pytest.mark.parametrize("text,axis,expected", [
    ("23.175", "latitude", 23.175),
    ("23°10'30\"N", "latitude", 23.175),
    ("23° 10' 30\" N", "latitude", 23.175),
    ("N 23°10'30\"", "latitude", 23.175),
    ("23°10.5'N", "latitude", 23.175),
    ("23.175°", "latitude", 23.175),
    ("23°10'30\"S", "latitude", -23.175),
    ("77°5'24\"E", "longitude", 77.09),
    ("77°5′24″ W", "longitude", -77.09),
    ("-77°5'24\"", "longitude", -77.09),
    ("23°10'30\"E", "latitude", None),     # a longitude's letter on a latitude: swapped
    ("77°5'24\"N", "longitude", None),
    ("23 10 30", "latitude", None),         # no degree sign, no letter: ambiguous
    ("23°70'00\"N", "latitude", None),      # 70 minutes
    ("23°10'75\"N", "latitude", None),      # 75 seconds
    ("95°00'00\"N", "latitude", None),      # beyond the pole
    ("-23°10'30\"S", "latitude", None),     # sign and letter
    ("N23°10'30\"S", "latitude", None),     # two letters
    ("23.5°10'N", "latitude", None),        # decimal degrees and minutes
    ("twenty three", "latitude", None),
])
def test_coordinates_in_degrees_minutes_seconds(text, axis, expected):
    value = parse_coordinate(pd.Series([text], dtype="str"), axis).iloc[0]
    if expected is None:
        assert pd.isna(value)
    else:
        assert value == pytest.approx(expected)


def test_dms_in_the_kobo_composite_location_column(tmp_path):
    frame = export_frame("stove_distribution", [stove(1), stove(2)])
    frame = frame[[c for c in frame.columns if "location_" not in c]]  # only the composite column left
    frame.loc[0, "household/location"] = "23°6'0\"N 77°6'0\"E 400 5"
    frame.loc[1, "household/location"] = "23° 6' 0\" N 77° 6' 0\" E 400 5"
    path = tmp_path / "dms.csv"
    frame.to_csv(path, index=False)
    main = frame_of(path)
    assert list(main["latitude"]) == [pytest.approx(23.1)] * 2
    assert list(main["longitude"]) == [pytest.approx(77.1)] * 2
    assert list(main["gps_accuracy_m"]) == [5.0, 5.0]


# ----------------------------------------------------------------------------- names and text that look like code


def test_sql_and_quotes_in_values_stay_text(tmp_path):
    evil = "X'; DROP TABLE batches; --"
    rows = [stove(1, project_id=evil, runner_id='R"1', household_id="H1\\", stove_serial="SN'1")]
    main = frame_of(write_export(tmp_path / "evil.csv", "stove_distribution", rows))
    assert main["project_id"].iloc[0] == evil
    assert list(main[["runner_id", "household_id", "stove_serial"]].iloc[0]) == ['R"1', "H1\\", "SN'1"]


def test_user_errors_from_every_reader_are_one_line(tmp_path):
    """A hostile file name, member name or sheet title does not break the one-line message."""
    for content in (b"", b"_uuid,_submission_time\n1,2\n"):
        path = tmp_path / "bad\nname\r.csv"
        path.write_bytes(content)
        with pytest.raises(UserError) as caught:
            read_export(path, "b")
        assert len(str(caught.value).splitlines()) == 1 and "bad\\nname" in str(caught.value)
    member = tmp_path / "m.zip"
    with zipfile.ZipFile(member, "w") as archive:
        archive.writestr("../\n\x00evil.csv", b"a,b\n")
    message = user_error(member, "unsafe member")
    assert "\x00" not in message
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("sub\nmember.csv", b"")
    user_error(inner, "empty")
