"""Parameters: defaults with unit and source, project overrides, species from the data file, clear errors."""

import pytest
import yaml
from support import COOKSTOVE_YAML, make_project

from pipelines.errors import UserError
from pipelines.parameters import PARAMETERS_DIR, read_defaults, resolve_parameters
from pipelines.project import load_project

TREE_YAML = """\
project_id: {pid}
name: Trees
methodology: vm0047-census
country: IN
boundary: boundary.geojson
plots: plots.geojson
monitoring_periods:
  - {{id: MP1, start: 2025-01-01, end: 2025-12-31}}
parameters:
  buffer_rate: 0.12
  species:
    TEGR: {{root_shoot: 0.3, source: "site study"}}
    MEDU: {{wood_density: {{value: 0.30, source: "local test"}}, root_shoot: 0.25}}
"""


@pytest.mark.parametrize("path", sorted(PARAMETERS_DIR.glob("*.yaml")))
def test_every_parameter_file_loads_and_every_value_has_unit_and_source(path):
    doc = yaml.safe_load(path.read_text())
    if "parameters" in doc:
        for name, spec in doc["parameters"].items():
            assert spec["unit"] and spec["source"], name
    else:  # a per-item table such as species.yaml
        for code, item in doc.items():
            for field, entry in item.items():
                if field != "name":
                    assert isinstance(entry["value"], float) and entry["source"], (code, field)


def test_overrides_record_their_source(home):
    params = resolve_parameters(load_project(home, "T-CS-1"))
    table = params.table.set_index("name")
    assert table.loc["fnrb", "value"] == 0.30 and "project.yaml" in table.loc["fnrb", "source"]
    assert table.loc["ncv_tj_per_t", "value"] == 0.015 and "AMS-II.G" in table.loc["ncv_tj_per_t", "source"]
    assert table.loc["stove_models.M1.efficiency", "source"] == "test"
    assert params.values["stove_models"] == {"M1": {"efficiency": 0.25}, "M2": {"efficiency": 0.20}}


def test_parameter_hash_changes_with_any_value(home):
    before = resolve_parameters(load_project(home, "T-CS-1")).sha256
    make_project(home, "T-CS-1", COOKSTOVE_YAML.replace("fnrb: 0.30", "fnrb: 0.07"))
    assert resolve_parameters(load_project(home, "T-CS-1")).sha256 != before


def test_species_defaults_come_from_the_data_file(home):
    make_project(home, "T-AF-1", TREE_YAML)
    table = resolve_parameters(load_project(home, "T-AF-1")).table.set_index("name")
    species = yaml.safe_load((PARAMETERS_DIR / "species.yaml").read_text())
    assert table.loc["species.TEGR.wood_density", "value"] == species["TEGR"]["wood_density"]["value"]
    assert "GWDD" in table.loc["species.TEGR.wood_density", "source"]
    assert table.loc["species.TEGR.root_shoot", "source"] == "site study"
    assert table.loc["species.MEDU.wood_density", "value"] == 0.30
    assert table.loc["species.MEDU.wood_density", "source"] == "local test"


@pytest.mark.parametrize("edit,message", [
    (lambda y: y.replace("  b_old_t_per_device_year: 2.0\n", ""), "b_old_t_per_device_year"),
    (lambda y: y.replace("fnrb: 0.30", "fnrb: high"), "not a number"),
    (lambda y: y.replace("fnrb: 0.30", "fnrb: 0.30\n  fnbr: 0.2"), "unknown parameter"),
    (lambda y: y.replace("M2: {{efficiency: 0.20, source: test}}", "M2: {{source: test}}"), "efficiency"),
])
def test_parameter_mistakes_are_one_line_errors(home, edit, message):
    make_project(home, "T-CS-1", edit(COOKSTOVE_YAML))
    with pytest.raises(UserError, match=message) as err:
        resolve_parameters(load_project(home, "T-CS-1"))
    assert "project.yaml" in str(err.value) and "\n" not in str(err.value)


def test_root_shoot_has_no_guessed_default(home):
    make_project(home, "T-AF-2", TREE_YAML.replace("TEGR: {{root_shoot: 0.3, source: \"site study\"}}", "TEGR: {{}}"))
    with pytest.raises(UserError, match="root_shoot"):
        resolve_parameters(load_project(home, "T-AF-2"))


@pytest.mark.parametrize("edit,message", [
    (lambda y: y.replace("methodology: cdm-ams-ii-g", "methodology: magic"), "unknown methodology"),
    (lambda y: y.replace("end: 2025-06-30", "end: 2023-06-30"), "before start"),
    (lambda y: y.replace("start: 2024-07-01", "start: 2024-13-01"), "month must be in 1..12"),
    (lambda y: y.replace("start: 2024-07-01", "start: July 2024"), "not a date"),
    (lambda y: y.replace("country: IN\n", ""), "country"),
])
def test_project_file_mistakes_are_one_line_errors(home, edit, message):
    make_project(home, "T-CS-1", edit(COOKSTOVE_YAML))
    with pytest.raises(UserError, match=message):
        load_project(home, "T-CS-1")


def test_methodology_defaults_match_the_contract():
    ams = {k: v["value"] for k, v in read_defaults("cdm-ams-ii-g")["parameters"].items()}
    assert (ams["ncv_tj_per_t"], ams["ef_tco2_per_tj"], ams["eta_baseline"], ams["ntg"], ams["usage_precision_target"]) == \
        (0.015, 81.6, 0.10, 0.95, 0.10)
    from scipy.stats import norm
    assert ams["z"] == norm.ppf(0.95)
    vm = {k: v["value"] for k, v in read_defaults("vm0047-census")["parameters"].items()}
    assert (vm["carbon_fraction"], vm["dbh_min_cm"], vm["uncertainty_allowance"]) == (0.47, 5, 0.10)
