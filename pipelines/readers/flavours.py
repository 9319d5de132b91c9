"""Kobo and ODK Central export flavours: recognise them and find each question's column.

Both flavours carry the same questions under different column names (contracts/forms.md):
Kobo joins groups with ``/`` and writes geopoints as ``_location_latitude``…; ODK Central joins
groups with ``-`` and writes ``location-Latitude``…; either may strip group prefixes. A question is
found by its *leaf* name, whatever group path precedes it, and the raw column name is kept for
lineage.
"""

from __future__ import annotations

from dataclasses import dataclass

KOBO = "kobo"
ODK = "odk"

_ODK_GEO_SUFFIXES = ("Latitude", "Longitude", "Altitude", "Accuracy")
_KOBO_GEO_SUFFIXES = {"latitude": "Latitude", "longitude": "Longitude", "altitude": "Altitude", "precision": "Accuracy"}


def detect_flavour(columns: list[str]) -> str | None:
    """``kobo``, ``odk`` or None, from the system columns of a main table."""
    names = set(columns)
    if "KEY" in names and ("SubmissionDate" in names or "meta-instanceID" in names):
        return ODK
    if "_uuid" in names or "_submission_time" in names:
        return KOBO
    leaves = {c.split("/")[-1] for c in names}
    if "instanceID" in leaves and "_id" in names:
        return KOBO
    return None


def is_repeat_table(columns: list[str]) -> bool:
    return "PARENT_KEY" in columns or "_parent_index" in columns


def leaf(column: str, flavour: str) -> str:
    """The column's name without its group path; geopoint parts as ``<q>-Latitude`` in both flavours."""
    if flavour == ODK:
        parts = column.split("-")
        if len(parts) >= 2 and parts[-1] in _ODK_GEO_SUFFIXES:
            return f"{parts[-2]}-{parts[-1]}"
        return parts[-1]
    name = column.split("/")[-1]
    # Kobo writes a grouped geopoint's parts as `grp/_location_latitude` (older exports: `_grp/location_latitude`).
    system = column.startswith("_") or name.startswith("_")
    if system:
        name = name.lstrip("_")
        for suffix, canonical in _KOBO_GEO_SUFFIXES.items():
            if name.endswith("_" + suffix):
                return f"{name[: -len(suffix) - 1]}-{canonical}"
        return "_" + name
    return name


@dataclass(frozen=True)
class ColumnMap:
    """Where each leaf name lives in the file (first column wins when a leaf repeats)."""

    flavour: str
    columns: dict[str, str]

    @classmethod
    def of(cls, columns: list[str], flavour: str) -> "ColumnMap":
        found: dict[str, str] = {}
        for column in columns:
            key = leaf(column, flavour)
            # An exact name beats a group-prefixed one (Kobo select_multiple writes `q/choice`).
            if key not in found or column == key:
                found[key] = column
        return cls(flavour, found)

    def get(self, name: str) -> str | None:
        return self.columns.get(name)

    def submission_id_column(self) -> str | None:
        if self.flavour == ODK:
            return self.get("KEY") or self.get("instanceID")
        return self.get("_uuid") or self.get("instanceID")

    def submitted_at_column(self) -> str | None:
        return self.get("SubmissionDate") if self.flavour == ODK else self.get("_submission_time")

    def parent_key_columns(self) -> tuple[str, str]:
        """(column in repeat rows, column in main rows) joining a repeat to its submission."""
        if self.flavour == ODK:
            return "PARENT_KEY", "KEY"
        return "_parent_index", "_index"
