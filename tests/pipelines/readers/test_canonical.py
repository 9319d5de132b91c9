"""Both export flavours, in every file type, read into the same canonical table."""

import codecs

import pandas as pd
import pytest
from support import export_frame, stove, visit, write_export

from pipelines.errors import UserError
from pipelines.readers.canonical import parse_geotrace, read_export, sniff, stored_columns

COMPARED = ["submission_id", "project_id", "runner_id", "household_id", "stove_serial", "stove_model",
            "commissioned_on", "consent_carbon_rights", "latitude", "longitude", "gps_accuracy_m", "started_at",
            "ended_at", "photo_stove"]


@pytest.mark.parametrize("name,flavour", [("d.csv", "kobo"), ("d.xlsx", "kobo"), ("d.csv", "odk"), ("d.zip", "odk")])
def test_flavours_and_file_types_read_alike(tmp_path, name, flavour):
    rows = [stove(1), stove(2, stove_model="M2", consent_carbon_rights="no")]
    path = write_export(tmp_path / flavour / name, "stove_distribution", rows, flavour)
    batch = read_export(path, "b1")
    assert batch.form.form_id == "stove_distribution"
    assert batch.flavour == flavour
    main = batch.main
    assert list(main["submission_id"]) == ["d1", "d2"]  # "uuid:" prefix removed
    assert list(main["stove_model"]) == ["M1", "M2"]
    assert list(main["consent_carbon_rights"]) == [True, False]
    assert main["commissioned_on"].iloc[0] == pd.Timestamp("2024-03-01")
    assert main["latitude"].iloc[1] == pytest.approx(23.1002)
    assert main["gps_accuracy_m"].iloc[0] == 5
    # +05:30 local time becomes UTC
    assert main["started_at"].iloc[0] == pd.Timestamp("2024-03-01T02:45:00Z")
    assert list(main["source_row"]) == [2, 3]
    assert "respondent_name" not in main and "phone" not in main


def test_kobo_and_odk_give_identical_rows(tmp_path):
    rows = [stove(i) for i in range(1, 6)]
    kobo = read_export(write_export(tmp_path / "k.csv", "stove_distribution", rows, "kobo"), "b").main
    odk = read_export(write_export(tmp_path / "o.csv", "stove_distribution", rows, "odk"), "b").main
    pd.testing.assert_frame_equal(kobo[COMPARED], odk[COMPARED])


def test_group_prefixes_may_be_stripped_and_delimiter_is_sniffed(tmp_path):
    frame = export_frame("cookstove_usage", [visit(1)], "kobo")
    frame.columns = [c.split("/")[-1] if not c.startswith("_") else c for c in frame.columns]
    path = tmp_path / "usage.csv"
    frame.to_csv(path, index=False, sep=";")
    main = read_export(path, "b").main
    assert main["stove_serial"].iloc[0] == "SN0001"
    assert main["household_size"].iloc[0] == 5
    assert bool(main["stove_found"].iloc[0]) is True


def test_utf8_bom_and_windows_1252_are_decoded(tmp_path):
    frame = export_frame("stove_distribution", [stove(1, household_id="Gaon-é")], "kobo")
    bom = tmp_path / "bom.csv"
    bom.write_bytes(codecs.BOM_UTF8 + frame.to_csv(index=False).encode("utf-8"))
    cp = tmp_path / "cp.csv"
    cp.write_bytes(frame.to_csv(index=False).encode("cp1252"))
    assert read_export(bom, "b").main["household_id"].iloc[0] == "Gaon-é"
    assert read_export(cp, "b").main["household_id"].iloc[0] == "Gaon-é"


def test_grouped_geopoint_parts_in_either_kobo_layout(tmp_path):
    frame = export_frame("stove_distribution", [stove(1, acc=7)], "kobo")
    frame = frame.drop(columns=["household/location"])
    frame.columns = [c.replace("_household/location_", "household/_location_") for c in frame.columns]
    path = tmp_path / "newer.csv"
    frame.to_csv(path, index=False)
    main = read_export(path, "b").main
    assert main["latitude"].iloc[0] == pytest.approx(23.1001) and main["gps_accuracy_m"].iloc[0] == 7


def test_geopoint_from_the_composite_column_alone(tmp_path):
    frame = export_frame("stove_distribution", [stove(1)], "kobo")
    frame = frame[[c for c in frame.columns if "location_" not in c]]
    path = tmp_path / "composite.csv"
    frame.to_csv(path, index=False)
    main = read_export(path, "b").main
    assert main["latitude"].iloc[0] == pytest.approx(23.1001)
    assert main["longitude"].iloc[0] == pytest.approx(77.1)


def test_unparseable_values_stay_visible_as_raw_text(tmp_path):
    path = write_export(tmp_path / "u.csv", "cookstove_usage",
                        [visit(1, household_size="five", visit_date="10/03/2025", stove_found="maybe")])
    main = read_export(path, "b").main
    assert pd.isna(main["household_size"].iloc[0]) and main["household_size__raw"].iloc[0] == "five"
    assert pd.isna(main["visit_date"].iloc[0]) and main["visit_date__raw"].iloc[0] == "10/03/2025"
    assert pd.isna(main["stove_found"].iloc[0]) and main["stove_found__raw"].iloc[0] == "maybe"
    assert not any(c.endswith("__raw") for c in stored_columns(main).columns)


def test_geotrace_becomes_a_lon_lat_linestring():
    text = pd.Series(["20.0 76.5 400 5;20.001 76.501 400 5", "20.0 76.5 0 0", None, "bad data"])
    wkt = parse_geotrace(text)
    assert wkt.iloc[0] == "LINESTRING (76.5 20, 76.501 20.001)"
    assert wkt.iloc[1:].isna().all()  # one point is no line; blank and garbage are missing


@pytest.mark.parametrize("content,message", [
    (b"", "empty"),
    (b"a,b,c\n1,2,3\n", "not a Kobo or ODK Central export"),
    (b"_uuid,_submission_time,foo\n1,2,3\n", "unknown form"),
    (b"_uuid,_uuid,x\n1,2,3\n", "duplicate column"),
])
def test_unusable_files_raise_one_line_user_errors(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(UserError, match=message) as err:
        read_export(path, "b")
    assert "\n" not in str(err.value)
    assert "bad.csv" in str(err.value)


def test_required_columns_missing_is_named(tmp_path):
    frame = export_frame("stove_distribution", [stove(1)], "kobo").drop(columns=["consent_carbon_rights", "photo_stove"])
    path = tmp_path / "missing.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(UserError, match="required column.*consent_carbon_rights, photo_stove"):
        read_export(path, "b")


def test_zip_slip_member_is_refused(tmp_path):
    import zipfile

    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("../../etc/stove_distribution.csv", "a,b\n")
    with pytest.raises(UserError, match="unsafe member"):
        read_export(path, "b")


def test_sniff_recognises_form_and_flavour(tmp_path):
    assert sniff(write_export(tmp_path / "u.csv", "cookstove_usage", [visit(1)], "odk")) == ("cookstove_usage", "odk")
    assert sniff(write_export(tmp_path / "d.xlsx", "stove_distribution", [stove(1)], "kobo")) == ("stove_distribution", "kobo")
