"""GX suites: the stored JSON is what the forms say, parses in GX 1.x, and every rule names a contract reason."""

import json

import great_expectations as gx
import pytest

from pipelines.forms import FORM_IDS, load_form
from pipelines.quality.expectations import build_suite, load_suite, suite_path
from pipelines.quality.reasons import REASONS

SUITES = [(f, r) for f in FORM_IDS for r in [None, *load_form(f).repeats]]


@pytest.mark.parametrize("form_id,repeat", SUITES)
def test_stored_suite_matches_the_form(form_id, repeat):
    built = build_suite(form_id, repeat)
    assert load_suite(built["name"]) == json.loads(json.dumps(built)), \
        f"{suite_path(built['name'])} is stale: run `python -m pipelines.quality.expectations`"


@pytest.mark.parametrize("form_id,repeat", SUITES)
def test_suite_parses_and_every_rule_has_a_reason_and_a_note(form_id, repeat):
    suite = load_suite(build_suite(form_id, repeat)["name"])
    gx.ExpectationSuite(**suite)
    for expectation in suite["expectations"]:
        assert expectation["meta"]["reason"] in REASONS or expectation["meta"]["reason"] == "empty_batch"
        assert expectation["meta"]["notes"]
        assert expectation["severity"] in ("critical", "warning")


def test_every_required_question_has_a_not_null_rule():
    for form_id in FORM_IDS:
        form = load_form(form_id)
        suite = load_suite(form_id)
        checked = {e["kwargs"].get("column", "").removesuffix("__raw") for e in suite["expectations"]
                   if e["type"] == "expect_column_values_to_not_be_null"}
        for q in form.main_questions():
            if q.required and q.name not in ("respondent_name", "phone") and q.type != "geopoint":
                assert q.name in checked, (form_id, q.name)
