"""Check a verifier package the way a verifier would: hashes, tables, and the totals recomputed.

`verify` recomputes the SHA-256 of every file against ``manifest.json`` (missing, changed and extra
files), opens ``report.duckdb`` and checks that each table equals its Parquet copy and that no
personal-data column exists anywhere, then recomputes the credits from the stored rows and
parameters and compares them with ``emission_reductions``:

* CDM AMS-II.G (contract formula, written here again with plain arithmetic — the methodology module
  is deliberately not imported, so a bug there cannot hide itself): stove-days per model and
  calendar year from the stove register and the technical life; the usage sample re-derived from
  the visits (latest visit per stove, within technical life); ``U = K/n`` or its 90/10 lower bound;
  ``ER_y = Σ_m DY_m,y · U · B_old · (1 − η_old/η_m) · fNRB · NCV · EF · NTG``; issuable = floor.
* VM0047 census: N_s and mortality from the planting, survival and bund rows; carbon per measured
  tree from girth, height and the parameters (Chave et al. 2014); per-stratum mean and SE; stock,
  ``U_p``, ``UNC``, removals, buffer, net and the calendar-year vintages. The credited stock of the
  previous period is an input (it lives in that period's package) and is reported as such.

Nothing is written. The result lists every check; ``intact`` is true when none failed.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pipelines.atomic import sha256_file as _sha256
from pipelines.errors import UserError
from pipelines.forms import PERSONAL_QUESTIONS
from pipelines.report.spatial import load_spatial

REQUIRED_TABLES = ("emission_reductions", "quarantine", "parameters", "calculation_steps", "report_info")
REL_TOL = 1e-9
ABS_TOL = 1e-9

OK, FAILED, SKIPPED = "ok", "failed", "skipped"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | failed | skipped
    detail: str

    @property
    def ok(self) -> bool:
        return self.status != FAILED


@dataclass
class Verification:
    """What `verify` found. ``recomputed``: one row per vintage, stored and recomputed credits."""

    package: Path
    checks: list[Check] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    recomputed: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def intact(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    @property
    def verdict(self) -> str:
        if self.intact:
            files = next((c.detail for c in self.checks if c.name == "files"), "")
            totals = next((c.detail for c in self.checks if c.name == "recompute"), "")
            return f"package intact and consistent: {files}; {totals}"
        return "package NOT intact: " + "; ".join(f"{c.name}: {c.detail}" for c in self.failures)

    def lines(self) -> list[str]:
        marks = {OK: "ok  ", FAILED: "FAIL", SKIPPED: "skip"}
        out = [f"{self.package}"]
        out += [f"  [{marks[c.status]}] {c.name}: {c.detail}" for c in self.checks]
        if not self.recomputed.empty:
            for row in self.recomputed.itertuples(index=False):
                out.append(f"         vintage {row.vintage}: stored {row.stored_er_tco2e:,.6f}, recomputed "
                           f"{row.recomputed_er_tco2e:,.6f} tCO2e (issuable {row.stored_issuable_tco2e} / "
                           f"{row.recomputed_issuable_tco2e})")
        out.append(self.verdict)
        return out


# ----------------------------------------------------------------------------- helpers



def _close(a: object, b: object) -> bool:
    try:
        x, y = float(a), float(b)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return a == b
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if math.isinf(x) or math.isinf(y):
        return x == y
    return math.isclose(x, y, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _list(items: list[str], limit: int = 5) -> str:
    head = ", ".join(items[:limit])
    return head + (f" and {len(items) - limit} more" if len(items) > limit else "")


class _Mismatches:
    """Collects value comparisons; the first few mismatches make the check's detail."""

    def __init__(self) -> None:
        self.compared = 0
        self.wrong: list[str] = []

    def compare(self, what: str, stored: object, recomputed: object) -> None:
        self.compared += 1
        if not _close(stored, recomputed):
            self.wrong.append(f"{what}: stored {stored!r}, recomputed {recomputed!r}")


