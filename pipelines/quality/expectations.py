"""Great Expectations suites: built from the XLSForms, stored as JSON, run per batch.

`build_suite` derives one GX 1.x suite per canonical table from the form definition and the
contract's data-quality rules; ``schemas/expectations/<table>.json`` holds the result (a test keeps
the files and the forms in step), and `validate_rows` runs the stored JSON — what a reviewer reads
is what runs. Each expectation's ``meta.reason`` is the contract reason code its failing rows get;
``meta.notes`` says why the rule exists. Quarantine rules have severity ``critical``, warnings
``warning``. Project-specific values (project id, stove models, species, upload time) are GX
``$PARAMETER``s supplied at run time.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import pandas as pd

from pipelines.forms import PERSONAL_QUESTIONS, PROJECT_CHOICE_LISTS, FormSpec, Question, load_form
from pipelines.readers.canonical import RAW_SUFFIX, geopoint_columns, table_name
from pipelines.settings import SCHEMAS_DIR

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

ROW_ID = "source_row"
MAX_GPS_ACCURACY_M = 30.0
MIN_INTERVIEW_SECONDS = 60.0
EARLIEST_DATE = "2000-01-01"


def _expectation(kind: str, reason: str, notes: str, severity: str = "critical", **kwargs: Any) -> dict[str, Any]:
    return {"type": kind, "kwargs": kwargs, "meta": {"reason": reason, "notes": notes}, "severity": severity}


def _condition(form: FormSpec, question: Question) -> dict[str, str]:
    """GX row_condition restricting a rule to the rows where the question is asked."""
    if not question.relevant:
        return {}
    other, value = question.relevant
    other_q = form.question(other)
    literal = {"yes": "True", "no": "False"}[value] if other_q.type == "yes_no" else json.dumps(value)
    return {"row_condition": f"{other} == {literal}", "condition_parser": "pandas"}


def _question_rules(form: FormSpec, q: Question) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    if q.name in PERSONAL_QUESTIONS or (q.type == "image" and not q.required):
        return rules
    when = _condition(form, q)
    asked = f" (asked when {q.relevant[0]} = {q.relevant[1]})" if q.relevant else ""
    if q.type == "geopoint":
        lat, lon, _, _ = geopoint_columns(q)
        rules += [
            _expectation("expect_column_values_to_not_be_null", "no_gps", f"{q.name}: a point with no latitude cannot be placed.", column=lat),
            _expectation("expect_column_values_to_not_be_null", "no_gps", f"{q.name}: a point with no longitude cannot be placed.", column=lon),
            _expectation("expect_column_values_to_be_between", "no_gps", "Latitude outside -90..90 is not a coordinate.", column=lat, min_value=-90, max_value=90),
            _expectation("expect_column_values_to_be_between", "no_gps", "Longitude outside -180..180 is not a coordinate.", column=lon, min_value=-180, max_value=180),
            _expectation("expect_column_values_to_not_be_in_set", "no_gps", "0,0 is the phone's placeholder when GPS was off.",
                         column=lat, value_set=[0.0], row_condition=f"{lon} == 0", condition_parser="pandas"),
        ]
        accuracy = next(c for c in geopoint_columns(q) if c.endswith("gps_accuracy_m"))
        rules.append(_expectation("expect_column_values_to_be_between", "low_gps_accuracy",
                                  "Accuracy worse than 30 m makes the point unreliable (contract warning).",
                                  severity="warning", column=accuracy, max_value=MAX_GPS_ACCURACY_M))
        return rules

    typed = q.type in ("integer", "decimal", "date", "yes_no", "geotrace")
    stored = f"{q.name}_wkt" if q.type == "geotrace" else q.name
    text_column = f"{q.name}{RAW_SUFFIX}" if typed else q.name
    if q.required:
        rules.append(_expectation("expect_column_values_to_not_be_null", "missing_required",
                                  f"{q.name} is required in the XLSForm{asked}.", column=text_column, **when))
    if typed:
        rules.append(_expectation("expect_column_values_to_be_null", "bad_value",
                                  f"{q.name}: text that does not parse as {q.type.replace('_', '/')} is a wrong type.",
                                  column=text_column, row_condition=f"{stored}.isna()", condition_parser="pandas"))
    if q.bound:
        b = q.bound
        rules.append(_expectation("expect_column_values_to_be_between", "bad_value",
                                  f"{q.name}: the XLSForm constraint allows {_bound_text(b)}.",
                                  column=q.name, min_value=b.minimum, max_value=b.maximum,
                                  strict_min=not b.min_inclusive, strict_max=not b.max_inclusive))
    if q.type == "select_one":
        if q.name in PROJECT_CHOICE_LISTS:
            table = PROJECT_CHOICE_LISTS[q.name]
            rules.append(_expectation("expect_column_values_to_be_in_set", "bad_value",
                                      f"{q.name} must be one of the project's {table} (project parameters).",
                                      column=q.name, value_set={"$PARAMETER": table}))
        elif q.choice_list in form.choices:
            rules.append(_expectation("expect_column_values_to_be_in_set", "bad_value",
                                      f"{q.name} must be a choice of list {q.choice_list} in the XLSForm.",
                                      column=q.name, value_set=list(form.choices[q.choice_list])))
    if q.type == "date":
        rules += [
            _expectation("expect_column_values_to_be_between", "future_date",
                         f"{q.name} cannot be after the upload.", column=q.name, max_value={"$PARAMETER": "upload_date"}),
            _expectation("expect_column_values_to_be_between", "bad_value",
                         f"{q.name} before {EARLIEST_DATE} is a phone clock or typing error.", column=q.name,
                         min_value={"$PARAMETER": "earliest_date"}),
        ]
    return rules


def _bound_text(b) -> str:
    low = f"{'≥' if b.min_inclusive else '>'} {b.minimum:g}" if b.minimum is not None else ""
    high = f"{'≤' if b.max_inclusive else '<'} {b.maximum:g}" if b.maximum is not None else ""
    return " and ".join(x for x in (low, high) if x)


FORM_RULES: dict[str, list[dict[str, Any]]] = {
    "bund_plantation": [
        _expectation("expect_column_pair_values_a_to_be_greater_than_b", "bad_value",
                     "More saplings alive than planted is impossible (contract: bad value).",
                     column_A="saplings_planted", column_B="saplings_alive", or_equal=True,
                     ignore_row_if="either_value_is_missing"),
    ],
}


def build_suite(form_id: str, repeat: str | None = None) -> dict[str, Any]:
    """The GX suite (as JSON-ready dict) of a form's main table or of one of its repeat groups."""
    form = load_form(form_id)
    name = table_name(form_id, repeat)
    expectations: list[dict[str, Any]] = []
    if repeat is None:
        expectations += [
            _expectation("expect_table_row_count_to_be_between", "empty_batch",
                         "A batch with no rows is not a usable upload.", min_value=1),
            _expectation("expect_column_values_to_not_be_null", "missing_required",
                         "Without a submission id a row cannot be de-duplicated or traced.", column="submission_id"),
            _expectation("expect_column_values_to_be_in_set", "wrong_project",
                         "A row must belong to the project it was uploaded to.", column="project_id",
                         value_set={"$PARAMETER": "project_ids"}),
            _expectation("expect_column_values_to_be_between", "future_date",
                         "The form cannot start after the upload.", column="started_at", max_value={"$PARAMETER": "upload_time"}),
            _expectation("expect_column_values_to_be_between", "future_date",
                         "The form cannot end after the upload.", column="ended_at", max_value={"$PARAMETER": "upload_time"}),
            _expectation("expect_column_pair_values_a_to_be_greater_than_b", "future_date",
                         "A form that ends before it starts has a wrong clock.", column_A="ended_at", column_B="started_at",
                         or_equal=True, ignore_row_if="either_value_is_missing"),
            _expectation("expect_column_values_to_be_null", "bad_value", "start must be an ISO 8601 timestamp.",
                         column="started_at__raw", row_condition="started_at.isna()", condition_parser="pandas"),
            _expectation("expect_column_values_to_be_null", "bad_value", "end must be an ISO 8601 timestamp.",
                         column="ended_at__raw", row_condition="ended_at.isna()", condition_parser="pandas"),
            _expectation("expect_column_values_to_be_between", "short_interview",
                         "Under 60 s is too short for a real visit (contract warning).", severity="warning",
                         column="interview_seconds", min_value=MIN_INTERVIEW_SECONDS),
        ]
        for q in form.main_questions():
            expectations += _question_rules(form, q)
        expectations += FORM_RULES.get(form_id, [])
    else:
        expectations.append(_expectation("expect_column_values_to_not_be_null", "missing_required",
                                         "A repeat row must belong to a submission of the same export.", column="submission_id"))
        for q in form.repeat_questions(repeat):
            expectations += _question_rules(form, q)
    return {
        "name": name,
        "expectations": expectations,
        "meta": {"notes": f"Row rules of {name}, derived from schemas/forms/{form_id}.xlsx (version {form.version}) "
                          "and the data-quality table of contracts/pipeline.md. Regenerate with "
                          "`python -m pipelines.quality.expectations`."},
    }


