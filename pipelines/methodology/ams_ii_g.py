"""CDM AMS-II.G v13.1: energy efficiency measures in thermal applications of non-renewable biomass.

Emission reductions of improved biomass cookstoves, as fixed by the pipeline contract
(``contracts/pipeline.md``, "Calculation conventions", AMS-II.G). Where the contract and the
implementation spec (``methodology/cookstove_methodology.md``) differ, the contract is followed:

.. math::

    ER_y = B_{y,savings} \\cdot f_{NRB} \\cdot NCV_{biomass} \\cdot EF_{projected\\_fossilfuel}
           \\cdot NTG                                                                    (G1)

    B_{y,savings} = \\sum_k DY_{k,y} \\cdot U_y \\cdot B_{old}
                    \\cdot (1 - \\eta_{old} / \\eta_{new,k})                             (G2)

Conventions of the contract, in the order the chain uses them:

* **Device-years** ``DY_k`` = Σ over stoves of model k of the days the stove is active in the
  monitoring period / 365. A stove is active from ``commissioned_on`` until the day before
  ``commissioned_on + technical_life_years`` (calendar years; 29 Feb + n years is 28 Feb when the
  target year is not a leap year), clipped to the period, both ends inclusive. The divisor is
  always 365: the spec's optional cap of 1 device-year per stove per calendar year (spec §2.2) is
  *not* applied.
* **Usage** ``U`` = K / n over the stoves visited in the period: the latest accepted visit per stove
  (latest ``visit_date``, ties broken by ``ended_at`` then ``submission_id``), counted only when the
  stove is within its technical life on that visit's date. K counts the visits with the stove found
  *and* in use; a stove not found counts as not in use (spec §2.3, "non-response").
* **90/10 rule**: when the relative precision ``z·√(p(1−p)/n) / p`` exceeds the target, the lower
  bound ``p − z·√(p(1−p)/n)`` is used; no finite-population correction (spec §2.3).
* **Vintages**: the same formula with the stove-days falling in each calendar year. The chain is
  linear in the stove-days, so the vintages add up to the period's ER (spec §2.2, vector A4).
* **Issuance**: full precision through the chain; issuable = floor of each vintage (spec §2.4).

Equation numbers (G1), (G2) are those of the implementation spec §3.2, which follows the notation of
AMS-II.G. Only stoves whose distribution record was accepted may be passed in; filtering
quarantined rows is the caller's job. Every intermediate value is recorded in a `StepLog`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.methodology.steps import StepLog

METHODOLOGY = "CDM AMS-II.G v13.1"
REF_G1 = f"{METHODOLOGY} eq. (G1)"
REF_G2 = f"{METHODOLOGY} eq. (G2)"
REF_CAP = f"{METHODOLOGY} applicability: Type II limit 180 GWh_th per year"
REF_DEVICE_YEARS = "pipeline contract: AMS-II.G device-years (days active / 365)"
REF_USAGE = "pipeline contract: usage rate (K/n, 90/10 lower bound, no FPC)"
REF_VINTAGE = "pipeline contract: vintages by calendar year; issuable = floor"

#: Type II small-scale limit on energy savings, GWh_th per year.
SMALL_SCALE_LIMIT_GWH_TH = 180.0
#: 1 GWh = 3.6 TJ.
TJ_PER_GWH = 3.6
#: Contract: device-years always divide by 365, also in leap years.
DAYS_PER_DEVICE_YEAR = 365

PARAMETER_KEYS = ("fnrb", "ncv_tj_per_t", "ef_tco2_per_tj", "eta_baseline",
                  "b_old_t_per_device_year", "ntg", "stove_models")


# ----------------------------------------------------------------------------- dates


def _as_day(value) -> np.datetime64:
    """One date (str, date, Timestamp, datetime64) as ``datetime64[D]``."""
    day = np.datetime64(pd.Timestamp(value).date(), "D")
    if np.isnat(day):
        raise ValueError(f"not a date: {value!r}")
    return day


def _as_days(values) -> np.ndarray:
    """Dates (Series, Index, array, list) as a ``datetime64[D]`` array; times of day are dropped."""
    if isinstance(values, (pd.Series, pd.Index)):
        stamps = pd.to_datetime(values)
        if getattr(stamps.dtype, "tz", None) is not None:
            stamps = stamps.dt.tz_localize(None) if isinstance(stamps, pd.Series) \
                else stamps.tz_localize(None)
        return np.asarray(stamps.to_numpy(dtype="datetime64[ns]"), dtype="datetime64[D]")
    return np.asarray(values, dtype="datetime64[D]")


def _year(day: np.datetime64) -> int:
    return int(day.astype("datetime64[Y]").astype(int)) + 1970


def _whole_years(years) -> np.ndarray:
    years = np.asarray(years, dtype=float)
    if np.isnan(years).any() or (years != np.round(years)).any():
        raise ValueError("years must be whole numbers (technical life is counted in calendar years)")
    return years.astype(np.int64)


def add_calendar_years(dates, years):
    r"""Add whole calendar years to dates; 29 February lands on 28 February in a non-leap year.

    This is the technical-life expiry ``c_i + L`` of the implementation spec §2.2 (Appendix A,
    ``add_years``): same month and day, ``years`` later, except that 29 Feb + n years is 28 Feb
    when the target year has no 29 February.

    Parameters
    ----------
    dates : pandas.Series, array-like or scalar of dates
        Dates (``datetime64``, ``datetime.date``, ``Timestamp`` or ISO strings). Times of day are
        dropped. NaT stays NaT.
    years : int or array-like of int
        Calendar years to add [years], a scalar or one value per date. Must be whole numbers.

    Returns
    -------
    pandas.Series, numpy.ndarray or numpy.datetime64
        A Series (same index and name, same datetime unit) for a Series input; else a
        ``datetime64[D]`` array, or a ``datetime64[D]`` scalar for a scalar input.

    References
    ----------
    Implementation spec §2.2 "Device activity window"; pipeline contract, AMS-II.G
    ("until the day before commissioned_on + technical_life_years (calendar years)").
    """
    days = _as_days(dates)
    shift = _whole_years(years.to_numpy() if isinstance(years, pd.Series) else years)
    missing = np.isnat(days)
    safe = np.where(missing, np.datetime64("2000-01-01", "D"), days)

    year = safe.astype("datetime64[Y]")
    month = safe.astype("datetime64[M]")
    month_of_year = (month - year.astype("datetime64[M]")).astype(np.int64)
    day_of_month = (safe - month.astype("datetime64[D]")).astype(np.int64)

    new_month = (year.astype(np.int64) + shift).astype("datetime64[Y]").astype("datetime64[M]") \
        + month_of_year
    month_length = ((new_month + 1).astype("datetime64[D]")
                    - new_month.astype("datetime64[D]")).astype(np.int64)
    # Only 29 Feb can overflow its month when the year changes: it becomes 28 Feb.
    result = new_month.astype("datetime64[D]") + np.minimum(day_of_month, month_length - 1)
    result = np.where(missing, np.datetime64("NaT", "D"), result)

    if isinstance(dates, pd.Series):
        dtype = dates.dtype if isinstance(dates.dtype, np.dtype) and dates.dtype.kind == "M" \
            else "datetime64[s]"
        return pd.Series(result, index=dates.index, name=dates.name).astype(dtype)
    if np.ndim(dates) == 0:
        return result[()]
    return result


# ----------------------------------------------------------------------------- device-years


def _technical_life_years(stoves: pd.DataFrame, technical_life_years) -> np.ndarray:
    """Per-stove technical life [years]: the stove's own value, else the project value."""
    if "technical_life_years" in stoves.columns:
        life = pd.to_numeric(stoves["technical_life_years"]).astype(float)
        if technical_life_years is not None:
            life = life.fillna(float(technical_life_years))
    elif technical_life_years is not None:
        life = pd.Series(float(technical_life_years), index=stoves.index)
    else:
        raise ValueError("technical_life_years is required (no per-stove technical_life_years column)")
    if life.isna().any():
        serials = stoves.loc[life.isna(), "stove_serial"].tolist()
        raise ValueError(f"technical life missing for stoves {serials}")
    return _whole_years(life.to_numpy())


