"""The XLSForms field teams deploy: they convert to XForms and carry the question names of forms.md.

The pipeline reads `required`, `relevant` and `constraint` from these files with a simple parser,
so the conventions of schemas/forms/README.md are checked here too.
"""

import re
from pathlib import Path

import pandas as pd
import pytest
from pyxform.xls2xform import convert

FORMS_DIR = Path(__file__).resolve().parents[2] / "schemas" / "forms"

# contracts/forms.md: question name → XLSForm type.
FORMS = {
    "stove_distribution": {
        "project_id": "text", "runner_id": "text", "household_id": "text", "respondent_name": "text",
        "phone": "text", "stove_serial": "barcode", "stove_model": "select_one stove_model",
        "commissioned_on": "date", "consent_carbon_rights": "select_one yes_no", "location": "geopoint",
        "photo_stove": "image",
    },
    "cookstove_usage": {
        "project_id": "text", "runner_id": "text", "household_id": "text", "stove_serial": "barcode",
        "visit_date": "date", "stove_found": "select_one yes_no", "stove_in_use": "select_one yes_no",
        "days_used_last_7": "integer", "baseline_stove_in_use": "select_one yes_no",
        "main_fuel": "select_one main_fuel", "household_size": "integer",
        "stove_condition": "select_one stove_condition", "location": "geopoint", "photo_stove": "image",
    },
    "tree_planting": {
        "project_id": "text", "runner_id": "text", "plot_id": "text", "tree_id": "text",
        "species_code": "select_one species", "planted_on": "date", "location": "geopoint", "photo_tree": "image",
    },
    "tree_survival": {
        "project_id": "text", "runner_id": "text", "plot_id": "text", "tree_id": "text", "visit_date": "date",
        "status": "select_one status", "gbh_cm": "decimal", "height_m": "decimal", "location": "geopoint",
        "photo_tree": "image",
    },
    "bund_plantation": {
        "project_id": "text", "runner_id": "text", "farmer_id": "text", "plot_id": "text", "bund_id": "text",
        "visit_date": "date", "bund_line": "geotrace", "species_code": "select_one species",
        "saplings_planted": "integer", "saplings_alive": "integer", "location": "geopoint", "photo_bund": "image",
        "m_species_code": "select_one species", "m_gbh_cm": "decimal", "m_height_m": "decimal",
    },
}
CHOICES = {
    "yes_no": ["yes", "no"],
    "main_fuel": ["firewood", "crop_residue", "dung", "charcoal", "lpg", "electricity", "other"],
    "stove_condition": ["good", "needs_repair", "broken"],
    "status": ["alive", "dead", "not_found"],
}
NOT_REQUIRED = {"gbh_cm", "height_m", "m_gbh_cm", "m_height_m"}
RELEVANT = {
    "stove_in_use": "${stove_found} = 'yes'", "days_used_last_7": "${stove_found} = 'yes'",
    "stove_condition": "${stove_found} = 'yes'", "photo_stove@cookstove_usage": "${stove_found} = 'yes'",
    "gbh_cm": "${status} = 'alive'", "height_m": "${status} = 'alive'",
}
RANGES = {
    "days_used_last_7": ". >= 0 and . <= 7", "household_size": ". >= 1 and . <= 30",
    "gbh_cm": ". > 0 and . <= 1000", "height_m": ". > 0 and . <= 60", "m_gbh_cm": ". > 0 and . <= 1000",
    "m_height_m": ". > 0 and . <= 60", "saplings_planted": ". >= 1 and . <= 5000",
    "saplings_alive": ". >= 0 and . <= 5000",
}
SIMPLE_RELEVANT = re.compile(r"^\$\{\w+\} = '[^']*'$")
SIMPLE_RANGE = re.compile(r"^\. >=? -?\d+(\.\d+)? and \. <=? -?\d+(\.\d+)?$")


