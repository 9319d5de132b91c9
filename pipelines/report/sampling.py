"""Site-visit sample: a reproducible random list of units a verifier visits in the field.

The population is the accepted rows of the period's verifier package — for cookstoves the households
whose registered stove is within its technical life at some point of the period, for trees every
tagged tree and every bund (latest visit in the period). Units are stratified where the methodology
stratifies (cookstoves by stove model, trees by species), allocated proportionally to stratum size
with at least one unit per stratum (largest remainders decide the last units), and drawn without
replacement with ``numpy.random.default_rng(seed)`` from the units sorted by a stable key (stratum,
unit type, id). The same package, n and seed therefore always give the same list; the seed and n
are stored with it (``site_visit_sample`` table, CSV, manifest).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.errors import UserError

SAMPLE_COLUMNS = ["visit_no", "project_id", "period_id", "stratum", "unit_type", "unit_id", "household_id", "plot_id",
                  "farmer_id", "latitude", "longitude", "submission_id", "stratum_size", "stratum_sample",
                  "inclusion_probability", "seed", "n_requested", "stratified_by"]
STRATIFIED_BY = {"cdm-ams-ii-g": "stove_model", "vm0047-census": "species_code"}


def _info(tables: dict[str, pd.DataFrame]) -> dict[str, str]:
    frame = tables["report_info"]
    return {str(k): str(v) for k, v in zip(frame["key"], frame["value"])}


def _stove_population(tables: dict[str, pd.DataFrame], info: dict[str, str]) -> pd.DataFrame:
    stoves = tables["stove_distribution"]
    commissioned = pd.to_datetime(stoves["commissioned_on"])
    keep = pd.Series(True, index=stoves.index)
    params = tables.get("parameters")
    life = params.loc[params["name"] == "technical_life_years", "value"] if params is not None else pd.Series([], dtype=float)
    if info.get("period_start") and info.get("period_end") and len(life):
        # Only stoves active at some point of the period earn credits, so only they are worth a visit.
        expiry = commissioned + pd.DateOffset(years=int(life.iloc[0]))
        keep = (commissioned <= pd.Timestamp(info["period_end"])) & (expiry > pd.Timestamp(info["period_start"]))
    stoves = stoves[keep]
    return pd.DataFrame({"stratum": stoves["stove_model"].astype(str), "unit_type": "stove",
                         "unit_id": stoves["stove_serial"].astype(str), "household_id": stoves["household_id"].astype(str),
                         "plot_id": None, "farmer_id": None, "latitude": stoves["latitude"].astype(float),
                         "longitude": stoves["longitude"].astype(float),
                         "submission_id": stoves["submission_id"].astype(str)})


def _tree_population(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    trees = tables["tree_planting"].drop_duplicates("tree_id")
    parts = [pd.DataFrame({"stratum": trees["species_code"].astype(str), "unit_type": "tree",
                           "unit_id": trees["tree_id"].astype(str), "household_id": None,
                           "plot_id": trees["plot_id"].astype(str), "farmer_id": None,
                           "latitude": trees["latitude"].astype(float), "longitude": trees["longitude"].astype(float),
                           "submission_id": trees["submission_id"].astype(str)})]
    bunds = tables.get("bund_plantation")
    if bunds is not None and len(bunds):
        latest = bunds[bunds["latest_visit"].astype(bool)].drop_duplicates("bund_id")
        parts.append(pd.DataFrame({"stratum": latest["species_code"].astype(str), "unit_type": "bund",
                                   "unit_id": latest["bund_id"].astype(str), "household_id": None,
                                   "plot_id": latest["plot_id"].astype(str), "farmer_id": latest["farmer_id"].astype(str),
                                   "latitude": latest["latitude"].astype(float),
                                   "longitude": latest["longitude"].astype(float),
                                   "submission_id": latest["submission_id"].astype(str)}))
    return pd.concat(parts, ignore_index=True)


def population(tables: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, str]:
    """(units sorted by stratum, unit type and id; the stratifying column) of a package's tables."""
    info = _info(tables)
    methodology = info.get("methodology", "")
    if methodology == "cdm-ams-ii-g":
        units = _stove_population(tables, info)
    elif methodology == "vm0047-census":
        units = _tree_population(tables)
    else:
        raise UserError(f"no site-visit sampling for methodology {methodology!r}")
    units = units.sort_values(["stratum", "unit_type", "unit_id"], kind="mergesort", ignore_index=True)
    return units, STRATIFIED_BY[methodology]


