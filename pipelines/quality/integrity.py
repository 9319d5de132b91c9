"""Rules that look beyond one row: duplicates, unknown stoves and trees, runner behaviour.

Each rule takes the batch's rows and a warehouse connection and returns findings
``(source_row, reason, detail)``. Warehouse look-ups join only the batch's keys, so the cost of a
batch grows with its own size.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from pipelines.quality.geo import haversine_km
from pipelines.quality.vector import isin

FINDING_COLUMNS = ["source_row", "reason", "detail"]
MAX_SPEED_KMH = 80.0
MIN_TRAVEL_KM = 0.2  # below this, two fixes differ by GPS noise rather than travel

PHOTO_QUESTION = {"stove_distribution": "photo_stove", "cookstove_usage": "photo_stove",
                  "tree_planting": "photo_tree", "tree_survival": "photo_tree", "bund_plantation": "photo_bund"}
LOCATED_TABLES = tuple(PHOTO_QUESTION)


def findings(rows: pd.Series | np.ndarray, reason: str, detail: pd.Series | str) -> pd.DataFrame:
    frame = pd.DataFrame({"source_row": pd.array(np.asarray(rows), dtype="int64")})
    frame["reason"] = reason
    frame["detail"] = detail if isinstance(detail, str) else np.asarray(detail, dtype=object)
    return frame


def empty_findings() -> pd.DataFrame:
    return pd.DataFrame({"source_row": pd.array([], dtype="int64"), "reason": pd.Series([], dtype="str"),
                         "detail": pd.Series([], dtype="str")})


def _lookup(con: duckdb.DuckDBPyConnection, sql: str, keys: pd.DataFrame, params: list | None = None) -> pd.DataFrame:
    """Run `sql` with the batch's keys registered as ``batch_keys``; values travel as parameters.

    The keys go to DuckDB as an Arrow table: a pandas text column would be copied into Python
    strings one value at a time.
    """
    con.register("batch_keys", pa.Table.from_pandas(keys, preserve_index=False))
    try:
        return con.execute(sql, params or []).df()
    finally:
        con.unregister("batch_keys")


def already_accepted(con, table: str, submission_ids: pd.Series) -> pd.Series:
    """Mask of submission ids already stored as accepted in `table`."""
    keys = pd.DataFrame({"submission_id": submission_ids.astype("str").unique()})
    found = _lookup(con, f'SELECT DISTINCT t.submission_id FROM "{table}" t JOIN batch_keys k USING (submission_id) '
                         "WHERE t.accepted", keys)
    return isin(submission_ids, found["submission_id"])


def earliest_per_key(frame: pd.DataFrame, key: str) -> pd.Series:
    """Mask of rows that are not the earliest ``started_at`` (then first row) of their key."""
    order = frame.sort_values(["started_at", "source_row"], na_position="last", kind="stable")
    later = order.duplicated(subset=[key], keep="first")
    return later.reindex(frame.index)


def duplicate_registrations(con, frame: pd.DataFrame, candidates: pd.Series, *, table: str, key: str,
                            reason: str, project_id: str | None) -> pd.DataFrame:
    """A key registered by an accepted earlier row (any project when `project_id` is None), or
    repeated within the batch (the earliest ``start`` among the otherwise valid rows is kept)."""
    keyed = frame[candidates & frame[key].notna()]
    if keyed.empty:
        return empty_findings()
    keys = pd.DataFrame({key: keyed[key].astype("str").unique()})
    scope = "" if project_id is None else "AND t.project_id = ?"
    stored = _lookup(con, f'SELECT t."{key}" AS k, min(t.project_id) AS project_id, min(t.submission_id) AS submission_id '
                          f'FROM "{table}" t JOIN batch_keys b ON t."{key}" = b."{key}" WHERE t.accepted {scope} GROUP BY 1',
                     keys, [] if project_id is None else [project_id])
    registered = keyed[key].map(stored.set_index("k")["project_id"]) if not stored.empty else pd.Series(pd.NA, index=keyed.index)
    earlier = registered.notna()
    out = [findings(keyed.loc[earlier, "source_row"], reason,
                    "already registered in project " + registered[earlier].astype("str"))]
    rest = keyed[~earlier]
    later = earliest_per_key(rest, key)
    out.append(findings(rest.loc[later, "source_row"], reason, f"{key} repeated in this upload; the earliest record is kept"))
    return pd.concat(out, ignore_index=True)


def unknown_references(con, frame: pd.DataFrame, *, table: str, key: str, reason: str, project_id: str,
                       also_valid: pd.Series | None = None) -> pd.DataFrame:
    """Rows whose `key` has no accepted registration in the project."""
    keyed = frame[frame[key].notna()]
    if keyed.empty:
        return empty_findings()
    keys = pd.DataFrame({key: keyed[key].astype("str").unique()})
    # Only the keys with no registration come back: a batch's visits mostly name known stoves.
    missing = _lookup(con, f'SELECT b."{key}" AS k FROM batch_keys b WHERE NOT EXISTS (SELECT 1 FROM "{table}" t '
                           f'WHERE t."{key}" = b."{key}" AND t.accepted AND t.project_id = ?)', keys, [project_id])
    text = keyed[key].astype("str")
    unknown = isin(text, missing["k"])
    if also_valid is not None:
        unknown &= ~isin(text, also_valid.dropna().astype("str"))
    return findings(keyed.loc[unknown, "source_row"], reason, f"no accepted registration of this {key} in project {project_id}")


def photo_reused(con, frame: pd.DataFrame, *, form: str, project_id: str) -> pd.DataFrame:
    """Rows whose photo file name appears in another submission (this batch or any stored form of the project)."""
    column = PHOTO_QUESTION.get(form)
    if column is None or column not in frame:
        return empty_findings()
    named = frame.loc[frame[column].notna(), ["submission_id", column, "source_row"]].rename(columns={column: "photo"})
    if named.empty:
        return empty_findings()
    # Every submission showing a file that another one shows is flagged: which of them took the photo
    # is the supervisor's call (the detail names the file, the feedback lists both).
    # (the photos shown by more than one distinct submission of this batch)
    photo, _ = pd.factorize(named["photo"])
    submission, _ = pd.factorize(named["submission_id"])
    shown = np.unique((photo.astype("int64") << 32 | submission)[submission >= 0])
    in_batch = pd.Series((np.bincount(shown >> 32, minlength=photo.max() + 1) > 1)[photo], index=named.index)
    keys = pd.DataFrame({"photo": named["photo"].astype("str").unique()})
    union = " UNION ALL ".join(
        f'SELECT t."{photo}" AS photo, t.submission_id AS other FROM "{table}" t JOIN batch_keys b ON t."{photo}" = b.photo '
        "WHERE t.project_id = ?" for table, photo in PHOTO_QUESTION.items())
    stored = _lookup(con, union, keys, [project_id] * len(PHOTO_QUESTION))
    merged = named.merge(stored, on="photo", how="inner")
    elsewhere = named["submission_id"].isin(set(merged.loc[merged["other"] != merged["submission_id"], "submission_id"]))
    hit = in_batch | elsewhere
    return findings(named.loc[hit, "source_row"], "photo_reused", "photo " + named.loc[hit, "photo"].astype("str"))


def _stable_order(*keys: pd.Series) -> np.ndarray:
    """Positions that sort by `keys` (first key first), missing values last, ties in their order:
    ``sort_values(keys, kind="stable")``, on integer codes (each key's values ranked once)."""
    codes = []
    for key in keys:
        code, _ = pd.factorize(key, sort=True)
        codes.append(np.where(code < 0, code.max() + 1, code))
    return np.lexsort(codes[::-1])


def runner_too_fast(con, frame: pd.DataFrame, *, project_id: str) -> pd.DataFrame:
    """Consecutive submissions of a runner (this batch and stored ones nearby in time) faster than 80 km/h."""
    cols = ["submission_id", "runner_id", "started_at", "latitude", "longitude"]
    located = frame.loc[frame["runner_id"].notna() & frame["started_at"].notna()
                        & frame["latitude"].notna() & frame["longitude"].notna(), cols + ["source_row"]]
    if located.empty:
        return empty_findings()
    keys = pd.DataFrame({"runner_id": located["runner_id"].astype("str").unique()})
    low, high = located["started_at"].min() - pd.Timedelta(days=1), located["started_at"].max() + pd.Timedelta(days=1)
    union = " UNION ALL ".join(
        f'SELECT t.submission_id, t.runner_id, t.started_at, t.latitude, t.longitude FROM "{f}" t '
        "JOIN batch_keys b USING (runner_id) WHERE t.accepted AND t.project_id = ? "
        "AND t.started_at BETWEEN ? AND ?" for f in LOCATED_TABLES)
    stored = _lookup(con, union, keys, [project_id, low.to_pydatetime(), high.to_pydatetime()] * len(LOCATED_TABLES))
    stored = stored[~isin(stored["submission_id"], located["submission_id"])]
    if stored.empty:  # (the first batch of a runner: nothing to concatenate, same rows and order)
        both = located.reset_index(drop=True)
    else:
        stored["source_row"] = pd.NA
        both = pd.concat([located, stored], ignore_index=True)
    both["started_at"] = pd.to_datetime(both["started_at"], utc=True)
    both = both.iloc[_stable_order(both["runner_id"], both["started_at"], both["submission_id"])]
    same_runner = both["runner_id"].eq(both["runner_id"].shift())
    km = haversine_km(both["latitude"].shift(), both["longitude"].shift(), both["latitude"], both["longitude"])
    hours = (both["started_at"] - both["started_at"].shift()).dt.total_seconds() / 3600.0
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = np.where(hours > 0, km / hours.to_numpy(), np.inf)
    fast = same_runner.to_numpy() & (km > MIN_TRAVEL_KM) & (speed > MAX_SPEED_KMH) & both["source_row"].notna().to_numpy()
    hits = both[fast]
    pace = pd.Series(np.round(speed[fast]), index=hits.index)
    pace_text = ("at " + pace.astype("str") + " km/h").where(np.isfinite(pace), "started at the same time")
    detail = (pd.Series(np.round(km[fast], 1), index=hits.index).astype("str") + " km from submission "
              + both["submission_id"].shift()[fast].astype("str") + " " + pace_text)
    return findings(hits["source_row"], "runner_too_fast", detail)


def repeat_visits(con, frame: pd.DataFrame, *, table: str, key: str, date_column: str, project_id: str,
                  periods: list[tuple[str, pd.Timestamp, pd.Timestamp]]) -> pd.DataFrame:
    """Rows visiting a stove/tree that has another visit (stored or in the batch) in the same period."""
    dated = frame[frame[key].notna() & frame[date_column].notna()][["submission_id", key, date_column, "ended_at",
                                                                      "source_row"]]
    if dated.empty or not periods:
        return empty_findings()
    keys = pd.DataFrame({key: dated[key].astype("str").unique()})
    stored = _lookup(con, f'SELECT t.submission_id, t."{key}", t."{date_column}", t.ended_at FROM "{table}" t '
                          f'JOIN batch_keys b ON t."{key}" = b."{key}" '
                          "WHERE t.accepted AND t.project_id = ?", keys, [project_id])
    stored = stored[~isin(stored["submission_id"], dated["submission_id"])]
    if stored.empty:  # (a first visit of every key: nothing to concatenate, same rows and order)
        both = dated.assign(in_batch=True).reset_index(drop=True)
    else:
        both = pd.concat([dated.assign(in_batch=True), stored.assign(in_batch=False, source_row=pd.NA)], ignore_index=True)
    both[date_column] = pd.to_datetime(both[date_column])
    period = np.full(len(both), -1)
    for number, (_, start, end) in enumerate(periods):  # a later period wins where periods overlap
        period[both[date_column].between(start, end).to_numpy(dtype=bool)] = number
    # Only a (key, period) seen more than once can hold a repeat: the rest leave before the sort,
    # which keeps the order and counts of the groups that stay.
    ids = np.array([period_id for period_id, _, _ in periods], dtype=object)
    group = pd.DataFrame({"key": pd.factorize(both[key])[0], "period": np.where(period >= 0, pd.factorize(ids)[0][period], -1)})
    repeated = (period >= 0) & group.duplicated(keep=False).to_numpy()
    both = both[repeated]
    both["period"] = pd.Series(ids[period[repeated]], index=both.index, dtype=object)
    # Stored visits come first, then this batch's in visit order: every visit after the first is a repeat.
    # "Later" is the calculation's own order (vm0047_census._latest): visit date, then end time (missing first).
    both["ended_at"] = pd.to_datetime(both["ended_at"], utc=True)
    both = both.sort_values([key, "period", "in_batch", date_column, "ended_at", "source_row"], kind="stable",
                            na_position="first")
    order = both.groupby([key, "period"]).cumcount()
    counts = both.groupby([key, "period"])["submission_id"].transform("nunique")
    hits = both[(order > 0) & both["in_batch"]]
    return findings(hits["source_row"], "repeat_visit",
                    "visited " + counts[hits.index].astype("str") + " times in period " + hits["period"].astype("str"))
