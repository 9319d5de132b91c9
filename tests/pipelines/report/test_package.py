"""The verifier package: atomic, hashed, and free of personal data."""

import hashlib
import json

import pandas as pd
import pytest

from pipelines.monitoring.result import PeriodResult
from pipelines.report.package import write_package


def result(extra=None):
    tables = {
        "emission_reductions": pd.DataFrame({"project_id": ["P"], "period_id": ["MP1"], "vintage": [2024],
                                             "er_tco2e": [12.5], "issuable_tco2e": [12]}),
        "calculation_steps": pd.DataFrame({"step_no": [1], "name": ["x"], "value": [1.0]}),
        "parameters": pd.DataFrame({"name": ["fnrb"], "value": [0.07], "unit": ["fraction"], "source": ["TOOL33"]}),
        "stove_distribution": pd.DataFrame({"submission_id": ["a"], "latitude": [23.1], "longitude": [77.1]}),
        **(extra or {}),
    }
    return PeriodResult("P", "MP1", "cdm-ams-ii-g", "v", "abc", tables, {"stove_distribution": "point"})


def test_manifest_hashes_every_file(tmp_path):
    out = write_package(result(), {"quarantine": pd.DataFrame({"submission_id": ["b"], "form": ["f"], "reason": ["no_gps"]})},
                        tmp_path / "pkg")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parameters_sha256"] == "abc" and manifest["code_version"]
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    geo = pd.read_parquet(out / "parquet" / "stove_distribution.parquet")
    assert "geometry" in geo.columns  # GeoParquet


def test_personal_data_is_refused_and_nothing_half_written_remains(tmp_path):
    target = tmp_path / "pkg"
    write_package(result(), {}, target)
    before = (target / "manifest.json").read_text()
    leaky = result({"households": pd.DataFrame({"respondent_name": ["Asha"], "phone": ["98"]})})
    with pytest.raises(ValueError, match="personal data"):
        write_package(leaky, {}, target)
    assert (target / "manifest.json").read_text() == before  # the previous package is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg"]  # no temporary folders left


def test_a_failure_while_writing_leaves_the_old_package(tmp_path, monkeypatch):
    target = tmp_path / "pkg"
    write_package(result(), {}, target)
    import pipelines.report.package as package

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(package, "_sha256", explode)
    with pytest.raises(OSError):
        write_package(result(), {}, target)
    assert json.loads((target / "manifest.json").read_text())["files"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg"]