def _check_stoves(stoves: pd.DataFrame) -> None:
    missing = {"stove_serial", "stove_model", "commissioned_on"} - set(stoves.columns)
    if missing:
        raise ValueError(f"stoves is missing columns {sorted(missing)}")
    duplicated = stoves["stove_serial"][stoves["stove_serial"].duplicated()]
    if len(duplicated):
        raise ValueError(f"stove_serial not unique (double counting): {sorted(set(duplicated))}")
    undated = stoves["commissioned_on"].isna()
    if undated.any():
        raise ValueError(f"commissioned_on missing for stoves {stoves.loc[undated, 'stove_serial'].tolist()}")


def _life_end(stoves: pd.DataFrame, technical_life_years) -> tuple[np.ndarray, np.ndarray]:
    """Commissioning day and first day after technical life (exclusive end), ``datetime64[D]``."""
    commissioned = _as_days(stoves["commissioned_on"])
    expiry = add_calendar_years(commissioned, _technical_life_years(stoves, technical_life_years))
    return commissioned, expiry


def stove_days_by_vintage(stoves: pd.DataFrame, period_start, period_end,
                          technical_life_years=None) -> pd.DataFrame:
    r"""Stove-days per stove model and calendar year (vintage) of a monitoring period.

    A stove i is active from its commissioning day :math:`c_i` to the day before
    :math:`c_i + L_i` (calendar years), clipped to the period :math:`[d_{start}, d_{end}]`
    (both inclusive). Its active days in vintage y are

    .. math::

        a_{i,y} = \left|\,[\max(d_{start}, c_i, \mathrm{1\,Jan}_y),\;
                  \min(d_{end}, c_i + L_i - 1, \mathrm{31\,Dec}_y)]\,\right|, \quad a_{i,y} \ge 0

    and the stove-days of model k in vintage y are :math:`\sum_{i \in k} a_{i,y}` [days].

    Parameters
    ----------
    stoves : pandas.DataFrame
        Accepted distribution records, one row per stove: ``stove_serial`` (str, unique),
        ``stove_model`` (str), ``commissioned_on`` (date) and optionally ``technical_life_years``
        (per-stove technical life [years]; blank cells fall back to ``technical_life_years``).
    period_start, period_end : date-like
        Monitoring period, both days inclusive.
    technical_life_years : int, optional
        Project technical life L [whole calendar years]; required unless every stove has its own.

    Returns
    -------
    pandas.DataFrame
        One row per stove model (present in ``stoves``) and calendar year touched by the period:
        ``stove_model``; ``vintage`` (int, calendar year); ``stoves_active`` (int, stoves with more
        than 0 active days in that vintage); ``stove_days`` (int, [days]).

    References
    ----------
    Pipeline contract, AMS-II.G (``DY_m``; vintages); implementation spec §2.2.
    """
    _check_stoves(stoves)
    start, end = _as_day(period_start), _as_day(period_end)
    if end < start:
        raise ValueError(f"period ends ({end}) before it starts ({start})")
    commissioned, expiry = _life_end(stoves, technical_life_years)
    first_active = np.maximum(commissioned, start)
    last_active = np.minimum(expiry - np.timedelta64(1, "D"), end)

    per_year = []
    for vintage in range(_year(start), _year(end) + 1):
        year_start = np.datetime64(f"{vintage:04d}-01-01", "D")
        year_end = np.datetime64(f"{vintage:04d}-12-31", "D")
        days = (np.minimum(last_active, year_end) - np.maximum(first_active, year_start)) \
            .astype(np.int64) + 1
        days = np.clip(days, 0, None)
        per_year.append(pd.DataFrame({
            "stove_model": stoves["stove_model"].to_numpy(),
            "vintage": vintage,
            "active": days > 0,
            "stove_days": days,
        }))
    long = pd.concat(per_year, ignore_index=True)
    out = (long.groupby(["stove_model", "vintage"], as_index=False, sort=True)
           .agg(stoves_active=("active", "sum"), stove_days=("stove_days", "sum")))
    return out.astype({"vintage": "int64", "stoves_active": "int64", "stove_days": "int64"})


