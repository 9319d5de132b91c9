"""Form definitions, read from the XLSForms field teams deploy (``schemas/forms/<form>.xlsx``).

The pipeline validates exactly what the phones collect: question names, types, `required`,
`relevant` conditions of the form ``${q} = 'value'``, numeric `constraint`s of the form
``. >= A and . <= B`` and select_one choice lists all come from the XLSForm. What a form cannot
say (project-specific choices such as stove models and species) comes from project parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

import openpyxl

from pipelines.settings import SCHEMAS_DIR

FORM_IDS = ("stove_distribution", "cookstove_usage", "tree_planting", "tree_survival", "bund_plantation")

PERSONAL_QUESTIONS = frozenset({"respondent_name", "phone"})
"""Personal data: read for nothing, stored nowhere but the kept upload, never exported."""

PROJECT_CHOICE_LISTS = {"stove_model": "stove_models", "m_species_code": "species", "species_code": "species"}
"""Questions whose valid values are project parameters (table name), not XLSForm choices."""

_RELEVANT = re.compile(r"^\s*\$\{(\w+)\}\s*=\s*'([^']*)'\s*$")
_BOUND = re.compile(r"\.\s*(>=|>|<=|<)\s*(-?\d+(?:\.\d+)?)")
_META_TYPES = {"start", "end", "deviceid", "today", "username", "phonenumber", "audit"}
_SKIP_TYPES = {"note", "calculate", "hidden"}


@dataclass(frozen=True)
class Bound:
    """A numeric range from an XLSForm constraint."""

    minimum: float | None = None
    maximum: float | None = None
    min_inclusive: bool = True
    max_inclusive: bool = True


@dataclass(frozen=True)
class Question:
    name: str
    type: str  # text, integer, decimal, date, yes_no, select_one, geopoint, geotrace, image, barcode
    required: bool = False
    relevant: tuple[str, str] | None = None  # (question, value): asked only when question == value
    bound: Bound | None = None
    choice_list: str | None = None
    group: str = ""  # slash-joined group path in the form
    repeat: str | None = None


@dataclass(frozen=True)
class FormSpec:
    form_id: str
    version: str
    questions: tuple[Question, ...]
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def main_questions(self) -> list[Question]:
        return [q for q in self.questions if q.repeat is None]

    def repeat_questions(self, repeat: str) -> list[Question]:
        return [q for q in self.questions if q.repeat == repeat]

    @property
    def repeats(self) -> list[str]:
        return sorted({q.repeat for q in self.questions if q.repeat})

    def question(self, name: str) -> Question:
        for q in self.questions:
            if q.name == name:
                return q
        raise KeyError(name)


def _parse_bound(text: str) -> Bound | None:
    clauses = _BOUND.findall(text or "")
    if not clauses:
        return None
    minimum = maximum = None
    min_inc = max_inc = True
    for op, number in clauses:
        value = float(number)
        if op in (">=", ">"):
            minimum, min_inc = value, op == ">="
        else:
            maximum, max_inc = value, op == "<="
    return Bound(minimum, maximum, min_inc, max_inc)


def _rows(sheet) -> list[dict[str, str]]:
    values = list(sheet.iter_rows(values_only=True))
    if not values:
        return []
    header = [str(h).strip().lower() if h is not None else "" for h in values[0]]
    out = []
    for row in values[1:]:
        record = {h: ("" if v is None else str(v).strip()) for h, v in zip(header, row) if h}
        if any(record.values()):
            out.append(record)
    return out


@cache
def load_form(form_id: str) -> FormSpec:
    """Read ``schemas/forms/<form_id>.xlsx`` into a `FormSpec`."""
    path = SCHEMAS_DIR / "forms" / f"{form_id}.xlsx"
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    survey = _rows(book["survey"])
    choices: dict[str, list[str]] = {}
    if "choices" in book.sheetnames:
        for row in _rows(book["choices"]):
            list_name = row.get("list_name") or row.get("list name")
            if list_name:
                choices.setdefault(list_name, []).append(row["name"])
    settings = _rows(book["settings"]) if "settings" in book.sheetnames else [{}]
    version = (settings[0] if settings else {}).get("version", "")

    groups: list[str] = []
    repeat: str | None = None
    questions: list[Question] = []
    for row in survey:
        qtype, name = row.get("type", ""), row.get("name", "")
        head = qtype.split()[0] if qtype else ""
        if head in ("begin_group", "begin"):
            if "repeat" in qtype:
                repeat = name
            groups.append(name)
            continue
        if head in ("end_group", "end_repeat") or qtype in ("end group", "end repeat"):
            if groups and groups[-1] == repeat:
                repeat = None
            if groups:
                groups.pop()
            continue
        if head == "begin_repeat":
            repeat = name
            groups.append(name)
            continue
        if head in _META_TYPES or head in _SKIP_TYPES or not name:
            continue
        choice_list = qtype.split()[1] if head in ("select_one", "select_multiple") and len(qtype.split()) > 1 else None
        if head == "select_one" and choice_list == "yes_no":
            kind = "yes_no"
        elif head in ("int", "integer"):
            kind = "integer"
        else:
            kind = head
        relevant = _RELEVANT.match(row.get("relevant", ""))
        questions.append(Question(
            name=name,
            type=kind,
            required=row.get("required", "").lower() in ("yes", "true", "true()"),
            relevant=(relevant.group(1), relevant.group(2)) if relevant else None,
            bound=_parse_bound(row.get("constraint", "")),
            choice_list=choice_list,
            group="/".join(g for g in groups if g != repeat),
            repeat=repeat,
        ))
    return FormSpec(form_id, version, tuple(questions), {k: tuple(v) for k, v in choices.items()})