def suite_path(name: str):
    return SCHEMAS_DIR / "expectations" / f"{name}.json"


def load_suite(name: str) -> dict[str, Any]:
    return json.loads(suite_path(name).read_text(encoding="utf-8"))


def write_suites() -> list[str]:
    """Regenerate every ``schemas/expectations/*.json`` from the forms."""
    from pipelines.forms import FORM_IDS

    written = []
    for form_id in FORM_IDS:
        form = load_form(form_id)
        for repeat in [None, *form.repeats]:
            suite = build_suite(form_id, repeat)
            suite_path(suite["name"]).write_text(json.dumps(suite, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            written.append(suite["name"])
    return written


@dataclass
class RowValidation:
    """What a suite found: one row per (row, reason), and anything that stopped an expectation."""

    failures: pd.DataFrame  # source_row, reason, severity, rule
    table_failures: list[str]
    errors: list[str]


def expectation_columns(expectation: dict[str, Any]) -> set[str]:
    """The columns one expectation reads: its column(s) and the column its row condition tests."""
    kwargs = expectation["kwargs"]
    columns = {kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs}
    condition = kwargs.get("row_condition", "")
    if condition:  # "<column> == value" or "<column>.isna()": the column leads the condition
        columns.add(condition.split()[0].split(".")[0])
    return columns


def gx_groups(expectations: list[dict[str, Any]]) -> list[list[int]]:
    """Positions of `expectations`, grouped and ordered as GX validates a whole suite.

    GX 1.x groups a suite's expectations by their ``column``, in order of first appearance (those
    without one form a group where the first of them stands), and reports their results in that
    order (``Validator.process_expectations_for_validation``).
    """
    groups: dict[str, list[int]] = {}
    for position, expectation in enumerate(expectations):
        column = expectation["kwargs"].get("column")
        groups.setdefault(column if isinstance(column, str) else "_nocolumn", []).append(position)
    return list(groups.values())


def validate_rows(frame: pd.DataFrame, suite: dict[str, Any], parameters: dict[str, Any]) -> RowValidation:
    """Run a stored suite on a validation frame with GX; collect failing row ids per reason.

    The suite runs with GX one column group at a time (`gx_groups`, GX's own grouping and order),
    each on the columns its expectations read plus the row id: GX's pandas engine filters the whole
    frame it is given for every metric of every expectation (a row condition is a
    ``DataFrame.query`` of all its columns), so one run of the whole suite costs the number of
    expectations times the number of columns. The results come in the order GX gives for the
    whole suite. When an expectation cannot run at all, the whole suite is run once more as one,
    so that the errors are GX's own, in its order.
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = context.data_sources.add_pandas("batch").add_dataframe_asset("rows").add_batch_definition_whole_dataframe("all")
    result_format = {"result_format": "COMPLETE", "unexpected_index_column_names": [ROW_ID]}

    def run(name: str, expectations: list[dict[str, Any]], data: pd.DataFrame) -> list:
        part = {**suite, "name": name, "expectations": expectations}
        gx_suite = context.suites.add(gx.ExpectationSuite(**json.loads(json.dumps(part))))
        definition = context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=gx_suite))
        return definition.run(batch_parameters={"dataframe": data}, expectation_parameters=parameters,
                              result_format=result_format).results

    results = []
    for number, positions in enumerate(gx_groups(suite["expectations"])):
        expectations = [suite["expectations"][p] for p in positions]
        reads = set().union(*(expectation_columns(e) for e in expectations)) | {ROW_ID}
        results += run(f"{suite['name']}#{number}", expectations, frame[[c for c in frame.columns if c in reads]])
        if any(_raised(item.exception_info) for item in results):
            results = run(suite["name"], suite["expectations"], frame)
            break
    return _collect(results)


def _raised(info: dict | None) -> bool:
    """Whether an expectation's run raised (GX nests the exceptions of metrics by metric id)."""
    if not info:
        return False
    return bool(info.get("raised_exception")) or any(isinstance(v, dict) and v.get("raised_exception") for v in info.values())


def _collect(results: list) -> RowValidation:
    rows: list[pd.DataFrame] = []
    table_failures: list[str] = []
    errors: list[str] = []
    for item in results:
        config = item.expectation_config
        meta = config.meta or {}
        if item.exception_info and item.exception_info.get("raised_exception"):
            errors.append(f"{config.type}({config.kwargs.get('column', '')}): {item.exception_info.get('exception_message')}")
            continue
        if item.success:
            continue
        ids = item.result.get("unexpected_index_list")
        if ids is None:
            table_failures.append(meta.get("notes", config.type))
            continue
        source_rows = [entry[ROW_ID] if isinstance(entry, dict) else entry for entry in ids]
        rule = meta.get("notes", config.type)
        details = [_with_value(rule, entry) for entry in ids]
        rows.append(pd.DataFrame({ROW_ID: pd.array(source_rows, dtype="int64"), "reason": meta.get("reason", "bad_value"),
                                  "severity": str(config.severity.value if hasattr(config.severity, "value") else config.severity),
                                  "rule": details}))
    failures = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        {ROW_ID: pd.array([], dtype="int64"), "reason": [], "severity": [], "rule": []})
    return RowValidation(failures, table_failures, errors)


def _with_value(rule: str, entry: object) -> str:
    """The rule in words plus the offending value(s) GX reports for the row."""
    if not isinstance(entry, dict):
        return rule
    values = [f"{k.removesuffix(RAW_SUFFIX)} = {v}" for k, v in entry.items()
              if k != ROW_ID and v is not None and not (isinstance(v, float) and v != v) and str(v) not in ("<NA>", "NaT", "nan")]
    return f"{rule} ({'; '.join(values)})" if values else rule


if __name__ == "__main__":
    for name in write_suites():
        print(f"wrote {suite_path(name)}")