def device_years(stove_days: pd.DataFrame) -> pd.DataFrame:
    r"""Add device-years to a stove-days table: :math:`DY = \text{stove-days} / 365`.

    The divisor is always 365 (pipeline contract), so a stove active through a whole leap year
    earns 366/365 device-years; the spec's optional cap at 1 per calendar year is not applied.

    Parameters
    ----------
    stove_days : pandas.DataFrame
        Output of `stove_days_by_vintage` (any frame with a ``stove_days`` column [days]).

    Returns
    -------
    pandas.DataFrame
        A copy with ``device_years`` [device-years] added.

    References
    ----------
    Pipeline contract, AMS-II.G (``DY_m``); implementation spec §2.2 "Device-years".
    """
    out = stove_days.copy()
    out["device_years"] = out["stove_days"].astype(float) / DAYS_PER_DEVICE_YEAR
    return out


# ----------------------------------------------------------------------------- usage


SAMPLE_COLUMNS = ["stove_serial", "submission_id", "visit_date", "stove_found", "stove_in_use",
                  "visits_in_period", "within_technical_life", "counted", "in_use"]


def select_usage_sample(visits: pd.DataFrame, stoves: pd.DataFrame, period_start, period_end,
                        technical_life_years=None) -> pd.DataFrame:
    r"""The usage-survey sample of a period: the latest visit per stove, and whether it counts.

    For every stove of ``stoves`` visited in the period, the latest visit (by ``visit_date``, ties
    broken by ``ended_at`` — a missing ``ended_at`` is the earliest — then ``submission_id``) is
    kept. It is *counted* (enters n) when the stove is within its technical life on the visit's
    date, :math:`c_i \le d_{visit} < c_i + L_i`. It is *in use* (enters K) when the stove was
    found and in use; a stove not found is not in use.

    Parameters
    ----------
    visits : pandas.DataFrame
        Accepted ``cookstove_usage`` rows: ``submission_id``, ``stove_serial``, ``visit_date``
        (date), ``ended_at`` (timestamp, may be NaT), ``stove_found`` (bool), ``stove_in_use``
        (nullable boolean, NA when the stove was not found). Visits outside the period, and visits
        of serials not in ``stoves``, are ignored.
    stoves : pandas.DataFrame
        Accepted distribution records, as for `stove_days_by_vintage`.
    period_start, period_end : date-like
        Monitoring period, both days inclusive.
    technical_life_years : int, optional
        Project technical life L [whole calendar years] (per-stove values override it).

    Returns
    -------
    pandas.DataFrame
        One row per visited stove, sorted by serial: ``stove_serial``, ``submission_id``,
        ``visit_date``, ``stove_found``, ``stove_in_use`` (of the latest visit);
        ``visits_in_period`` (int, accepted visits of that stove in the period);
        ``within_technical_life`` (bool); ``counted`` (bool, enters n);
        ``in_use`` (bool, found and in use). ``n = counted.sum()``,
        ``K = (counted & in_use).sum()``.

    References
    ----------
    Pipeline contract, AMS-II.G (usage ``U = K/n``) and data-quality rule ``repeat_visit``
    (the latest visit is used); implementation spec §2.3 "Non-response".
    """
    _check_stoves(stoves)
    start, end = _as_day(period_start), _as_day(period_end)
    visit_day = _as_days(visits["visit_date"])
    in_period = (visit_day >= start) & (visit_day <= end)
    known = visits["stove_serial"].isin(stoves["stove_serial"]).to_numpy()
    period_visits = visits.loc[in_period & known].copy()
    period_visits["_visit_day"] = visit_day[in_period & known]
    period_visits["visits_in_period"] = (
        period_visits.groupby("stove_serial")["submission_id"].transform("size").astype("int64"))

    latest = (period_visits
              .sort_values(["stove_serial", "_visit_day", "ended_at", "submission_id"],
                           na_position="first", kind="mergesort")
              .drop_duplicates("stove_serial", keep="last")
              .reset_index(drop=True))

    commissioned, expiry = _life_end(stoves, technical_life_years)
    position = pd.Index(stoves["stove_serial"]).get_indexer(latest["stove_serial"])
    day = latest["_visit_day"].to_numpy(dtype="datetime64[D]")
    latest["within_technical_life"] = (commissioned[position] <= day) & (day < expiry[position])
    latest["counted"] = latest["within_technical_life"]
    found = latest["stove_found"].astype("boolean").fillna(False).astype(bool)
    in_use = latest["stove_in_use"].astype("boolean").fillna(False).astype(bool)
    latest["in_use"] = found & in_use
    return latest[SAMPLE_COLUMNS].astype({"within_technical_life": bool, "counted": bool,
                                          "in_use": bool})


