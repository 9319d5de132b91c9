"""Methodology parameters: defaults from ``data/parameters/<methodology>.yaml``, project overrides.

Every value carries its unit and source. The resolved set is what a run uses and what the verifier
package lists in its ``parameters`` table; its SHA-256 goes into the report manifest, so a changed
parameter is visible as a changed hash.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import pandas as pd
import yaml

from pipelines.errors import UserError
from pipelines.project import Project
from pipelines.settings import PARAMETERS_DIR

PARAMETER_COLUMNS = ["name", "value", "unit", "source"]


@dataclass(frozen=True)
class ParameterSet:
    """Resolved parameters of one project.

    values: what the methodology functions take — scalars by name, tables as
        ``{table: {key: {field: value}}}``.
    table: one row per value (``stove_models.ACME-R1.efficiency``) with unit and source.
    methodology_version: the methodology text the defaults come from.
    """

    values: dict[str, Any]
    table: pd.DataFrame
    methodology_version: str

    @property
    def sha256(self) -> str:
        rows = self.table.sort_values("name").to_dict(orient="records")
        return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()


def read_defaults(methodology: str) -> dict[str, Any]:
    path = PARAMETERS_DIR / f"{methodology}.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"{where}: {value!r} is not a number")
    return float(value)


def _table_defaults(spec: dict[str, Any]) -> dict[str, Any]:
    """Per-item defaults of a table (e.g. species.yaml), or nothing."""
    if not spec.get("defaults"):
        return {}
    return yaml.safe_load((PARAMETERS_DIR / spec["defaults"]).read_text(encoding="utf-8")) or {}


def _value_and_source(entry: Any, fallback_source: str, where: str) -> tuple[float, str]:
    """A field given as a number, or as {value, source}."""
    if isinstance(entry, dict):
        return _number(entry.get("value"), where), str(entry.get("source") or fallback_source)
    return _number(entry, where), fallback_source


def resolve_parameters(project: Project) -> ParameterSet:
    """Merge the methodology defaults with the project's overrides; every value needs a number."""
    defaults = read_defaults(project.methodology)
    where_project = f"{project.folder / 'project.yaml'}: parameters"
    overrides = dict(project.parameter_overrides)
    values: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []

    for name, spec in defaults.get("parameters", {}).items():
        value, unit, source = spec.get("value"), spec.get("unit", ""), spec.get("source", "")
        if name in overrides:
            override = overrides.pop(name)
            if isinstance(override, dict):
                value = override.get("value")
                unit = override.get("unit", unit)
                source = override.get("source") or f"project.yaml of {project.project_id}"
            else:
                value, source = override, f"project.yaml of {project.project_id}"
        if value is None:
            raise UserError(f"{where_project}: {name!r} has no default and must be set ({source})")
        values[name] = _number(value, f"{where_project}.{name}")
        rows.append({"name": name, "value": values[name], "unit": unit, "source": source})

    for table, spec in defaults.get("tables", {}).items():
        items = overrides.pop(table, None)
        if not isinstance(items, dict) or not items:
            raise UserError(f"{where_project}: {table!r} must list at least one {spec['key']} ({spec['source']})")
        library = _table_defaults(spec)
        values[table] = {}
        for key, item in items.items():
            item = item or {}
            if not isinstance(item, dict):
                raise UserError(f"{where_project}.{table}.{key}: expected fields {', '.join(spec['fields'])}")
            item_source = item.get("source") or f"project.yaml of {project.project_id}"
            values[table][str(key)] = {}
            for field_name, unit in spec["fields"].items():
                where = f"{where_project}.{table}.{key}.{field_name}"
                if field_name in item:
                    value, source = _value_and_source(item[field_name], item_source, where)
                elif field_name in library.get(str(key), {}):
                    value, source = _value_and_source(library[str(key)][field_name], spec.get("defaults", ""), where)
                else:
                    raise UserError(f"{where}: missing, and no default in {spec.get('defaults') or 'the methodology file'}")
                values[table][str(key)][field_name] = value
                rows.append({"name": f"{table}.{key}.{field_name}", "value": value, "unit": unit, "source": source})

    if overrides:
        raise UserError(f"{where_project}: unknown parameter(s) {', '.join(sorted(overrides))} for {project.methodology}")
    table = pd.DataFrame(rows, columns=PARAMETER_COLUMNS)
    return ParameterSet(values=values, table=table, methodology_version=defaults["methodology_version"])
