"""Runner risk: patterns across a runner's submissions that single-row rules cannot see.

A fabricated survey rarely breaks a row rule: every answer is in range, the GPS point is inside the
project. What gives it away is the pattern over many submissions of one runner in one batch:

| signal              | a submission counts when…                                                                   |
|---------------------|---------------------------------------------------------------------------------------------|
| `short_interview`   | it carries the `short_interview` warning (form filled in under 60 s)                        |
| `runner_too_fast`   | it carries the `runner_too_fast` warning (more than 80 km/h from the runner's previous one) |
| `photo_reused`      | it carries the `photo_reused` warning (its photo file is in another submission)             |
| `gps_cluster`       | at least `CLUSTER_MIN_HOUSEHOLDS - 1` *other* households of the same runner were recorded    |
|                     | within `CLUSTER_RADIUS_M` of its point (household forms only: trees and bunds stand metres   |
|                     | apart by design)                                                                            |
| `identical_answers` | it gave exactly the runner's most common set of answers to the non-identifying questions,   |
|                     | and at least `IDENTICAL_MIN_SUBMISSIONS` submissions of the runner gave that set (forms with |
|                     | at least `MIN_ANSWER_QUESTIONS` such questions: today `cookstove_usage`)                     |

Each signal's *share* is the counted submissions over the runner's submissions in the batch. A
signal reaches its full weight at its threshold (``THRESHOLDS``)::

    score = Σ_signals POINTS_PER_SIGNAL × min(1, share / threshold)        (0 … 100)

``high`` when the score is at least ``HIGH_SCORE`` and the runner has at least
``MIN_SUBMISSIONS_FOR_HIGH`` submissions in the batch, ``medium`` from ``MEDIUM_SCORE``, else ``low``.
A signal that does not apply to the form is blank (n/a) and adds nothing. The thresholds are
explained for field supervisors in ``docs/field_teams.md``. The score ranks runners for back-checks;
it never changes what is accepted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.forms import PERSONAL_QUESTIONS, load_form

NO_RUNNER = "(no runner id)"
ALL_RUNNERS = "(all runners)"

SIGNALS = ("short_interview", "runner_too_fast", "photo_reused", "gps_cluster", "identical_answers")
WARNING_SIGNALS = ("short_interview", "runner_too_fast", "photo_reused")

THRESHOLDS: dict[str, float] = {
    "short_interview": 0.20,    # one interview in five under a minute
    "runner_too_fast": 0.10,    # one submission in ten after an impossible journey
    "photo_reused": 0.10,       # one photo in ten shown twice
    "gps_cluster": 0.25,        # a quarter of the households recorded on one spot
    "identical_answers": 0.50,  # half of the visits with copied answers
}
"""Share of a runner's submissions at which a signal reaches its full weight."""

SIGNAL_LABELS = {
    "short_interview": "short interviews",
    "runner_too_fast": "impossible travel speed",
    "photo_reused": "reused photos",
    "gps_cluster": "households on one GPS spot",
    "identical_answers": "identical answers",
}

POINTS_PER_SIGNAL = 20.0
HIGH_SCORE = 40.0
MEDIUM_SCORE = 20.0
MIN_SUBMISSIONS_FOR_HIGH = 5

CLUSTER_RADIUS_M = 10.0
CLUSTER_MIN_HOUSEHOLDS = 5
"""A point is on a cluster when it and at least four other households of the runner lie within 10 m:
neighbouring houses' fixes (house centres 10–20 m apart, phone GPS ±5 m) rarely put five households
in a 10 m circle; a runner filling in forms from one place puts all of them there."""

CLUSTER_ENTITY = {"stove_distribution": "household_id", "cookstove_usage": "household_id"}
"""Forms whose submissions are at different places by nature, and the question naming the place."""

IDENTICAL_MIN_SUBMISSIONS = 3
MIN_ANSWER_QUESTIONS = 4
ANSWER_TYPES = frozenset({"integer", "decimal", "select_one", "select_multiple", "yes_no"})
IDENTIFYING_QUESTIONS = frozenset({"project_id", "runner_id", "household_id", "stove_serial", "tree_id", "plot_id",
                                   "farmer_id", "bund_id"})

EARTH_RADIUS_M = 6_371_008.8

COLUMNS = ["runner_id", "submissions",
           *[c for s in SIGNALS for c in (s, f"{s}_share")],
           "score", "level", "signals"]


def answer_questions(form_id: str) -> list[str]:
    """The questions whose answers make a submission's answer pattern (identifying ones left out).

    Empty when the form has fewer than `MIN_ANSWER_QUESTIONS` of them: with two or three yes/no or
    choice questions, honest submissions agree by chance.
    """
    names = [q.name for q in load_form(form_id).main_questions()
             if q.type in ANSWER_TYPES and q.name not in IDENTIFYING_QUESTIONS | PERSONAL_QUESTIONS]
    return names if len(names) >= MIN_ANSWER_QUESTIONS else []