@dataclass(frozen=True)
class UsageEstimate:
    """Usage rate of a period with its sampling statistics (see `usage_rate`).

    k: stoves found in use, K [count]. n: stoves counted, n [count]. p: K/n [fraction].
    standard_error: √(p(1−p)/n) [fraction]. margin_of_error: z·SE [fraction].
    relative_precision: MOE/p [fraction]. meets_target: relative precision ≤ target.
    applied: the usage rate U used in (G2) [fraction].
    """

    k: int
    n: int
    p: float
    standard_error: float
    margin_of_error: float
    relative_precision: float
    meets_target: bool
    applied: float


def usage_rate(k: int, n: int, z: float, precision_target: float) -> UsageEstimate:
    r"""Usage rate U with the 90/10 rule: the point estimate, or its lower bound.

    .. math::

        \hat p = K/n, \quad SE = \sqrt{\hat p (1-\hat p)/n}, \quad MOE = z \cdot SE, \quad
        RP = MOE / \hat p

        U = \hat p \text{ if } RP \le \text{target}, \text{ else } \max(0, \hat p - MOE)

    No finite-population correction is applied.

    Edge cases: n = 0 (nobody counted) gives p = 0, SE = MOE = inf, RP = inf, target not met,
    U = 0. K = 0 gives p = 0, SE = MOE = 0, RP = inf (undefined, so the target is not met), U = 0.
    K = n gives SE = 0, RP = 0, U = 1.

    Parameters
    ----------
    k : int
        K, counted stoves found and in use [count].
    n : int
        n, counted stoves [count].
    z : float
        Normal quantile; the contract uses ``scipy.stats.norm.ppf(0.95)`` (two-sided 90 %).
    precision_target : float
        Largest acceptable relative precision [fraction], ``usage_precision_target`` (0.10).

    Returns
    -------
    UsageEstimate

    References
    ----------
    Pipeline contract, AMS-II.G (``U``); implementation spec §2.3 "Proportion" and "90/10 rule".
    """
    k, n = int(k), int(n)
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= K <= n, got K={k}, n={n}")
    if n == 0:
        return UsageEstimate(k, n, 0.0, math.inf, math.inf, math.inf, False, 0.0)
    p = k / n
    standard_error = math.sqrt(p * (1.0 - p) / n)
    margin = z * standard_error
    relative_precision = margin / p if p > 0 else math.inf
    meets_target = relative_precision <= precision_target
    applied = p if meets_target else max(0.0, p - margin)
    return UsageEstimate(k, n, p, standard_error, margin, relative_precision, meets_target, applied)


