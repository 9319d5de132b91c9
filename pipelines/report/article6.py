"""Article 6 of the Paris Agreement: authorization fields per vintage, and the host-country check.

An authorized credit carries the host country's Letter of Authorization (LoA id, date, issuer), the
authorized use (NDC, CORSIA or other international mitigation purposes, or a voluntary mitigation
contribution), the first-transfer trigger and the corresponding-adjustment status and declaration,
per vintage (shared ECOSYSTEM.md, "Article 6 in one paragraph"; cookstove_methodology.md §8.2).
Projects default to *not authorized*; the fields are read from the optional ``article6:`` block of
``project.yaml`` (keys documented in docs/verifier.md) so that an authorization later needs no
re-engineering.

The host-country check compares the project's activity type (derived from its methodology, or set
in ``article6.activity_type``) with the host country's list of activities eligible for
authorization (``data/reference/<country>_article6_activities.yaml``). A claim of authorization for
an activity that is not on the list, or made outside the list's validity, is a *warning* in the
``article6`` table and in report.html, never an error: the LoA itself is what counts, and the list
may have been revised since this file was written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from pipelines.errors import UserError
from pipelines.project import parse_date
from pipelines.project import Project
from pipelines.settings import REPO_ROOT

REFERENCE_DIR = REPO_ROOT / "data" / "reference"
HOST_LISTS = {"IN": "india_article6_activities.yaml"}
"""Host party (ISO 3166-1 alpha-2) -> its list of activities eligible for Article 6.2 authorization."""

ACTIVITY_TYPES = {
    "cdm-ams-ii-g": "improved_cookstoves",
    "vm0047-census": "afforestation_agroforestry",
}
"""The activity type of each methodology, as matched against a host country's list."""

ACTIVITY_NAMES = {
    "improved_cookstoves": "improved cookstoves",
    "afforestation_agroforestry": "afforestation / agroforestry (tree planting)",
}

AUTHORIZED_USES = {
    "NDC": "NDC",
    "OIMP_CORSIA": "OIMP_CORSIA",
    "OIMP_other": "OIMP_other",
    "voluntary": "voluntary_mitigation_contribution",
    "voluntary_mitigation_contribution": "voluntary_mitigation_contribution",
}
"""Accepted spellings in project.yaml -> the value stored (cookstove_methodology.md §8.2)."""

USES_NEEDING_CA = ("NDC", "OIMP_CORSIA")
"""A corresponding adjustment is required for use towards another NDC and for CORSIA (§8.1)."""

FIRST_TRANSFER_TRIGGERS = ("issuance", "authorization", "use")
CA_STATUSES = ("not_applicable", "pending", "applied")
FIRST_CA_VINTAGE = 2021
"""Vintages before 2021 cannot receive corresponding adjustments (cookstove_methodology.md §8.1)."""

KEYS = {"authorized", "activity_type", "host_party", "loa", "authorized_use", "first_transfer_trigger",
        "corresponding_adjustment", "authorized_vintages", "authorized_quantity_cap_tco2e", "vintages"}

ARTICLE6_COLUMNS = [
    "project_id", "period_id", "vintage", "er_tco2e", "issuable_tco2e", "host_party", "activity_type",
    "activity_type_source", "authorization_status", "loa_id", "loa_date", "loa_issuer", "authorized_use",
    "first_transfer_trigger", "corresponding_adjustment_status", "corresponding_adjustment_declaration",
    "authorized_quantity_cap_tco2e", "host_list", "host_list_status", "host_list_valid_from",
    "host_list_valid_until", "check_status", "check_message",
]


@dataclass(frozen=True)
class Authorization:
    """The ``article6:`` block of a project.yaml, checked and with its defaults."""

    authorized: bool = False
    activity_type: str = ""
    activity_type_source: str = ""
    host_party: str = ""
    loa_id: str | None = None
    loa_date: dt.date | None = None
    loa_issuer: str | None = None
    authorized_use: tuple[str, ...] = ()
    first_transfer_trigger: str | None = None
    ca_status: str = "not_applicable"
    ca_declaration: str | None = None
    authorized_vintages: tuple[int, ...] | None = None
    quantity_cap_tco2e: float | None = None
    vintage_ca: dict[int, tuple[str, str | None]] = field(default_factory=dict)

    def authorized_for(self, vintage: int) -> bool:
        return self.authorized and (self.authorized_vintages is None or vintage in self.authorized_vintages)


def _date(value: Any, where: str) -> dt.date | None:
    return None if value is None or value == "" else parse_date(value, where)


def _choice(value: Any, allowed: tuple[str, ...] | dict, where: str) -> str:
    if str(value) not in allowed:
        raise UserError(f"{where}: {value!r} is not one of {', '.join(allowed)}")
    return allowed[str(value)] if isinstance(allowed, dict) else str(value)