def runner_labels(runner: pd.Series) -> pd.Series:
    """Runner ids as text, a blank id as ``(no runner id)``."""
    text = runner.astype("str").str.strip()
    return text.where(runner.notna() & (text != ""), NO_RUNNER)


def _cell_key(runner: np.ndarray, column: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Runner, cell column and cell row in one int64, 21 bits each (20 000 km of 10 m cells)."""
    return (runner << 42) | (column << 21) | row


def gps_clustered(rows: pd.DataFrame, entity: str, *, radius_m: float = CLUSTER_RADIUS_M,
                  min_households: int = CLUSTER_MIN_HOUSEHOLDS) -> pd.Series:
    """Mask of rows with at least ``min_households - 1`` other `entity` values of the same runner within `radius_m`.

    Points are projected on a local equirectangular plane (error below a centimetre at 10 m
    across a project) and hashed into square cells of `radius_m`; every pair of points in the
    same or a neighbouring cell is a candidate, so the cost grows with the points per cell, not
    with the square of the batch.
    """
    out = pd.Series(False, index=rows.index)
    if entity not in rows:
        return out
    located = rows["latitude"].notna() & rows["longitude"].notna() & rows[entity].notna()
    pts = rows.loc[located, ["latitude", "longitude", "runner_id", entity]]
    if len(pts) < min_households:
        return out
    lat = np.radians(pts["latitude"].to_numpy(float))
    lon = np.radians(pts["longitude"].to_numpy(float))
    y = lat * EARTH_RADIUS_M
    x = lon * EARTH_RADIUS_M * np.cos(lat.mean())
    runner = pd.factorize(runner_labels(pts["runner_id"]))[0].astype("int64")
    cx = np.floor(x / radius_m).astype("int64")
    cy = np.floor(y / radius_m).astype("int64")
    cx, cy = cx - cx.min() + 1, cy - cy.min() + 1  # room for the neighbour at -1

    n = len(pts)
    key = _cell_key(runner, cx, cy)
    order = np.argsort(key, kind="stable")
    sorted_keys = key[order]
    dx, dy = (d.ravel() for d in np.meshgrid([-1, 0, 1], [-1, 0, 1]))
    probe = _cell_key(np.repeat(runner, 9), np.repeat(cx, 9) + np.tile(dx, n), np.repeat(cy, 9) + np.tile(dy, n))
    first = np.searchsorted(sorted_keys, probe, side="left")
    count = np.searchsorted(sorted_keys, probe, side="right") - first
    # Every (probe, point in the probed cell) pair, without a Python loop: expand the ranges.
    a = np.repeat(np.repeat(np.arange(n), 9), count)
    within = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    b = order[np.repeat(first, count) + within]
    entity_code = pd.factorize(pts[entity].astype("str"))[0]
    keep = (np.hypot(x[a] - x[b], y[a] - y[b]) <= radius_m) & (entity_code[a] != entity_code[b])
    others = pd.DataFrame({"a": a[keep], "entity": entity_code[b[keep]]}).groupby("a")["entity"].nunique()
    hit = np.zeros(n, dtype=bool)
    hit[others.index[others >= min_households - 1].to_numpy()] = True
    out.loc[pts.index] = hit
    return out


def identical_answers(rows: pd.DataFrame, questions: list[str], *,
                      min_submissions: int = IDENTICAL_MIN_SUBMISSIONS) -> pd.Series:
    """Mask of rows giving their runner's most common answer set, when at least `min_submissions` rows give it.

    Only the most common set counts: in a large batch every honest answer set recurs by chance,
    but no single set covers a large share of an honest runner's households. Answer sets are
    compared by a hash of the answer vector.
    """
    present = [q for q in questions if q in rows]
    out = pd.Series(False, index=rows.index)
    if not present or rows.empty:
        return out
    answers = rows[present]
    answered = answers.notna().any(axis=1).to_numpy()
    text = answers.astype("str").where(answers.notna(), "")
    keyed = pd.DataFrame({"runner": runner_labels(rows["runner_id"]).to_numpy(),
                          "pattern": pd.util.hash_pandas_object(text, index=False).to_numpy()})[answered]
    counts = keyed.value_counts(["runner", "pattern"]).reset_index(name="n")
    top = counts.sort_values(["runner", "n", "pattern"], ascending=[True, False, True]).drop_duplicates("runner")
    top = top[top["n"] >= min_submissions]
    hit = keyed.merge(top, on=["runner", "pattern"], how="left")["n"].notna().to_numpy()
    out.iloc[np.flatnonzero(answered)[hit]] = True
    return out


def _score(shares: pd.DataFrame) -> pd.Series:
    parts = [(shares[f"{s}_share"] / THRESHOLDS[s]).clip(upper=1.0).fillna(0.0) for s in SIGNALS]
    return (POINTS_PER_SIGNAL * sum(parts)).round(1)


def _level(score: pd.Series, submissions: pd.Series) -> pd.Series:
    level = pd.Series("low", index=score.index, dtype="str")
    level = level.mask(score >= MEDIUM_SCORE, "medium")
    return level.mask((score >= HIGH_SCORE) & (submissions >= MIN_SUBMISSIONS_FOR_HIGH), "high")


def _fired(shares: pd.DataFrame) -> pd.Series:
    """The signals at or over their threshold, in plain words with their share."""
    text = pd.Series("", index=shares.index, dtype="str")
    for s in SIGNALS:
        share = shares[f"{s}_share"]
        fired = share >= THRESHOLDS[s]
        piece = (share * 100).round().astype("Int64").astype("str") + "% " + SIGNAL_LABELS[s]
        text = text.where(~fired, text + np.where(text == "", "", "; ") + piece)
    return text


def runner_risk(rows: pd.DataFrame, warnings: pd.DataFrame, form_id: str) -> pd.DataFrame:
    """One row per runner of the batch (and a last row for all runners): counts, shares, score, level.

    `rows` are the batch's canonical rows (accepted and quarantined, without ignored duplicates),
    `warnings` its findings ``(source_row, reason, …)``. Shares are per submission of the runner;
    a signal that does not apply to the form has a blank share.
    """
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in COLUMNS})
    runner = runner_labels(rows["runner_id"]) if "runner_id" in rows else pd.Series(NO_RUNNER, index=rows.index)
    flags = pd.DataFrame(index=rows.index)
    flagged = warnings.loc[warnings["reason"].isin(WARNING_SIGNALS), ["source_row", "reason"]] if not warnings.empty \
        else pd.DataFrame(columns=["source_row", "reason"])
    for signal in WARNING_SIGNALS:
        flags[signal] = rows["source_row"].isin(set(flagged.loc[flagged["reason"] == signal, "source_row"]))
    entity = CLUSTER_ENTITY.get(form_id)
    flags["gps_cluster"] = gps_clustered(rows, entity) if entity else pd.NA
    questions = answer_questions(form_id)
    flags["identical_answers"] = identical_answers(rows, questions) if questions else pd.NA
    applies = {s: flags[s].notna().all() for s in SIGNALS}
    flags = flags.astype("boolean").fillna(False).astype("int64")
    flags["runner_id"] = runner.to_numpy()
    flags["submissions"] = 1
    per_runner = flags.groupby("runner_id", sort=True)[["submissions", *SIGNALS]].sum()
    per_runner.loc[ALL_RUNNERS] = per_runner.sum()
    for s in SIGNALS:
        per_runner[f"{s}_share"] = per_runner[s] / per_runner["submissions"]
        if not applies[s]:
            per_runner[s] = pd.NA
            per_runner[f"{s}_share"] = np.nan
        per_runner[s] = per_runner[s].astype("Int64")
    per_runner["score"] = _score(per_runner)
    per_runner["level"] = _level(per_runner["score"], per_runner["submissions"])
    per_runner["signals"] = _fired(per_runner)
    return per_runner.reset_index()[COLUMNS]


def markdown_table(risk: pd.DataFrame) -> str:
    """The risk summary as a Markdown table (Dagster metadata), highest score first."""
    if risk.empty:
        return "No submissions in this batch."
    body = risk[risk["runner_id"] != ALL_RUNNERS].sort_values(["score", "runner_id"], ascending=[False, True])
    body = pd.concat([body, risk[risk["runner_id"] == ALL_RUNNERS]])
    header = ["runner", "submissions", *[SIGNAL_LABELS[s] for s in SIGNALS], "score", "level"]
    runner = body["runner_id"].astype("str").str.replace(r"[\r\n]+", " ", regex=True)
    runner = runner.str.replace("|", "\\|", regex=False).str.replace("<", "&lt;", regex=False)
    cells = [runner, body["submissions"].astype("str")]
    for s in SIGNALS:
        share = (body[f"{s}_share"] * 100).round().astype("Int64").astype("str") + "%"
        cells.append((body[s].astype("str") + " (" + share + ")").where(body[s].notna(), "n/a"))
    cells += [body["score"].map("{:.0f}".format), body["level"]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    table = pd.concat(cells, axis=1)
    lines += ("| " + table.agg(" | ".join, axis=1) + " |").tolist()
    return "\n".join(lines)