# ----------------------------------------------------------------------------- emission reductions


def saving_fraction(eta_baseline, efficiency):
    r"""Fraction of baseline biomass saved by a project device, :math:`1 - \eta_{old}/\eta_{new}`.

    Parameters
    ----------
    eta_baseline : float or array-like
        :math:`\eta_{old}`, efficiency of the baseline device [fraction] (0.10 three-stone fire).
    efficiency : float or array-like
        :math:`\eta_{new,k}`, efficiency of the project device model [fraction], > 0.

    Returns
    -------
    float or array-like
        Saving fraction [fraction]; negative when the project device is less efficient.

    References
    ----------
    CDM AMS-II.G v13.1 eq. (G2), Option 1 "efficiency ratio".
    """
    if np.any(np.asarray(efficiency, dtype=float) <= 0):
        raise ValueError("project device efficiency must be > 0")
    return 1.0 - eta_baseline / efficiency


@dataclass
class AmsIIGResult:
    """Emission reductions of one monitoring period (see `emission_reductions`).

    by_vintage: vintage, device_years, b_savings_t, er_tco2e, issuable_tco2e.
    by_model: stove_model, vintage, device_years, operating_device_years, saving_fraction,
        b_savings_t.
    total_er_tco2e: ER of the period [tCO2e], unrounded (= sum of the vintages).
    steps: every intermediate value, in the order computed.
    """

    by_vintage: pd.DataFrame
    by_model: pd.DataFrame
    total_er_tco2e: float
    steps: StepLog


def _record_usage(steps: StepLog, usage: UsageEstimate) -> None:
    steps.add("usage_sample_size", "n", usage.n, "count",
              "n = stoves with a latest visit in the period, within technical life", REF_USAGE)
    steps.add("usage_in_use_count", "K", usage.k, "count",
              "K = counted stoves found and in use (not found = not in use)", REF_USAGE)
    steps.add("usage_proportion", "p", usage.p, "fraction", "p = K / n", REF_USAGE)
    steps.add("usage_standard_error", "SE", usage.standard_error, "fraction",
              "SE = sqrt(p (1 - p) / n)", REF_USAGE)
    steps.add("usage_margin_of_error", "MOE", usage.margin_of_error, "fraction",
              "MOE = z SE, z = norm.ppf(0.95)", REF_USAGE)
    steps.add("usage_relative_precision", "RP", usage.relative_precision, "fraction",
              "RP = MOE / p", REF_USAGE)
    steps.add("usage_meets_precision_target", "RP <= target", int(usage.meets_target), "0/1",
              "1 if RP <= usage_precision_target else 0", REF_USAGE)
    steps.add("usage_rate_applied", "U_y", usage.applied, "fraction",
              "U_y = p if RP <= target else max(0, p - MOE)", REF_USAGE)