def _ca(block: Any, where: str) -> tuple[str | None, str | None]:
    if block is None:
        return None, None
    if not isinstance(block, dict):
        raise UserError(f"{where}: expected status and declaration, e.g. {{status: pending, declaration: ...}}")
    status = _choice(block["status"], CA_STATUSES, f"{where}.status") if "status" in block else None
    declaration = block.get("declaration")
    return status, (str(declaration) if declaration not in (None, "") else None)


def read_authorization(project: Project) -> Authorization:
    """The project's Article 6 fields with defaults (not authorized); `UserError` for a malformed block."""
    where = f"{project.folder / 'project.yaml'}: article6"
    block = dict(project.article6 or {})
    unknown = set(block) - KEYS
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))} "
                        f"(known: {', '.join(sorted(KEYS))}; see docs/verifier.md)")
    authorized = block.get("authorized", False)
    if not isinstance(authorized, bool):
        raise UserError(f"{where}.authorized: {authorized!r} must be true or false")
    derived = ACTIVITY_TYPES.get(project.methodology, project.methodology)
    activity = str(block.get("activity_type") or derived)
    activity_source = "project.yaml article6.activity_type" if block.get("activity_type") else \
        f"derived from methodology {project.methodology}"

    loa = block.get("loa") or {}
    if not isinstance(loa, dict):
        raise UserError(f"{where}.loa: expected id, date and issuer")
    uses = block.get("authorized_use") or []
    uses = [uses] if isinstance(uses, str) else list(uses)
    uses = tuple(dict.fromkeys(_choice(u, AUTHORIZED_USES, f"{where}.authorized_use") for u in uses))
    trigger = block.get("first_transfer_trigger")
    trigger = _choice(trigger, FIRST_TRANSFER_TRIGGERS, f"{where}.first_transfer_trigger") if trigger else None
    ca_status, ca_declaration = _ca(block.get("corresponding_adjustment"), f"{where}.corresponding_adjustment")
    if ca_status is None:
        ca_status = "pending" if authorized and set(uses) & set(USES_NEEDING_CA) else "not_applicable"

    vintages = block.get("authorized_vintages")
    if vintages is not None:
        try:
            vintages = tuple(int(v) for v in (vintages if isinstance(vintages, list) else [vintages]))
        except (TypeError, ValueError):
            raise UserError(f"{where}.authorized_vintages: expected a list of years, e.g. [2024, 2025]") from None
    cap = block.get("authorized_quantity_cap_tco2e")
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, (int, float))):
        raise UserError(f"{where}.authorized_quantity_cap_tco2e: {cap!r} is not a number")

    per_vintage: dict[int, tuple[str, str | None]] = {}
    for year, override in (block.get("vintages") or {}).items():
        try:
            year = int(year)
        except (TypeError, ValueError):
            raise UserError(f"{where}.vintages: {year!r} is not a year") from None
        if not isinstance(override, dict) or set(override) - {"corresponding_adjustment"}:
            raise UserError(f"{where}.vintages.{year}: only corresponding_adjustment can be set per vintage")
        status, declaration = _ca(override.get("corresponding_adjustment"), f"{where}.vintages.{year}.corresponding_adjustment")
        per_vintage[year] = (status or ca_status, declaration if declaration is not None else ca_declaration)

    return Authorization(
        authorized=authorized, activity_type=activity, activity_type_source=activity_source,
        host_party=str(block.get("host_party") or project.country),
        loa_id=str(loa["id"]) if loa.get("id") not in (None, "") else None,
        loa_date=_date(loa.get("date"), f"{where}.loa.date"),
        loa_issuer=str(loa["issuer"]) if loa.get("issuer") not in (None, "") else None,
        authorized_use=uses, first_transfer_trigger=trigger, ca_status=ca_status, ca_declaration=ca_declaration,
        authorized_vintages=vintages, quantity_cap_tco2e=float(cap) if cap is not None else None,
        vintage_ca=per_vintage,
    )


@dataclass(frozen=True)
class HostList:
    """A host country's list of activities eligible for Article 6.2 authorization."""

    name: str
    host_party: str
    valid_from: dt.date
    valid_until: dt.date
    activities: dict[str, str]  # id -> name
    sources: tuple[str, ...]
    file: Path

    def valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day <= self.valid_until


@lru_cache(maxsize=8)
def load_host_list(host_party: str) -> HostList | None:
    """The host country's activity list from ``data/reference``, or None when there is none on file."""
    name = HOST_LISTS.get(host_party.upper())
    if name is None:
        return None
    path = REFERENCE_DIR / name
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return HostList(name=str(doc["name"]), host_party=str(doc["host_party"]),
                    valid_from=_date(doc["valid_from"], str(path)), valid_until=_date(doc["valid_until"], str(path)),
                    activities={str(a["id"]): str(a["name"]) for a in doc["activities"]},
                    sources=tuple(str(s["text"]).strip() for s in doc.get("sources", [])), file=path)


def _activity_label(activity_type: str) -> str:
    return ACTIVITY_NAMES.get(activity_type, activity_type.replace("_", " "))