# ----------------------------------------------------------------------------- files and tables

def _check_files(package: Path, result: Verification) -> dict | None:
    path = package / "manifest.json"
    if not path.exists():
        result.checks.append(Check("manifest", FAILED, "manifest.json is missing"))
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        listed = dict(manifest["files"])
    except (ValueError, KeyError, TypeError) as exc:
        result.checks.append(Check("manifest", FAILED, f"manifest.json is not readable ({exc})"))
        return None
    result.checks.append(Check("manifest", OK, f"{len(listed)} files listed, code {manifest.get('code_version')}, "
                                               f"parameters {str(manifest.get('parameters_sha256', ''))[:12]}"))
    actual = {str(p.relative_to(package)) for p in package.rglob("*") if p.is_file() and p.name != "manifest.json"}
    result.missing = sorted(set(listed) - actual)
    result.extra = sorted(actual - set(listed))
    result.changed = sorted(name for name in set(listed) & actual if _sha256(package / name) != listed[name])
    problems = []
    if result.missing:
        problems.append(f"missing {_list(result.missing)}")
    if result.changed:
        problems.append(f"changed {_list(result.changed)}")
    if result.extra:
        problems.append(f"not in the manifest {_list(result.extra)}")
    if problems:
        result.checks.append(Check("files", FAILED, "; ".join(problems)))
    else:
        result.checks.append(Check("files", OK, f"{len(listed)} files match the SHA-256 in manifest.json"))
    return manifest


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE {relation}").fetchall()]


def _check_parquet(con: duckdb.DuckDBPyConnection, package: Path, tables: list[str], result: Verification) -> None:
    parquet = {p.stem: p for p in (package / "parquet").glob("*.parquet")} if (package / "parquet").is_dir() else {}
    problems = []
    only_db = sorted(set(tables) - set(parquet))
    only_pq = sorted(set(parquet) - set(tables))
    if only_db:
        problems.append(f"no Parquet copy of {_list(only_db)}")
    if only_pq:
        problems.append(f"Parquet files without a table: {_list(only_pq)}")
    equal = 0
    for name in sorted(set(tables) & set(parquet)):
        source = f"read_parquet('{str(parquet[name]).replace(chr(39), chr(39) * 2)}')"
        try:
            db_cols = [c for c in _columns(con, _quote(name)) if c != "geom"]
            pq_cols = [c for c in _columns(con, f"(SELECT * FROM {source})") if c != "geometry"]
        except duckdb.Error as exc:
            problems.append(f"{name}: unreadable ({str(exc).splitlines()[0]})")
            continue
        if db_cols != pq_cols:
            problems.append(f"{name}: columns differ ({_list(sorted(set(db_cols) ^ set(pq_cols)))})")
            continue
        cols = ", ".join(_quote(c) for c in db_cols)
        db_geo = "geom" in _columns(con, _quote(name))
        pq_geo = "geometry" in _columns(con, f"(SELECT * FROM {source})")
        left = f"SELECT {cols}{', ST_AsText(geom) AS _wkt' if db_geo and pq_geo else ''} FROM {_quote(name)}"
        right = f"SELECT {cols}{', ST_AsText(geometry) AS _wkt' if db_geo and pq_geo else ''} FROM {source}"
        try:
            counts = con.execute(f"SELECT (SELECT count(*) FROM {_quote(name)}), (SELECT count(*) FROM {source}), "
                                 f"(SELECT count(*) FROM ({left} EXCEPT ALL {right})), "
                                 f"(SELECT count(*) FROM ({right} EXCEPT ALL {left}))").fetchone()
        except duckdb.Error as exc:
            problems.append(f"{name}: cannot compare ({str(exc).splitlines()[0]})")
            continue
        n_db, n_pq, db_only, pq_only = counts
        if n_db != n_pq or db_only or pq_only:
            problems.append(f"{name}: {n_db} rows in report.duckdb, {n_pq} in Parquet, {db_only + pq_only} differ")
        else:
            equal += 1
    if problems:
        result.checks.append(Check("parquet", FAILED, "; ".join(problems)))
    else:
        result.checks.append(Check("parquet", OK, f"{equal} tables equal their Parquet copies"))