def emission_reductions(device_years: pd.DataFrame, usage: UsageEstimate,
                        params: Mapping) -> AmsIIGResult:
    r"""Emission reductions per stove model, vintage and period (AMS-II.G Option 1).

    For stove model k and vintage y (calendar year):

    .. math::

        B_{k,y,savings} = DY_{k,y} \cdot U \cdot B_{old} \cdot (1 - \eta_{old}/\eta_{new,k})  (G2)

        ER_y = \Big(\sum_k B_{k,y,savings}\Big) \cdot f_{NRB} \cdot NCV \cdot EF \cdot NTG   (G1)

    The period's ER is the sum of the vintages (the chain is linear in the stove-days), and the
    issuable credits of a vintage are :math:`\lfloor ER_y \rfloor`. Energy saved,
    :math:`E_y = B_{y,savings} \cdot NCV` [TJ] = E_y / 3.6 [GWh_th], is checked against the
    Type II limit of 180 GWh_th per year; the result is recorded as a 0/1 step, not raised.

    Parameters
    ----------
    device_years : pandas.DataFrame
        Output of `device_years`: ``stove_model``, ``vintage``, ``device_years`` [device-years].
    usage : UsageEstimate
        Output of `usage_rate`; ``usage.applied`` is U [fraction].
    params : Mapping
        ``fnrb`` [fraction], ``ncv_tj_per_t`` [TJ/t], ``ef_tco2_per_tj`` [tCO2/TJ],
        ``eta_baseline`` [fraction], ``b_old_t_per_device_year`` [t/device-year], ``ntg``
        [fraction], ``stove_models`` (``{model: {"efficiency": fraction}}``).

    Returns
    -------
    AmsIIGResult
        ``by_model`` (stove_model, vintage, device_years, operating_device_years [device-years],
        saving_fraction, b_savings_t [t]), ``by_vintage`` (vintage, device_years, b_savings_t [t],
        er_tco2e [tCO2e], issuable_tco2e [int tCO2e]), ``total_er_tco2e`` [tCO2e] and ``steps``.

    Raises
    ------
    ValueError
        A stove model of ``device_years`` has no efficiency in ``params["stove_models"]``, or a
        parameter is missing.

    References
    ----------
    CDM AMS-II.G v13.1 eqs. (G1), (G2) and the 180 GWh_th Type II limit; pipeline contract,
    AMS-II.G (vintages, issuable = floor); implementation spec §3.2, §2.4.
    """
    missing = [key for key in PARAMETER_KEYS if key not in params]
    if missing:
        raise ValueError(f"AMS-II.G parameters missing: {missing}")
    models = params["stove_models"]
    unknown = sorted(set(device_years["stove_model"]) - set(models))
    if unknown:
        raise ValueError(f"stove model(s) {unknown} have no efficiency in parameters stove_models")

    fnrb = float(params["fnrb"])
    ncv = float(params["ncv_tj_per_t"])
    ef = float(params["ef_tco2_per_tj"])
    eta_baseline = float(params["eta_baseline"])
    b_old = float(params["b_old_t_per_device_year"])
    ntg = float(params["ntg"])
    u = usage.applied

    steps = StepLog()
    _record_usage(steps, usage)

    efficiency = {model: float(spec["efficiency"]) for model, spec in models.items()}
    by_model = (device_years[["stove_model", "vintage", "device_years"]]
                .sort_values(["stove_model", "vintage"]).reset_index(drop=True))
    by_model["operating_device_years"] = by_model["device_years"] * u
    by_model["saving_fraction"] = saving_fraction(
        eta_baseline, by_model["stove_model"].map(efficiency).astype(float))
    by_model["b_savings_t"] = by_model["operating_device_years"] * b_old * by_model["saving_fraction"]

    for model in by_model["stove_model"].unique():
        steps.add("saving_fraction", "1 - eta_old/eta_new,k",
                  saving_fraction(eta_baseline, efficiency[model]), "fraction",
                  "1 - eta_baseline / efficiency_k", REF_G2, f"model={model}")
    for row in by_model.itertuples(index=False):  # one row per model and calendar year
        scope = f"model={row.stove_model},vintage={row.vintage}"
        steps.add("device_years", "DY_k,y", row.device_years, "device-years",
                  "DY_k,y = stove-days_k,y / 365", REF_DEVICE_YEARS, scope)
        steps.add("operating_device_years", "DY_k,y U_y", row.operating_device_years,
                  "device-years", "DY_k,y x U_y", REF_G2, scope)
        steps.add("biomass_savings", "B_k,y,savings", row.b_savings_t, "t",
                  "DY_k,y x U_y x B_old x (1 - eta_old/eta_new,k)", REF_G2, scope)

    by_vintage = (by_model.groupby("vintage", as_index=False, sort=True)
                  [["device_years", "b_savings_t"]].sum())
    energy_tj = by_vintage["b_savings_t"] * ncv
    energy_gwh = energy_tj / TJ_PER_GWH
    er_gross = by_vintage["b_savings_t"] * fnrb * ncv * ef
    by_vintage["er_tco2e"] = er_gross * ntg
    by_vintage["issuable_tco2e"] = np.floor(by_vintage["er_tco2e"]).astype("int64")

    for i, row in enumerate(by_vintage.itertuples(index=False)):  # one row per calendar year
        scope = f"vintage={row.vintage}"
        steps.add("device_years", "DY_y", row.device_years, "device-years",
                  "DY_y = sum_k DY_k,y", REF_DEVICE_YEARS, scope)
        steps.add("biomass_savings", "B_y,savings", row.b_savings_t, "t",
                  "B_y,savings = sum_k B_k,y,savings", REF_G2, scope)
        steps.add("energy_saved_tj", "E_y", energy_tj.iloc[i], "TJ",
                  "E_y = B_y,savings x NCV_biomass", REF_CAP, scope)
        steps.add("energy_saved_gwh_th", "E_y", energy_gwh.iloc[i], "GWh_th",
                  "E_y[GWh_th] = E_y[TJ] / 3.6", REF_CAP, scope)
        steps.add("small_scale_limit_met", "E_y <= 180", int(energy_gwh.iloc[i]
                                                              <= SMALL_SCALE_LIMIT_GWH_TH),
                  "0/1", "1 if E_y <= 180 GWh_th else 0", REF_CAP, scope)
        steps.add("er_gross", "ER_y,gross", er_gross.iloc[i], "tCO2e",
                  "B_y,savings x f_NRB x NCV_biomass x EF_projected_fossilfuel", REF_G1, scope)
        steps.add("emission_reductions", "ER_y", row.er_tco2e, "tCO2e",
                  "ER_y = ER_y,gross x NTG", REF_G1, scope)
        steps.add("issuable", "floor(ER_y)", row.issuable_tco2e, "tCO2e",
                  "floor(ER_y)", REF_VINTAGE, scope)

    total_b_savings = float(by_vintage["b_savings_t"].sum())
    total_energy_tj = total_b_savings * ncv
    steps.add("device_years", "DY", by_vintage["device_years"].sum(), "device-years",
              "DY = sum_y DY_y", REF_DEVICE_YEARS)
    steps.add("biomass_savings", "B_savings", total_b_savings, "t",
              "B_savings = sum_y B_y,savings", REF_G2)
    steps.add("energy_saved_tj", "E", total_energy_tj, "TJ", "E = B_savings x NCV_biomass", REF_CAP)
    steps.add("energy_saved_gwh_th", "E", total_energy_tj / TJ_PER_GWH, "GWh_th",
              "E[GWh_th] = E[TJ] / 3.6", REF_CAP)
    steps.add("er_gross", "ER_gross", float(er_gross.sum()), "tCO2e",
              "sum_y ER_y,gross", REF_G1)
    total_er = steps.add("emission_reductions", "ER", float(by_vintage["er_tco2e"].sum()), "tCO2e",
                         "ER = sum_y ER_y = B_savings x f_NRB x NCV x EF x NTG", REF_G1)
    steps.add("issuable", "sum_y floor(ER_y)", int(by_vintage["issuable_tco2e"].sum()), "tCO2e",
              "sum_y floor(ER_y) (issued per vintage)", REF_VINTAGE)

    return AmsIIGResult(by_vintage=by_vintage, by_model=by_model, total_er_tco2e=total_er,
                        steps=steps)