def _checks(auth: Authorization, vintage: int, ca_status: str, host: HostList | None,
            on: dt.date) -> tuple[str, str, list[str]]:
    """(host_list_status, check_status, messages) of one vintage."""
    activity = _activity_label(auth.activity_type)
    if host is None:
        list_status = "no_list_on_file"
    elif auth.activity_type in host.activities:
        list_status = "listed"
    else:
        list_status = "not_listed"

    if not auth.authorized_for(vintage):
        if list_status == "not_listed":
            note = (f"not authorized; {activity} is not on {host.name}, so no authorization is expected "
                    "and no corresponding adjustment applies")
        else:
            note = "not authorized; no corresponding adjustment applies"
        return list_status, "ok", [note]

    warnings = []
    if host is None:
        warnings.append(f"no list of eligible activities on file for host party {auth.host_party}: "
                        "eligibility of the activity not checked")
    elif list_status == "not_listed":
        warnings.append(f"authorization claimed for {activity}, which {host.name} does not name "
                        f"({host.file.name}); check that the Letter of Authorization covers this activity")
    if host is not None and not host.valid_on(on):
        basis = f"the LoA date {on}" if auth.loa_date else f"the report date {on} (no LoA date given)"
        warnings.append(f"{host.name} applies from {host.valid_from} to {host.valid_until}, not on {basis}; "
                        "check for a revised list")
    if not auth.loa_id or not auth.loa_date:
        warnings.append("authorized, but the Letter of Authorization id or date is missing (article6.loa)")
    if not auth.authorized_use:
        warnings.append("authorized, but no authorized use is given (article6.authorized_use)")
    if not auth.first_transfer_trigger:
        warnings.append("authorized, but no first-transfer trigger is given (article6.first_transfer_trigger)")
    if vintage < FIRST_CA_VINTAGE:
        warnings.append(f"vintage {vintage} is before {FIRST_CA_VINTAGE}: it cannot receive a corresponding adjustment")
    needing = [u for u in auth.authorized_use if u in USES_NEEDING_CA]
    if needing and ca_status == "not_applicable":
        warnings.append(f"use {', '.join(needing)} requires a corresponding adjustment, but its status is not_applicable")
    if warnings:
        return list_status, "warning", warnings
    return list_status, "ok", [f"authorized; {activity} is on {host.name}" if host else "authorized"]


def article6_table(project: Project, emission_reductions: pd.DataFrame, today: dt.date | None = None) -> pd.DataFrame:
    """One row per vintage of the period: the Article 6 fields and the result of the host-country check.

    ``check_status`` is ``ok`` or ``warning``; ``check_message`` says why (several reasons joined by
    " | "). The eligibility check is judged on the LoA date, or on `today` when no LoA date is given.
    """
    auth = read_authorization(project)
    host = load_host_list(auth.host_party)
    on = auth.loa_date or today or dt.date.today()
    rows = []
    for record in emission_reductions.sort_values("vintage").itertuples(index=False):
        vintage = int(record.vintage)
        authorized = auth.authorized_for(vintage)
        ca_status, ca_declaration = auth.vintage_ca.get(vintage, (auth.ca_status, auth.ca_declaration))
        if not authorized:
            ca_status, ca_declaration = "not_applicable", None
        list_status, check_status, messages = _checks(auth, vintage, ca_status, host, on)
        rows.append({
            "project_id": project.project_id, "period_id": str(record.period_id), "vintage": vintage,
            "er_tco2e": float(record.er_tco2e), "issuable_tco2e": int(record.issuable_tco2e),
            "host_party": auth.host_party, "activity_type": auth.activity_type,
            "activity_type_source": auth.activity_type_source,
            "authorization_status": "authorized" if authorized else "not_authorized",
            "loa_id": auth.loa_id if authorized else None,
            "loa_date": auth.loa_date.isoformat() if authorized and auth.loa_date else None,
            "loa_issuer": auth.loa_issuer if authorized else None,
            "authorized_use": ", ".join(auth.authorized_use) if authorized and auth.authorized_use else None,
            "first_transfer_trigger": auth.first_transfer_trigger if authorized else None,
            "corresponding_adjustment_status": ca_status,
            "corresponding_adjustment_declaration": ca_declaration,
            "authorized_quantity_cap_tco2e": auth.quantity_cap_tco2e if authorized else None,
            "host_list": host.name if host else None,
            "host_list_status": list_status,
            "host_list_valid_from": host.valid_from.isoformat() if host else None,
            "host_list_valid_until": host.valid_until.isoformat() if host else None,
            "check_status": check_status,
            "check_message": " | ".join(messages),
        })
    table = pd.DataFrame(rows, columns=ARTICLE6_COLUMNS)
    return table.astype({"vintage": "int64", "er_tco2e": "float64", "issuable_tco2e": "int64",
                         "authorized_quantity_cap_tco2e": "float64"})