def _check_personal_data(con: duckdb.DuckDBPyConnection, package: Path, tables: list[str], result: Verification) -> None:
    found = []
    for name in tables:
        leaked = PERSONAL_QUESTIONS & set(_columns(con, _quote(name)))
        found += [f"{name}.{c}" for c in sorted(leaked)]
    for path in sorted((package / "parquet").glob("*.parquet")) if (package / "parquet").is_dir() else []:
        try:
            import pyarrow.parquet as pq

            leaked = PERSONAL_QUESTIONS & set(pq.read_schema(path).names)
        except Exception:  # an unreadable file is reported by the Parquet check
            continue
        found += [f"parquet/{path.name}:{c}" for c in sorted(leaked)]
    if found:
        result.checks.append(Check("personal_data", FAILED, f"personal-data columns present: {_list(found)}"))
    else:
        result.checks.append(Check("personal_data", OK, f"no {' / '.join(sorted(PERSONAL_QUESTIONS))} column in any table"))


# ----------------------------------------------------------------------------- recomputation

def _table(con: duckdb.DuckDBPyConnection, name: str) -> pd.DataFrame:
    cols = [c for c in _columns(con, _quote(name)) if c != "geom"]
    return con.execute(f"SELECT {', '.join(_quote(c) for c in cols)} FROM {_quote(name)}").df()