def allocate(sizes: pd.Series, n: int) -> pd.Series:
    """Units per stratum: proportional to stratum size, at least 1 each, summing to `n`.

    ``n_h = max(1, floor(n N_h / N))`` (capped at N_h); the remaining units go, one at a time, to the
    strata furthest below their quota ``n N_h / N`` (ties: stratum order); excess units come off
    the strata furthest above it. All units are taken when ``n ≥ N``.
    """
    sizes = sizes.astype("int64")
    total = int(sizes.sum())
    if total == 0:
        raise UserError("the package has no accepted units to sample from")
    if n >= total:
        return sizes.copy()
    if n < len(sizes):
        raise UserError(f"n = {n} is below the number of strata ({len(sizes)}: {', '.join(map(str, sizes.index))}); "
                        "every stratum needs at least one visit")
    quota = sizes * n / total
    alloc = np.minimum(np.maximum(1, np.floor(quota)), sizes).astype("int64")
    while alloc.sum() < n:
        gap = (quota - alloc).where(alloc < sizes, -math.inf)
        alloc[gap.idxmax()] += 1
    while alloc.sum() > n:
        gap = (quota - alloc).where(alloc > 1, math.inf)
        alloc[gap.idxmin()] -= 1
    return alloc


def draw(tables: dict[str, pd.DataFrame], n: int, seed: int) -> pd.DataFrame:
    """The site-visit list of a package's tables: `n` units, stratified, drawn with `seed`."""
    if n < 1:
        raise UserError(f"--n must be at least 1 (got {n})")
    if seed < 0:
        raise UserError(f"--seed must be a non-negative integer (got {seed})")
    info = _info(tables)
    units, stratified_by = population(tables)
    sizes = units.groupby("stratum", sort=True).size()
    alloc = allocate(sizes, n)
    rng = np.random.default_rng(seed)
    picked = []
    for stratum, size in sizes.items():
        members = units[units["stratum"] == stratum]
        chosen = np.sort(rng.choice(int(size), size=int(alloc[stratum]), replace=False))
        picked.append(members.iloc[chosen].assign(stratum_size=int(size), stratum_sample=int(alloc[stratum]),
                                                  inclusion_probability=float(alloc[stratum]) / float(size)))
    sample = pd.concat(picked, ignore_index=True)
    sample.insert(0, "visit_no", np.arange(1, len(sample) + 1, dtype="int64"))
    sample = sample.assign(project_id=info.get("project_id"), period_id=info.get("period_id"), seed=int(seed),
                           n_requested=int(n), stratified_by=stratified_by)
    return sample[SAMPLE_COLUMNS].astype({"stratum_size": "int64", "stratum_sample": "int64", "seed": "int64",
                                          "n_requested": "int64"})


def write_site_visit_sample(package_dir: Path, n: int, seed: int) -> pd.DataFrame:
    """Draw the list from the package in `package_dir` and store it there (table, Parquet, CSV, manifest)."""
    from pipelines.report.package import SITE_VISIT_TABLE, add_tables, read_tables

    tables = read_tables(package_dir)
    if "report_info" not in tables:
        raise UserError(f"{package_dir} is not a verifier package (no report_info table)")
    sample = draw(tables, n, seed)
    add_tables(package_dir, {SITE_VISIT_TABLE: sample}, {SITE_VISIT_TABLE: "point"})
    return sample
