"""Feedback for field teams: what is wrong with which row of an upload, in plain words.

Written per batch (``$MRV_HOME/feedback/<project>/<batch>-<file>.csv``) right after the batch is
validated: one line per (row, reason) with the submission id, the runner, the reason's meaning and
what to do, plus the duplicate submissions that were ignored.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines import atomic
from pipelines.quality.reasons import QUARANTINE, REASONS, WARNING
from pipelines.settings import DataHome

def feedback_path(home: DataHome, upload) -> Path:
    stem = Path(upload.source_name).stem
    return home.feedback / upload.project_id / f"{upload.batch_id}-{stem}.csv"


def write_feedback(home: DataHome, upload, duplicates: pd.DataFrame, quarantine: pd.DataFrame,
                   warnings: pd.DataFrame) -> Path:
    """One CSV row per (row, reason): what is wrong in plain words and what to do."""
    parts = []
    for kind, table in ((QUARANTINE, quarantine), (WARNING, warnings)):
        if table.empty:
            continue
        parts.append(pd.DataFrame({
            "row": table["source_row"], "submission_id": table["submission_id"], "runner_id": table["runner_id"],
            "status": "quarantined" if kind == QUARANTINE else "warning", "reason_code": table["reason"],
            "reason": table["reason"].map(lambda c: REASONS[c].meaning if c in REASONS else c),
            "what_to_do": table["reason"].map(lambda c: REASONS[c].action if c in REASONS else ""),
            "detail": table["detail"],
        }))
    if not duplicates.empty:
        parts.append(pd.DataFrame({
            "row": duplicates["source_row"], "submission_id": duplicates["submission_id"],
            "runner_id": duplicates["runner_id"], "status": "duplicate (ignored)", "reason_code": "duplicate_submission",
            "reason": "This submission was already received; it is counted once.", "what_to_do": "Nothing.",
            "detail": "",
        }))
    columns = ["row", "submission_id", "runner_id", "status", "reason_code", "reason", "what_to_do", "detail"]
    feedback = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    feedback = feedback.sort_values(["runner_id", "row", "reason_code"], kind="stable")
    target = feedback_path(home, upload)
    atomic.write_csv(target, feedback[columns])
    return target
