"""The upload folder: field teams drop exports into ``projects/<id>/upload/``; a sensor takes them in.

Each file is kept (``store_upload`` copies it under ``uploads/``) and then moved out of the way:
into ``upload/done/`` once registered as a batch, or into ``upload/rejected/`` with a
``<file>.error.txt`` saying why in one line. The batch itself is ingested by the same assets as
``mrv ingest``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipelines import ingest
from pipelines.errors import UserError
from pipelines.project import load_projects
from pipelines.settings import DataHome

UPLOAD_FOLDER = "upload"


@dataclass(frozen=True)
class Rejected:
    file: Path
    error: str
    moved_to: Path


def _move(file: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / file.name
    stem, n = target.stem, 1
    while target.exists():
        target = folder / f"{stem}.{n}{file.suffix}"
        n += 1
    os.replace(file, target)
    return target


def collect(home: DataHome) -> tuple[list[ingest.Upload], list[Rejected]]:
    """Register every file waiting in the projects' upload folders."""
    accepted: list[ingest.Upload] = []
    rejected: list[Rejected] = []
    for project in load_projects(home):
        inbox = project.folder / UPLOAD_FOLDER
        if not inbox.is_dir():
            continue
        for file in sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith(".")):
            try:
                upload = ingest.store_upload(home, project, file)
            except UserError as exc:
                moved = _move(file, inbox / "rejected")
                moved.with_name(moved.name + ".error.txt").write_text(str(exc) + "\n", encoding="utf-8")
                rejected.append(Rejected(file, str(exc), moved))
                continue
            _move(file, inbox / "done")
            accepted.append(upload)
    return accepted, rejected