def sheets(form_id):
    book = pd.read_excel(FORMS_DIR / f"{form_id}.xlsx", sheet_name=None, dtype=str)
    return book["survey"].fillna(""), book["choices"].fillna(""), book["settings"].fillna("")


def questions(survey):
    """name → (type, enclosing groups) from the survey sheet."""
    out, stack = {}, []
    for row in survey.itertuples(index=False):
        if row.type in ("begin_group", "begin_repeat"):
            stack.append(row.name)
        elif row.type in ("end_group", "end_repeat"):
            stack.pop()
        elif row.name:
            out[row.name] = (row.type, tuple(stack))
    return out


def test_every_form_file_is_there():
    assert sorted(p.stem for p in FORMS_DIR.glob("*.xlsx")) == sorted(FORMS)


@pytest.mark.parametrize("form_id", sorted(FORMS))
def test_converts_with_pyxform(form_id):
    warnings = []
    result = convert(FORMS_DIR / f"{form_id}.xlsx", warnings=warnings)
    assert f'<data id="{form_id}"' in result.xform
    assert "<instanceID/>" in result.xform
    assert warnings == []


@pytest.mark.parametrize("form_id", sorted(FORMS))
def test_carries_the_contract_questions(form_id):
    survey, choices, settings = sheets(form_id)
    assert list(survey.columns[:8]) == ["type", "name", "label", "hint", "required", "relevant", "constraint",
                                        "constraint_message"]
    found = questions(survey)
    for name, kind in FORMS[form_id].items():
        assert found[name][0] == kind, name
    for meta in ("start", "end", "deviceid"):
        assert found[meta] == (meta, ())
    assert settings.loc[0, "form_id"] == form_id and settings.loc[0, "version"]
    lists = choices.groupby("list_name")["name"].apply(list)
    for kind, _ in found.values():
        if kind.startswith("select_one "):
            list_name = kind.split()[1]
            assert list_name in lists.index
            if list_name in CHOICES:
                assert lists[list_name] == CHOICES[list_name]


@pytest.mark.parametrize("form_id", sorted(FORMS))
def test_conventions_the_pipeline_parses(form_id):
    survey, _, _ = sheets(form_id)
    rows = survey.loc[survey["name"].ne("") & ~survey["type"].str.startswith(("begin_", "end_"))]
    assert rows["required"].isin(["yes", ""]).all()
    assert rows.loc[rows["relevant"] != "", "relevant"].str.match(SIMPLE_RELEVANT).all()
    assert rows.loc[rows["constraint"] != "", "constraint"].str.match(SIMPLE_RANGE).all()
    by_name = rows.set_index("name")
    for name in FORMS[form_id]:
        expected = "" if name in NOT_REQUIRED else "yes"
        assert by_name.loc[name, "required"] == expected, name
        relevant = RELEVANT.get(f"{name}@{form_id}", RELEVANT.get(name, ""))
        if form_id != "cookstove_usage" and name == "photo_stove":
            relevant = ""
        assert by_name.loc[name, "relevant"] == relevant, name
        assert by_name.loc[name, "constraint"] == RANGES.get(name, ""), name


def test_groups_and_repeat():
    dist = questions(sheets("stove_distribution")[0])
    assert {dist[q][1] for q in ("household_id", "respondent_name", "phone", "location")} == {("household",)}
    assert {dist[q][1] for q in ("stove_serial", "stove_model")} == {("stove",)}
    usage = questions(sheets("cookstove_usage")[0])
    assert usage["stove_found"][1] == ("visit",)
    bund = questions(sheets("bund_plantation")[0])
    assert {bund[q][1] for q in ("m_species_code", "m_gbh_cm", "m_height_m")} == {("tree_measure",)}
    xform = convert(FORMS_DIR / "bund_plantation.xlsx").xform
    assert '<tree_measure jr:template="">' in xform
    assert 'nodeset="/data/bund_line" type="geotrace"' in xform