def _parameters(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    frame = _table(con, "parameters")
    return {str(n): float(v) for n, v in zip(frame["name"], frame["value"])}


def _day(value: object) -> dt.date:
    return pd.Timestamp(value).date()


def _plus_years(day: dt.date, years: int) -> dt.date:
    """Same month and day `years` later; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _days(values: pd.Series) -> np.ndarray:
    """Dates as ``datetime64[D]`` (missing as NaT, which compares false)."""
    return np.array([np.datetime64(v, "D") if isinstance(v, dt.date) else np.datetime64("NaT") for v in values],
                    dtype="datetime64[D]")


def _period_days(start: dt.date, end: dt.date) -> dict[int, int]:
    return {year: (min(end, dt.date(year, 12, 31)) - max(start, dt.date(year, 1, 1))).days + 1
            for year in range(start.year, end.year + 1)}


def _latest(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """Latest row per `key`: by visit_date, then ended_at (missing first), then submission_id."""
    if frame.empty:
        return frame
    ordered = frame.assign(_date=pd.to_datetime(frame["visit_date"]).dt.normalize(),
                           _ended=pd.to_datetime(frame["ended_at"], utc=True))
    ordered = ordered.sort_values(["_date", "_ended", "submission_id"], na_position="first", kind="mergesort")
    return ordered.drop_duplicates(key, keep="last").drop(columns=["_date", "_ended"])


def _ams_ii_g(con: duckdb.DuckDBPyConnection, info: dict[str, str], result: Verification) -> pd.DataFrame:
    p = _parameters(con)
    stored = _table(con, "emission_reductions").sort_values("vintage")
    efficiency = {name.split(".")[1]: value for name, value in p.items()
                  if name.startswith("stove_models.") and name.endswith(".efficiency")}
    life = int(p["technical_life_years"])
    checks = _Mismatches()
    stoves = _table(con, "stove_distribution")
    commissioned = {d: _day(d) for d in stoves["commissioned_on"].dropna().unique()}
    stoves["_from"] = stoves["commissioned_on"].map(commissioned)
    stoves["_to"] = stoves["_from"].map(lambda d: _plus_years(d, life))  # first day after technical life

    # usage: the latest visit per stove, counted when within technical life; K/n; 90/10 lower bound
    sample = _table(con, "usage_sample")
    visits = _table(con, "cookstove_usage") if "cookstove_usage" in _names(con) else None
    if visits is not None:
        latest = _latest(visits, "stove_serial")
        derived = set(zip(latest["stove_serial"].astype(str), latest["submission_id"].astype(str)))
        kept = set(zip(sample["stove_serial"].astype(str), sample["submission_id"].astype(str)))
        checks.compare("usage_sample = latest visit per stove", len(kept ^ derived), 0)
    register = stoves.set_index("stove_serial")
    visit_day = _days(pd.to_datetime(sample["visit_date"]).dt.date)
    start = _days(sample["stove_serial"].map(register["_from"]))
    stop = _days(sample["stove_serial"].map(register["_to"]))
    counted = pd.Series((start <= visit_day) & (visit_day < stop), index=sample.index)
    in_use = sample["stove_found"].astype(bool) & sample["stove_in_use"].fillna(False).astype(bool)
    checks.compare("usage_sample.counted (within technical life)",
                   int((sample["counted"].astype(bool) != counted).sum()), 0)
    checks.compare("usage_sample.in_use (found and in use)", int((sample["in_use"].astype(bool) != in_use).sum()), 0)
    n = int(counted.sum())
    k = int((counted & in_use).sum())
    if n == 0:
        usage = 0.0
    else:
        share = k / n
        moe = p["z"] * math.sqrt(share * (1 - share) / n)
        precise = share > 0 and moe / share <= p["usage_precision_target"]
        usage = share if precise else max(0.0, share - moe)
    steps = _table(con, "calculation_steps")
    steps["scope"] = steps["scope"].fillna("").astype(str)
    step = steps.set_index(["name", "scope"])["value"]
    if ("usage_rate_applied", "") in step.index:
        checks.compare("usage rate U", step[("usage_rate_applied", "")], usage)

    # device-years per model and calendar year from the register
    years = _table(con, "device_years")
    if info.get("period_start") and info.get("period_end"):
        period_start, period_end = _day(info["period_start"]), _day(info["period_end"])
        rows = []
        first, after = _days(stoves["_from"]), _days(stoves["_to"])
        for year in _period_days(period_start, period_end):
            lo = np.maximum(first, np.datetime64(max(period_start, dt.date(year, 1, 1)), "D"))
            hi = np.minimum(after - np.timedelta64(1, "D"), np.datetime64(min(period_end, dt.date(year, 12, 31)), "D"))
            days = np.clip((hi - lo).astype(np.int64) + 1, 0, None)
            rows.append(pd.DataFrame({"stove_model": stoves["stove_model"].astype(str), "vintage": year, "days": days}))
        derived_days = pd.concat(rows).groupby(["stove_model", "vintage"])["days"].sum()
        stored_days = years.set_index([years["stove_model"].astype(str), years["vintage"].astype(int)])["stove_days"]
        for key in sorted(set(derived_days.index) | set(stored_days.index)):
            checks.compare(f"stove-days {key[0]} {key[1]}", stored_days.get(key, 0), derived_days.get(key, 0))
        dy = (derived_days / 365.0).rename("device_years").reset_index()
    else:
        result.checks.append(Check("device_years", SKIPPED, "report_info has no period dates; stove-days taken as stored"))
        dy = years.assign(device_years=years["stove_days"].astype(float) / 365.0)[["stove_model", "vintage", "device_years"]]

    factor = p["b_old_t_per_device_year"] * p["fnrb"] * p["ncv_tj_per_t"] * p["ef_tco2_per_tj"] * p["ntg"]
    er: dict[int, float] = {}
    for row in dy.itertuples(index=False):
        saving = 1 - p["eta_baseline"] / efficiency[str(row.stove_model)]
        er[int(row.vintage)] = er.get(int(row.vintage), 0.0) + row.device_years * usage * saving * factor
    return _compare_er(stored, er, checks, result, f"AMS-II.G: n = {n}, K = {k}, U = {usage:.6f}")


def _names(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def _vm0047(con: duckdb.DuckDBPyConnection, info: dict[str, str], result: Verification) -> pd.DataFrame:
    from scipy import stats

    p = _parameters(con)
    checks = _Mismatches()
    stored = _table(con, "emission_reductions").sort_values("vintage")
    strata = _table(con, "strata").set_index("species_code")
    event = _table(con, "event_summary").iloc[0]
    plantings = _table(con, "tree_planting")
    survival = _table(con, "tree_survival")
    bunds = _table(con, "bund_plantation")
    measures = _table(con, "bund_tree_measure")

    # census: N_s and dead_s from the rows
    planted = plantings.drop_duplicates("tree_id")
    species_of = dict(zip(planted["tree_id"].astype(str), planted["species_code"].astype(str)))
    latest_tree = _latest(survival[survival["tree_id"].astype(str).isin(species_of)], "tree_id")
    status = dict(zip(latest_tree["tree_id"].astype(str), latest_tree["status"].astype(str)))
    latest_bund = _latest(bunds, "bund_id")
    census = pd.DataFrame({"species_code": planted["species_code"].astype(str),
                           "status": planted["tree_id"].astype(str).map(status).fillna("not_visited")})
    counts = pd.DataFrame({
        "n_tagged": census.groupby("species_code").size(),
        "n_dead_tagged": census[census["status"] == "dead"].groupby("species_code").size(),
        "n_not_found": census[census["status"] == "not_found"].groupby("species_code").size(),
        "n_not_visited": census[census["status"] == "not_visited"].groupby("species_code").size(),
        "n_bund_saplings": latest_bund.groupby(latest_bund["species_code"].astype(str))["saplings_planted"].sum(),
        "n_dead_bund": (latest_bund["saplings_planted"] - latest_bund["saplings_alive"])
        .groupby(latest_bund["species_code"].astype(str)).sum(),
    }).reindex(strata.index).fillna(0).astype("int64")
    counts["n_planted"] = counts["n_tagged"] + counts["n_bund_saplings"]
    counts["n_dead"] = counts["n_dead_tagged"] + counts["n_not_found"] + counts["n_not_visited"] + counts["n_dead_bund"]
    for species, row in counts.iterrows():
        for column in counts.columns:
            if column in strata.columns:
                checks.compare(f"{column} {species}", strata.at[species, column], row[column])

    # carbon per measured live tree (Chave et al. 2014 eq. 4), from girth, height and parameters
    trees = _table(con, "tree_sample")
    rho = trees["species_code"].astype(str).map(lambda s: p.get(f"species.{s}.wood_density", math.nan))
    ratio = trees["species_code"].astype(str).map(lambda s: p.get(f"species.{s}.root_shoot", math.nan))
    dbh = trees["gbh_cm"].astype(float) / math.pi
    height = trees["height_m"].astype(float)
    counts_zero = (dbh < p["dbh_min_cm"]) | dbh.isna() | height.isna()
    agb = (0.0673 * (rho * dbh ** 2 * height) ** 0.976 / 1000).where(~counts_zero, 0.0)
    carbon = agb * (1 + ratio) * p["carbon_fraction"]
    checks.compare("trees whose carbon differs from the allometry",
                   int((~np.isclose(carbon, trees["carbon_t"].astype(float), rtol=REL_TOL, atol=1e-15)).sum()), 0)
    alive = latest_tree[latest_tree["status"].astype(str) == "alive"]
    expected_n = (alive["tree_id"].astype(str).map(species_of).value_counts()
                  .add(measures[measures["in_sample"].astype(bool)]["m_species_code"].astype(str).value_counts(), fill_value=0))
    sampled = trees["species_code"].astype(str).value_counts()
    for species in strata.index:
        checks.compare(f"measured live trees {species}", sampled.get(species, 0), expected_n.get(species, 0))

    # strata statistics, stock and uncertainty
    by = pd.DataFrame({"species_code": trees["species_code"].astype(str), "c": carbon}).groupby("species_code")["c"]
    n_s = by.size().reindex(strata.index).fillna(0).astype(int)
    mean = by.mean().reindex(strata.index).fillna(0.0)
    sd = by.std(ddof=1).reindex(strata.index)
    se = sd / np.sqrt(n_s.where(n_s > 0))
    mortality = (counts["n_dead"] / counts["n_planted"]).where(counts["n_planted"] > 0, 0.0)
    live = counts["n_planted"] * (1 - mortality)
    used = (n_s >= 2) & (live > 0)
    stock_s = (live * mean).where(used, 0.0)
    se_stock_s = (live * se).where(used, 0.0)
    for species in strata.index:
        for column, value in (("mortality", mortality[species]), ("n_live", live[species]), ("n_sampled", n_s[species]),
                              ("mean_carbon_t", mean[species]), ("se_carbon_t", se[species]),
                              ("stock_t_c", stock_s[species]), ("se_stock_t_c", se_stock_s[species]),
                              ("in_estimate", bool(used[species]))):
            checks.compare(f"{column} {species}", strata.at[species, column], value)
    stock = float(stock_s.sum())
    se_total = math.sqrt(float((se_stock_s[used] ** 2).sum()))
    df = int(n_s[used].sum() - used.sum())
    t_value = float(stats.t.ppf(0.95, df)) if df >= 1 else math.nan
    u_p = t_value * se_total / stock if stock > 0 and df >= 1 else math.inf
    excess = u_p - p["uncertainty_allowance"]
    unc = 1.0 if (math.isnan(excess) or excess > 1) else max(0.0, excess)
    eligible = u_p <= 1.0
    delta_c = stock * 44.0 / 12.0
    adjusted = delta_c * (1 - unc)
    previous = float(event["credited_stock_prev_tco2e"])
    if eligible:
        removals = adjusted - previous
        buffer = p["buffer_rate"] * removals if removals > 0 else 0.0
        credited = adjusted
    else:
        removals = buffer = 0.0
        credited = previous
    net = removals - buffer
    for column, value in (("stock_t_c", stock), ("se_total_t_c", se_total), ("df", df), ("t_value", t_value),
                          ("u_p", u_p), ("unc", unc), ("eligible", eligible), ("delta_c_tco2e", delta_c),
                          ("adjusted_stock_tco2e", adjusted), ("removals_tco2e", removals), ("buffer_tco2e", buffer),
                          ("net_tco2e", net), ("credited_stock_tco2e", credited)):
        checks.compare(f"event_summary.{column}", event[column], value)

    if info.get("period_start") and info.get("period_end"):
        days = _period_days(_day(info["period_start"]), _day(info["period_end"]))
    else:
        steps = _table(con, "calculation_steps")
        spans = steps[steps["name"] == "vintage_days"]
        days = {int(s.split("=")[1]): int(v) for s, v in zip(spans["scope"], spans["value"])}
        result.checks.append(Check("vintage_days", SKIPPED, "report_info has no period dates; days per vintage taken "
                                                            "from calculation_steps"))
    total = sum(days.values())
    er = {year: net * d / total for year, d in days.items()}
    previous_id = str(event.get("previous_period_id", ""))
    note = (f"VM0047: stock {stock:.6f} t C, U_p {u_p:.4%}, UNC {unc:.4%}, credited stock of "
            f"{previous_id if previous_id not in ('', 'None', 'nan') else 'no previous period'} taken as stored "
            f"({previous:.6f} tCO2e)")
    return _compare_er(stored, er, checks, result, note)


def _compare_er(stored: pd.DataFrame, er: dict[int, float], checks: _Mismatches, result: Verification,
                note: str) -> pd.DataFrame:
    table = pd.DataFrame({"vintage": sorted(set(er) | set(stored["vintage"].astype(int)))})
    by_vintage = stored.set_index(stored["vintage"].astype(int))
    table["stored_er_tco2e"] = table["vintage"].map(by_vintage["er_tco2e"]).astype(float)
    table["recomputed_er_tco2e"] = table["vintage"].map(er).astype(float)
    table["stored_issuable_tco2e"] = table["vintage"].map(by_vintage["issuable_tco2e"]).astype("Int64")
    table["recomputed_issuable_tco2e"] = table["recomputed_er_tco2e"].map(
        lambda v: math.floor(v) if math.isfinite(v) else pd.NA).astype("Int64")
    table["ok"] = [_close(a, b) and c == d for a, b, c, d in zip(table["stored_er_tco2e"], table["recomputed_er_tco2e"],
                                                                  table["stored_issuable_tco2e"],
                                                                  table["recomputed_issuable_tco2e"])]
    for row in table.itertuples(index=False):
        checks.compare(f"emission_reductions {row.vintage} er_tco2e", row.stored_er_tco2e, row.recomputed_er_tco2e)
        checks.compare(f"emission_reductions {row.vintage} issuable_tco2e", row.stored_issuable_tco2e,
                       row.recomputed_issuable_tco2e)
    if checks.wrong:
        result.checks.append(Check("recompute", FAILED, f"{len(checks.wrong)} of {checks.compared} recomputed values "
                                                        f"differ: {_list(checks.wrong, 4)}"))
    else:
        total = float(table["recomputed_er_tco2e"].sum())
        result.checks.append(Check("recompute", OK, f"{checks.compared} values recomputed and equal; "
                                                    f"{len(table)} vintage(s), {total:,.6f} tCO2e ({note})"))
    result.recomputed = table
    return table


RECOMPUTE = {"cdm-ams-ii-g": _ams_ii_g, "vm0047-census": _vm0047}


def verify(package_dir: Path | str) -> Verification:
    """Check the package in `package_dir`; `UserError` when the folder does not exist."""
    package = Path(package_dir)
    if not package.is_dir():
        raise UserError(f"{package}: no such folder (give the folder written by `mrv report --out`)")
    if not (package / "manifest.json").exists() and not (package / "report.duckdb").exists():
        raise UserError(f"{package}: not a verifier package (neither manifest.json nor report.duckdb is there)")
    result = Verification(package)
    _check_files(package, result)
    database = package / "report.duckdb"
    if not database.exists():
        result.checks.append(Check("report.duckdb", FAILED, "report.duckdb is missing"))
        return result
    try:
        con = duckdb.connect(str(database), read_only=True)
    except duckdb.Error as exc:
        result.checks.append(Check("report.duckdb", FAILED, f"cannot be opened ({str(exc).splitlines()[0]})"))
        return result
    try:
        load_spatial(con)
        tables = sorted(_names(con))
        missing = [t for t in REQUIRED_TABLES if t not in tables]
        result.checks.append(Check("tables", FAILED if missing else OK,
                                   f"missing required table(s) {', '.join(missing)}" if missing
                                   else f"{len(tables)} tables, the required ones present"))
        _check_parquet(con, package, tables, result)
        _check_personal_data(con, package, tables, result)
        if missing:
            return result
        info_frame = _table(con, "report_info")
        info = {str(k): str(v) for k, v in zip(info_frame["key"], info_frame["value"])}
        recompute = RECOMPUTE.get(info.get("methodology", ""))
        if recompute is None:
            result.checks.append(Check("recompute", SKIPPED, f"no recomputation for methodology {info.get('methodology')}"))
            return result
        try:
            recompute(con, info, result)
        except (KeyError, ValueError, TypeError, duckdb.Error) as exc:
            result.checks.append(Check("recompute", FAILED, f"could not recompute from the stored rows "
                                                            f"({type(exc).__name__}: {exc})"))
    finally:
        con.close()
    return result
