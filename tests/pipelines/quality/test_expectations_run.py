"""`validate_rows` runs a suite one GX column group at a time: the same findings, in the same order, as
GX running the whole stored suite on the whole frame in one go (the reference below)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines import ingest
from pipelines.project import load_project
from pipelines.quality.expectations import ROW_ID, _collect, load_suite, validate_rows
from pipelines.readers.canonical import read_export, table_name
from pipelines.settings import REPO_ROOT, DataHome

SAMPLES = REPO_ROOT / "data" / "projects"
EXPORTS = ["IN-MP-CS-001/exports/cookstove_usage_odk.csv", "IN-MP-CS-001/exports/stove_distribution_kobo.csv",
           "IN-MH-AF-001/exports/tree_survival_mp1_odk.csv", "IN-MH-AF-001/exports/bund_plantation_mp2_odk.zip"]


def whole_suite(frame: pd.DataFrame, suite: dict, parameters: dict):
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    gx_suite = context.suites.add(gx.ExpectationSuite(**json.loads(json.dumps(suite))))
    batch = context.data_sources.add_pandas("batch").add_dataframe_asset("rows").add_batch_definition_whole_dataframe("all")
    definition = context.validation_definitions.add(gx.ValidationDefinition(name=suite["name"], data=batch, suite=gx_suite))
    return _collect(definition.run(batch_parameters={"dataframe": frame}, expectation_parameters=parameters,
                                   result_format={"result_format": "COMPLETE",
                                                  "unexpected_index_column_names": [ROW_ID]}).results)


@pytest.mark.parametrize("export", EXPORTS)
@pytest.mark.parametrize("damage", ["none", "blanks", "missing_columns"])
def test_grouped_runs_find_what_one_whole_run_finds(export, damage):
    path = SAMPLES / export
    project = load_project(DataHome(REPO_ROOT / "data"), export.split("/")[0])
    batch = read_export(path, "b", path.name)
    upload = ingest.Upload(project.project_id, "b", "x", path.name, str(path), "2025-08-01T00:00:00+00:00",
                           batch.form.form_id, batch.flavour)
    parameters = ingest.expectation_parameters(project, upload)
    rng = np.random.default_rng(7)
    for repeat, frame in batch.frames.items():
        suite = load_suite(table_name(batch.form.form_id, repeat))
        frame = frame.assign(project_id=project.project_id) if "project_id" not in frame else frame.copy()
        reads = [c for c in ingest.suite_columns(suite) if c != ROW_ID and c in frame]
        if damage == "blanks":
            for column in reads:
                frame.loc[rng.random(len(frame)) < 0.1, column] = None
        elif damage == "missing_columns":
            frame = frame.drop(columns=list(rng.choice(reads, size=2, replace=False)))
        checked = ingest.validation_frame(frame)
        checked = checked[[c for c in ingest.suite_columns(suite) if c in checked]]
        expected, got = whole_suite(checked, suite, parameters), validate_rows(checked, suite, parameters)
        assert got.failures.equals(expected.failures)
        assert list(got.failures.dtypes) == list(expected.failures.dtypes)
        assert (got.table_failures, got.errors) == (expected.table_failures, expected.errors)
