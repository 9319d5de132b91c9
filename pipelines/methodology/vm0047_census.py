"""Verra VM0047 v1.1 (Afforestation, Reforestation and Revegetation), census-based approach.

Carbon removals of trees planted on farm bunds and plots, from a complete census of planting
units (tagged trees and bund saplings) and a sample of measured live trees. The maths follows the
census-based equations of VM0047 v1.1 (eqs. 15–21 fertilizer N2O, 22–25 stock, 29–31 uncertainty,
33–34 removals), as specified in ``shared/methodology/arr_methodology.md`` §2.4–2.13, and the
*Calculation conventions* of the pipeline contract (``shared/contracts/pipeline.md``, bullet
"VM0047 census"). Where the two differ the contract wins; in particular:

* per measured live tree ``AGB = 0.0673 (ρ D² H)^0.976 / 1000`` t (Chave et al. 2014 eq. 4, D = gbh/π
  in cm, H in m, ρ in g/cm³), ``AGB = 0`` when D < ``dbh_min_cm`` or when the height is missing —
  the tree stays in the sample (VM0047 v1.1 §9.2, parameter B_WP-woody-AB,pu,t; spec TV3 rule (a));
* ``C = AGB (1 + R) CF`` (eq. 25), strata = species, stock ``Σ_s N_s (1 − M_s) mean_s(C)`` (eq. 24),
  ``ΔC = stock × 44/12`` (eqs. 22–23; the stock of the t = 0 census is zero);
* mortality from the complete re-enumeration, so ``U_M = 0``;
  ``U_p = T √(Σ_s (N_s (1 − M_s))² SE_s²) / stock`` with ``T = t(0.95, Σ n_s − strata)``;
  ``UNC = min(1, max(0, U_p − allowance))``; no removals when ``U_p > 1``;
* removals of the interval ``ΔC_t (1 − UNC_t) − ΔC_prev (1 − UNC_prev)`` (eq. 33), buffer = NPRT
  rating × that (VCS Standard v5.0 §3.14.15; none on a loss), spread evenly over the days of the
  monitoring period into calendar-year vintages (eq. 34).

The sampled-mortality branch of the spec (v1.0 eq. 28 / v1.1 eqs. 29–31, test vector TV4) and
fertilizer emissions (TV2) are implemented too, for the worked examples; the pipeline uses neither.

Design choices (conservative where the texts are silent; each is pinned by a test):

* A stratum enters the estimate only with at least two measured live trees and live planting
  units. Otherwise (no measured tree: mean 0; one tree: no variance) its stock is 0 and it is
  left out of SE and df (``in_estimate`` column).
* ``U_p = inf`` (not eligible) when no confidence interval can be formed: stock 0 or df < 1.
* A missing girth counts as below the size threshold (forms.md: "blank below the size threshold").
* The previous event enters as its *credited stock* ``ΔC (1 − UNC)``; an ineligible event credits
  nothing and carries the previous credited stock forward, so earlier credits are never counted
  twice (see `removals`).
* Latest visit = latest ``visit_date``, then ``ended_at`` (a missing timestamp sorts first), then
  ``submission_id``.
* Issuable units are the floor of each vintage, also for a loss (``floor(-0.3) = -1``).

Every intermediate value is recorded in a `StepLog` (scopes ``""``, ``stratum=<species_code>``,
``vintage=<year>``); per-tree values are the columns of the sample table of `census_strata`.
No Dagster, no file I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from pipelines.errors import UserError
from pipelines.methodology.steps import StepLog

METHODOLOGY = "Verra VM0047 v1.1, census-based approach"
CONTRACT = "pipeline contract: VM0047 census"

#: Chave et al. (2014) eq. 4 coefficients (AGB in kg; D cm, H m, ρ g/cm³).
CHAVE2014_A = 0.0673
CHAVE2014_B = 0.976
#: molecular-weight ratios CO2/C and N2O/N2O-N.
C_TO_CO2 = 44.0 / 12.0
N_TO_N2O = 44.0 / 28.0

_REF_CHAVE = "Chave et al. 2014 eq. 4; VM0047 v1.1 §9.2 (B_WP-woody-AB,pu,t); " + CONTRACT
_REF_UNC = "VM0047 v1.0 eq. 28, v1.1 eqs. 29-31; arr_methodology.md §2.8; " + CONTRACT
_REF_BUFFER = "VCS Standard v5.0 §3.14.15; AFOLU NPRT v5.0; arr_methodology.md §2.10 (A15); " + CONTRACT

SAMPLE_COLUMNS = ["source", "id", "submission_id", "species_code", "gbh_cm", "dbh_cm", "height_m",
                  "wood_density_g_cm3", "root_shoot", "agb_t", "carbon_t", "below_threshold",
                  "height_missing"]
STRATA_COLUMNS = ["species_code", "n_planted", "n_dead", "n_tagged", "n_bund_saplings",
                  "n_dead_tagged", "n_not_found", "n_not_visited", "n_dead_bund"]
_STATUSES = {"alive", "dead", "not_found"}


# --------------------------------------------------------------------------------------------
# Per tree

def dbh_from_gbh_cm(gbh_cm):
    """Diameter at breast height from girth at breast height.

    ``D = GBH / π`` (arr_methodology.md §4.5; contract: D = gbh/π).

    Parameters
    ----------
    gbh_cm : numeric
        Girth (circumference) at breast height [cm]. NaN stays NaN.

    Returns
    -------
    numeric
        Diameter at breast height [cm], same shape and type as the input.
    """
    return gbh_cm / np.pi


def _index_of(*values) -> pd.Index | None:
    for value in values:
        if isinstance(value, pd.Series):
            return value.index
    return None


def agb_chave2014_t(wood_density_g_cm3, dbh_cm, height_m, dbh_min_cm):
    """Above-ground biomass of a tree with the pantropical model of Chave et al. (2014).

    ``AGB = 0.0673 × (ρ · D² · H)^0.976 / 1000`` [t d.m.] (Chave et al. 2014 eq. 4, kg → t),
    and ``AGB = 0`` when ``D < dbh_min_cm``, when D is missing, or when H is missing: such a live
    tree is kept in the sample with zero biomass (VM0047 v1.1 §9.2, fixed size threshold;
    contract: VM0047 census; spec TV3 rule (a)).

    Parameters
    ----------
    wood_density_g_cm3 : numeric
        Basic wood density ρ [g/cm³].
    dbh_cm : numeric
        Diameter at breast height D [cm]; NaN counts as below the threshold.
    height_m : numeric
        Total height H [m]; NaN gives zero biomass.
    dbh_min_cm : float
        Fixed size threshold [cm] for the crediting period.

    Returns
    -------
    numeric
        AGB [t d.m.]: a float for scalar inputs, a Series (index of the first Series input) when a
        Series is given, else an array. Inputs are combined element-wise, by position.
    """
    index = _index_of(wood_density_g_cm3, dbh_cm, height_m)
    rho = np.asarray(wood_density_g_cm3, dtype=float)
    d = np.asarray(dbh_cm, dtype=float)
    h = np.asarray(height_m, dtype=float)
    counted = (d >= dbh_min_cm) & ~np.isnan(h)
    base = np.where(counted, rho * d**2 * np.where(counted, h, 0.0), 0.0)
    agb = np.where(counted, CHAVE2014_A * base**CHAVE2014_B / 1000.0, 0.0)
    if index is not None:
        return pd.Series(agb, index=index, name="agb_t")
    if agb.ndim == 0:
        return float(agb)
    return agb


def tree_carbon_t(agb_t, root_shoot, carbon_fraction):
    """Carbon in the woody biomass (above- and below-ground) of a tree.

    ``C = AGB × (1 + R) × CF`` [t C] (VM0047 v1.1 eq. 25, summand).

    Parameters
    ----------
    agb_t : numeric
        Above-ground biomass [t d.m.].
    root_shoot : numeric
        Root-to-shoot ratio R [t d.m./t d.m.].
    carbon_fraction : numeric
        Carbon fraction CF [t C/t d.m.] (0.47, VM0047 v1.1 §9.1).

    Returns
    -------
    numeric
        Tree carbon [t C], same shape as the inputs.
    """
    return agb_t * (1 + root_shoot) * carbon_fraction


def t_quantile_90(df):
    """Two-sided 90 % Student t critical value, ``T = t(0.95, df)``.

    Used for the 90 % confidence interval of VM0047 v1.0 eq. 28 / v1.1 eq. 29 with
    ``df = Σ n_s − number of strata`` (AR-TOOL14 convention, arr_methodology.md §2.8).

    Parameters
    ----------
    df : numeric
        Degrees of freedom (NaN for df ≤ 0).

    Returns
    -------
    numeric
        ``scipy.stats.t.ppf(0.95, df)`` [dimensionless]; a float for a scalar input.
    """
    value = stats.t.ppf(0.95, df)
    return float(value) if np.ndim(value) == 0 else value


# --------------------------------------------------------------------------------------------
# Per stratum and per event

def stratum_statistics(sample: pd.DataFrame, strata: pd.DataFrame,
                       steps: StepLog | None = None) -> pd.DataFrame:
    """Census counts, sample statistics and stock of each stratum (species).

    Per stratum s: ``M_s = dead_s / N_s`` (complete re-enumeration; 0 when N_s = 0),
    ``live_s = N_s (1 − M_s)``, n_s measured live trees, their mean carbon ``C̄_s`` (eq. 25),
    sample SD ``s_s`` (ddof = 1), ``SE_s = s_s / √n_s``, stock ``live_s · C̄_s`` (eq. 24) and its
    standard error ``live_s · SE_s`` (arr_methodology.md §2.5 steps 3–5, §2.8).

    A stratum is ``in_estimate`` when it has at least two measured live trees and live planting
    units. Otherwise its stock and stock SE are 0 and `stock_and_uncertainty` leaves it out of SE
    and df (conservative: no stock without a variance estimate). With no measured tree the
    mean is 0; with one it is that tree's carbon, and the SD is undefined (NaN).

    Parameters
    ----------
    sample : DataFrame
        Measured live trees: ``species_code``, ``carbon_t`` [t C].
    strata : DataFrame
        ``species_code``, ``n_planted`` (N_s, census count), ``n_dead`` (dead and not found).
        Every species of the sample needs a row.
    steps : StepLog, optional
        Receives every value with scope ``stratum=<species_code>``.

    Returns
    -------
    DataFrame
        One row per stratum, sorted by ``species_code``: ``n_planted``, ``n_dead``, ``mortality``
        [fraction], ``n_live``, ``n_sampled``, ``mean_carbon_t``, ``sd_carbon_t``,
        ``se_carbon_t`` [t C per tree], ``in_estimate``, ``stock_t_c``, ``se_stock_t_c`` [t C].
    """
    if sample["carbon_t"].isna().any():
        raise ValueError("sample has trees without carbon_t")
    counts = strata[["species_code", "n_planted", "n_dead"]].copy()
    if counts["species_code"].duplicated().any():
        raise ValueError("strata has duplicate species_code rows")
    if ((counts["n_dead"] < 0) | (counts["n_dead"] > counts["n_planted"])).any():
        raise ValueError("n_dead must lie between 0 and n_planted in every stratum")
    unknown = set(sample["species_code"]) - set(counts["species_code"])
    if unknown:
        raise ValueError(f"measured trees of species without a census stratum: {sorted(unknown)}")

    by_species = sample.groupby("species_code")["carbon_t"].agg(
        n_sampled="size", mean_carbon_t="mean", sd_carbon_t="std").reset_index()
    table = counts.merge(by_species, on="species_code", how="left").sort_values(
        "species_code", ignore_index=True)
    table["n_planted"] = table["n_planted"].astype("int64")
    table["n_dead"] = table["n_dead"].astype("int64")
    table["n_sampled"] = table["n_sampled"].fillna(0).astype("int64")
    table["mean_carbon_t"] = table["mean_carbon_t"].fillna(0.0).astype(float)
    table["sd_carbon_t"] = table["sd_carbon_t"].astype(float)

    planted = table["n_planted"].to_numpy(dtype=float)
    mortality = np.divide(table["n_dead"].to_numpy(dtype=float), planted,
                          out=np.zeros(len(table)), where=planted > 0)
    table.insert(3, "mortality", mortality)
    table.insert(4, "n_live", planted * (1 - mortality))
    table["se_carbon_t"] = table["sd_carbon_t"] / np.sqrt(table["n_sampled"].where(table["n_sampled"] > 0))
    table["in_estimate"] = (table["n_sampled"] >= 2) & (table["n_live"] > 0)
    table["stock_t_c"] = (table["n_live"] * table["mean_carbon_t"]).where(table["in_estimate"], 0.0)
    table["se_stock_t_c"] = (table["n_live"] * table["se_carbon_t"]).where(table["in_estimate"], 0.0)

    if steps is not None:
        for row in table.itertuples(index=False):
            scope = f"stratum={row.species_code}"
            add = steps.add
            add("n_planted", "N_s", row.n_planted, "count",
                "N_s = planting records + saplings_planted (latest bund visits)",
                CONTRACT + "; VM0047 v1.1 §9.1 (N)", scope)
            add("n_dead", "dead_s", row.n_dead, "count",
                "dead_s = dead + not found + not visited + (saplings_planted - saplings_alive)", CONTRACT, scope)
            add("mortality", "M_s", row.mortality, "fraction", "M_s = dead_s / N_s",
                "VM0047 v1.1 §9.1 (M_t, complete re-enumeration); " + CONTRACT, scope)
            add("n_live", "N_s(1-M_s)", row.n_live, "count", "N_s (1 - M_s)", "VM0047 v1.1 eq. 24", scope)
            add("n_sampled", "n_s", row.n_sampled, "count", "n_s = measured live trees",
                "VM0047 v1.1 §9.1 (n_t); " + CONTRACT, scope)
            add("mean_carbon_t", "C̄_s", row.mean_carbon_t, "tC", "C̄_s = (1/n_s) Σ_i C_i (0 when n_s = 0)",
                "VM0047 v1.1 eq. 25", scope)
            add("sd_carbon_t", "s_s", row.sd_carbon_t, "tC", "s_s = √(Σ_i (C_i - C̄_s)² / (n_s - 1))",
                "VM0047 v1.1 §9.1 (SE_p,t); arr_methodology.md §2.5 step 3", scope)
            add("se_carbon_t", "SE_s", row.se_carbon_t, "tC", "SE_s = s_s / √n_s",
                "VM0047 v1.1 §9.1 (SE_p,t)", scope)
            add("in_estimate", "in_s", float(row.in_estimate), "flag",
                "1 when n_s >= 2 and N_s(1-M_s) > 0, else stock and SE set to 0 and left out of df",
                "vm0047_census design choice (conservative); " + CONTRACT, scope)
            add("stock_t_c", "C_s", row.stock_t_c, "tC", "C_s = N_s (1 - M_s) C̄_s", "VM0047 v1.1 eq. 24", scope)
            add("se_stock_t_c", "SE(C_s)", row.se_stock_t_c, "tC", "SE(C_s) = N_s (1 - M_s) SE_s",
                "arr_methodology.md §2.8; " + CONTRACT, scope)
    return table


@dataclass(frozen=True)
class StockEstimate:
    """Stock, stock change and uncertainty of one monitoring event (see `stock_and_uncertainty`)."""

    stock_t_c: float
    delta_c_tco2e: float
    se_total_t_c: float
    df: int
    t_value: float
    u_p: float
    u_m: float
    t_value_mortality: float
    half_width: float
    unc_v10: float
    unc_v11: float
    unc: float
    eligible: bool


def _clip01(value: float) -> float:
    if math.isnan(value) or value > 1.0:
        return 1.0
    return max(0.0, value)


def stock_and_uncertainty(strata_stats: pd.DataFrame, uncertainty_allowance: float = 0.10,
                          mortality_sample: tuple[int, int] | None = None,
                          steps: StepLog | None = None) -> StockEstimate:
    """Woody carbon stock, its change since t = 0 and the uncertainty deduction.

    ``C_total = Σ_s C_s`` [t C] (VM0047 v1.1 eq. 24 per stratum, summed);
    ``ΔC = C_total × 44/12`` [t CO2e] (eqs. 22–23);
    ``SE_total = √Σ_s (N_s (1 − M_s) SE_s)²``; ``T = t(0.95, df)``, ``df = Σ n_s − strata``;
    ``U_p = T · SE_total / C_total`` (contract; spec §2.8). Only strata ``in_estimate`` count
    in SE and df. ``U_p = inf`` when ``C_total ≤ 0`` or ``df < 1`` (no interval can be formed).

    Mortality from the complete re-enumeration (contract, default): ``U_M = 0``,
    ``UNC = min(1, max(0, U_p − allowance))``, eligible when ``U_p ≤ 1``.

    Sampled mortality (spec TV4, ``mortality_sample=(n_m, dead_m)``; ``strata_stats`` must then
    carry the sampled proportion as the stratum mortality): ``M = dead_m / n_m``,
    ``U_M = T(n_m − 1) · √(M (1 − M) / (n_m − 1)) / (1 − M)`` (v1.0 eq. 29, v1.1 eq. 31),
    half-width ``√(U_p² + U_M²)``, ``UNC = max(UNC_v1.0, UNC_v1.1)`` with
    ``UNC_v1.0 = half-width − allowance`` (v1.0 eq. 28) and the literal reading
    ``UNC_v1.1 = √(U_p² + (T · U_M)²) − allowance`` (v1.1 eq. 29), each clipped to [0, 1];
    eligible when the half-width ≤ 1 (arr_methodology.md §2.8).

    Parameters
    ----------
    strata_stats : DataFrame
        Output of `stratum_statistics`.
    uncertainty_allowance : float, default 0.10
        Uncertainty not deducted [fraction].
    mortality_sample : (int, int), optional
        ``(n_m, dead_m)``: units in the mortality sample and dead among them.
    steps : StepLog, optional
        Receives every value with scope ``""``.

    Returns
    -------
    StockEstimate
        ``stock_t_c`` [t C], ``delta_c_tco2e`` [t CO2e], ``se_total_t_c`` [t C], ``df``,
        ``t_value``, ``u_p``, ``u_m``, ``t_value_mortality`` (NaN without a sample),
        ``half_width``, ``unc_v10``, ``unc_v11``, ``unc`` [fractions], ``eligible``.
    """
    used = strata_stats["in_estimate"].to_numpy(dtype=bool)
    stock = float(strata_stats["stock_t_c"].sum())
    se_total = float(np.sqrt(np.sum(strata_stats["se_stock_t_c"].to_numpy(dtype=float)[used] ** 2)))
    df = int(strata_stats["n_sampled"].to_numpy()[used].sum() - used.sum())
    t_value = t_quantile_90(df) if df >= 1 else math.nan
    u_p = t_value * se_total / stock if (stock > 0 and df >= 1) else math.inf

    if mortality_sample is None:
        u_m, t_m = 0.0, math.nan
    else:
        n_m, dead_m = (int(v) for v in mortality_sample)
        if n_m < 2 or not 0 <= dead_m <= n_m:
            raise ValueError(f"mortality sample needs n_m >= 2 and 0 <= dead_m <= n_m, got {mortality_sample}")
        m = dead_m / n_m
        t_m = t_quantile_90(n_m - 1)
        u_m = t_m * math.sqrt(m * (1 - m) / (n_m - 1)) / (1 - m) if m < 1 else math.inf
    half_width = math.hypot(u_p, u_m)
    unc_v10 = _clip01(half_width - uncertainty_allowance)
    unc_v11 = _clip01(math.sqrt(u_p**2 + (t_value * u_m) ** 2) - uncertainty_allowance
                      if u_m > 0 else u_p - uncertainty_allowance)
    unc = max(unc_v10, unc_v11)
    eligible = bool(half_width <= 1.0)
    delta_c = stock * C_TO_CO2

    if steps is not None:
        add = steps.add
        add("stock_t_c", "C_WP-woody,t", stock, "tC", "C_WP-woody,t = Σ_s N_s (1 - M_s) C̄_s",
            "VM0047 v1.1 eq. 24; " + CONTRACT)
        add("se_total_t_c", "SE_total", se_total, "tC",
            "SE_total = √(Σ_s (N_s (1 - M_s) SE_s)²), strata in estimate",
            "arr_methodology.md §2.8; " + CONTRACT)
        add("df", "df", df, "count", "df = Σ_s n_s - number of strata (strata in estimate)",
            "AR-TOOL14 convention; arr_methodology.md §2.8; " + CONTRACT)
        add("t_value", "T", t_value, "dimensionless", "T = t(0.95, df) (two-sided 90 %)",
            "VM0047 v1.1 eq. 29; " + CONTRACT)
        add("u_p", "U_p,t", u_p, "fraction", "U_p = T SE_total / C_WP-woody,t (inf when no interval)",
            "VM0047 v1.0 eq. 28 (U_p); " + CONTRACT)
        if mortality_sample is not None:
            add("t_value_mortality", "T_M", t_m, "dimensionless", "T_M = t(0.95, n_m - 1)", "VM0047 v1.1 eq. 31")
        add("u_m", "U_M,t", u_m, "fraction",
            "U_M = 0 (complete re-enumeration)" if mortality_sample is None
            else "U_M = T_M √(M (1 - M) / (n_m - 1)) / (1 - M)",
            CONTRACT if mortality_sample is None else "VM0047 v1.0 eq. 29, v1.1 eq. 31")
        add("half_width", "√(U_p²+U_M²)", half_width, "fraction", "90 % CI half-width = √(U_p² + U_M²)",
            "VM0047 v1.0 eq. 28; arr_methodology.md §2.8")
        add("unc_v10", "UNC_t (v1.0)", unc_v10, "fraction", "min(1, max(0, √(U_p² + U_M²) - allowance))",
            "VM0047 v1.0 eq. 28")
        add("unc_v11", "UNC_t (v1.1)", unc_v11, "fraction", "min(1, max(0, √(U_p² + (T U_M)²) - allowance))",
            "VM0047 v1.1 eq. 29 (literal reading); arr_methodology.md §2.8")
        add("unc", "UNC_t", unc, "fraction",
            "UNC_t = max(UNC_v1.0, UNC_v1.1) (= min(1, max(0, U_p - allowance)) when U_M = 0)",
            _REF_UNC)
        add("eligible", "eligible", float(eligible), "flag", "1 when √(U_p² + U_M²) <= 1, else CR_t = 0", _REF_UNC)
        add("delta_c_tco2e", "ΔC_WP,t", delta_c, "tCO2e", "ΔC_WP,t = C_WP-woody,t × 44/12 (stock at t = 0 is 0)",
            "VM0047 v1.1 eqs. 22-23; " + CONTRACT)
    return StockEstimate(stock_t_c=stock, delta_c_tco2e=delta_c, se_total_t_c=se_total, df=df,
                         t_value=t_value, u_p=u_p, u_m=u_m, t_value_mortality=t_m,
                         half_width=half_width, unc_v10=unc_v10, unc_v11=unc_v11, unc=unc,
                         eligible=eligible)


def fertilizer_emissions_tco2e(urea_t: float, n_content_synthetic: float = 0.46,
                               organic_t: float = 0.0, n_content_organic: float | None = None,
                               ef_n_direct: float = 0.01, frac_gasf: float = 0.11,
                               frac_gasm: float = 0.21, ef_n_volat: float = 0.01,
                               frac_leach: float = 0.24, ef_n_leach: float = 0.011,
                               gwp_n2o: float = 273.0, steps: StepLog | None = None) -> float:
    """N2O emissions from nitrogen fertilizer applied in the interval (VM0047 v1.1 eqs. 15–21).

    ``F_SN = M_SF × NC_SF``, ``F_ON = M_OF × NC_OF`` [t N];
    direct ``= (F_SN + F_ON) × EF_Ndirect × 44/28 × GWP_N2O``;
    volatilization ``= (F_SN × Frac_GASF + F_ON × Frac_GASM) × EF_Nvolat × 44/28 × GWP_N2O``;
    leaching ``= (F_SN + F_ON) × Frac_LEACH × EF_Nleach × 44/28 × GWP_N2O``; ``PE = sum`` [t CO2e].
    Defaults: IPCC 2019 Vol. 4 Ch. 11 (arr_methodology.md §2.4), urea N content 0.46,
    GWP_N2O = 273 (AR6; a program choice, §2.9). The pipeline sets PE = 0 (contract); the spec's
    TV2 uses this function.

    Parameters
    ----------
    urea_t : float
        Synthetic fertilizer (urea) applied, M_SF [t].
    n_content_synthetic : float, default 0.46
        NC_SF [t N/t].
    organic_t : float, default 0
        Organic fertilizer applied, M_OF [t].
    n_content_organic : float, optional
        NC_OF [t N/t]; required when ``organic_t > 0`` (no default exists).
    ef_n_direct, frac_gasf, frac_gasm, ef_n_volat, frac_leach, ef_n_leach : float
        IPCC emission factors and fractions [t N2O-N/t N, fractions].
    gwp_n2o : float, default 273
        Global warming potential of N2O [t CO2e/t N2O].
    steps : StepLog, optional
        Receives F_SN, F_ON and the three components.

    Returns
    -------
    float
        PE_fert [t CO2e] for the interval.
    """
    if organic_t > 0 and n_content_organic is None:
        raise ValueError("organic fertilizer needs n_content_organic (no default in VM0047)")
    f_sn = urea_t * n_content_synthetic
    f_on = organic_t * (n_content_organic or 0.0)
    direct = (f_sn + f_on) * ef_n_direct * 44 / 28 * gwp_n2o
    volat = (f_sn * frac_gasf + f_on * frac_gasm) * ef_n_volat * 44 / 28 * gwp_n2o
    leach = (f_sn + f_on) * frac_leach * ef_n_leach * 44 / 28 * gwp_n2o
    total = direct + volat + leach
    if steps is not None:
        ref = "VM0047 v1.1 eqs. 15-21"
        steps.add("fertilizer_f_sn_t_n", "F_SN", f_sn, "t N", "F_SN = M_SF × NC_SF", ref)
        steps.add("fertilizer_f_on_t_n", "F_ON", f_on, "t N", "F_ON = M_OF × NC_OF", ref)
        steps.add("fertilizer_direct_tco2e", "PE_direct", direct, "tCO2e",
                  "(F_SN + F_ON) EF_Ndirect 44/28 GWP_N2O", ref)
        steps.add("fertilizer_volatilization_tco2e", "PE_volat", volat, "tCO2e",
                  "(F_SN Frac_GASF + F_ON Frac_GASM) EF_Nvolat 44/28 GWP_N2O", ref)
        steps.add("fertilizer_leaching_tco2e", "PE_leach", leach, "tCO2e",
                  "(F_SN + F_ON) Frac_LEACH EF_Nleach 44/28 GWP_N2O", ref)
        steps.add("fertilizer_pe_tco2e", "PE_fert", total, "tCO2e", "PE_direct + PE_volat + PE_leach", ref)
    return float(total)


@dataclass(frozen=True)
class Removals:
    """Credited removals of one monitoring interval (see `removals`). All values in t CO2e."""

    eligible: bool
    adjusted_stock_tco2e: float
    credited_stock_prev_tco2e: float
    removals_tco2e: float
    buffer_tco2e: float
    project_emissions_tco2e: float
    cr_tco2e: float
    net_tco2e: float
    credited_stock_tco2e: float


def removals(delta_c_t: float, unc_t: float, eligible: bool, credited_stock_prev_tco2e: float,
             buffer_rate: float, project_emissions_tco2e: float = 0.0,
             steps: StepLog | None = None) -> Removals:
    """Uncertainty-adjusted removals of the interval, buffer and net credits.

    ``adjusted_t = ΔC_t (1 − UNC_t)``;
    ``removals = adjusted_t − ΔC_prev (1 − UNC_prev)`` (VM0047 v1.1 eq. 33 without PE);
    ``buffer = buffer_rate × removals``, none on a loss (removals < 0) (VCS Standard v5.0
    §3.14.15, AFOLU NPRT v5.0; the base is the uncertainty-adjusted change, spec A15);
    ``CR = removals − PE`` (eq. 33); ``net = removals − buffer − PE`` (= VCUs). The pipeline
    passes PE = 0 (contract); the spec's TV2 passes the fertilizer emissions.
    Not eligible (90 % CI half-width > 100 %): removals, buffer, CR and net are 0.

    Previous event: pass its *credited stock*, ``ΔC_prev (1 − UNC_prev)`` when it was eligible
    (0 before the first event). This function returns ``credited_stock_tco2e`` for the next
    event: ``adjusted_t`` when eligible, else ``credited_stock_prev_tco2e`` carried forward.
    So an ineligible event in between credits nothing and the next eligible event is measured
    against the last credited stock, never against a stock that earned no credits — earlier
    credits are never counted twice, and nothing that was not credited is lost.

    Parameters
    ----------
    delta_c_t : float
        ΔC_WP,t, stock change since t = 0 [t CO2e].
    unc_t : float
        UNC_t [fraction].
    eligible : bool
        Whether the event may be credited (half-width ≤ 100 %).
    credited_stock_prev_tco2e : float
        Credited stock of the preceding monitoring period [t CO2e].
    buffer_rate : float
        NPRT non-permanence risk rating [fraction].
    project_emissions_tco2e : float, default 0
        PE_t of the interval [t CO2e].
    steps : StepLog, optional
        Receives every value with scope ``""``.

    Returns
    -------
    Removals
        ``adjusted_stock_tco2e`` (ΔC_t(1 − UNC_t), reported even when not eligible),
        ``removals_tco2e``, ``buffer_tco2e``, ``project_emissions_tco2e``, ``cr_tco2e``,
        ``net_tco2e``, ``credited_stock_tco2e`` [t CO2e] and ``eligible``.
    """
    adjusted = delta_c_t * (1 - unc_t)
    if eligible:
        change = adjusted - credited_stock_prev_tco2e
        buffer = buffer_rate * change if change > 0 else 0.0
        pe = project_emissions_tco2e
        credited = adjusted
    else:
        change = buffer = pe = 0.0
        credited = credited_stock_prev_tco2e
    cr = change - pe
    net = change - buffer - pe
    if steps is not None:
        add = steps.add
        add("adjusted_stock_tco2e", "ΔC_WP,t(1-UNC_t)", adjusted, "tCO2e", "ΔC_WP,t (1 - UNC_t)",
            "VM0047 v1.1 eq. 33; " + CONTRACT)
        add("credited_stock_prev_tco2e", "ΔC_WP,t-x(1-UNC_t-x)", credited_stock_prev_tco2e, "tCO2e",
            "credited stock of the preceding monitoring period (0 before the first)",
            "VM0047 v1.1 eq. 33; " + CONTRACT)
        add("removals_tco2e", "ΔC_adj", change, "tCO2e",
            "ΔC_WP,t (1 - UNC_t) - ΔC_WP,t-x (1 - UNC_t-x); 0 when not eligible",
            "VM0047 v1.1 eq. 33; " + CONTRACT)
        add("buffer_tco2e", "BUF_t", buffer, "tCO2e", "buffer_rate × ΔC_adj; 0 when ΔC_adj <= 0", _REF_BUFFER)
        add("project_emissions_tco2e", "PE_t", pe, "tCO2e", "PE_t of the interval (0 in the pipeline)",
            "VM0047 v1.1 eq. 33; " + CONTRACT)
        add("cr_tco2e", "CR_t", cr, "tCO2e", "CR_t = ΔC_adj - PE_t", "VM0047 v1.1 eq. 33")
        add("net_tco2e", "VCU_t", net, "tCO2e", "net = ΔC_adj - BUF_t - PE_t", _REF_BUFFER)
        add("credited_stock_tco2e", "ΔC_cred,t", credited, "tCO2e",
            "ΔC_WP,t (1 - UNC_t) when eligible, else the previous credited stock",
            "vm0047_census design choice; " + CONTRACT)
    return Removals(eligible=bool(eligible), adjusted_stock_tco2e=adjusted,
                    credited_stock_prev_tco2e=credited_stock_prev_tco2e, removals_tco2e=change,
                    buffer_tco2e=buffer, project_emissions_tco2e=pe, cr_tco2e=cr, net_tco2e=net,
                    credited_stock_tco2e=credited)


def vintage_split(net_tco2e: float, period_start, period_end,
                  steps: StepLog | None = None) -> pd.DataFrame:
    """Spread net credits evenly over the days of the monitoring period into calendar years.

    ``er_y = net × days_y / days`` with both period dates inclusive (VM0047 v1.1 eq. 34,
    annualization; contract: "spread evenly over the days of the monitoring period");
    ``issuable_y = floor(er_y)``. A loss is floored too, i.e. rounded away from zero
    (``floor(−0.3) = −1``): the conservative direction for a reversal.

    Parameters
    ----------
    net_tco2e : float
        Net credits of the period [t CO2e].
    period_start, period_end : date-like
        First and last day of the monitoring period (inclusive).
    steps : StepLog, optional
        Receives days, er and issuable with scope ``vintage=<year>``.

    Returns
    -------
    DataFrame
        ``vintage`` (int), ``days`` (int), ``er_tco2e``, ``issuable_tco2e`` [t CO2e].
    """
    start, end = pd.Timestamp(period_start).normalize(), pd.Timestamp(period_end).normalize()
    if end < start:
        raise ValueError(f"period ends ({end.date()}) before it starts ({start.date()})")
    days = pd.date_range(start, end, freq="D")
    per_year = pd.Series(1, index=days.year).groupby(level=0).sum()
    total = int(per_year.sum())
    er = net_tco2e * per_year.to_numpy(dtype=float) / total
    table = pd.DataFrame({"vintage": per_year.index.to_numpy(dtype="int64"),
                          "days": per_year.to_numpy(dtype="int64"),
                          "er_tco2e": er, "issuable_tco2e": np.floor(er)})
    if steps is not None:
        for row in table.itertuples(index=False):
            scope = f"vintage={row.vintage}"
            steps.add("vintage_days", "d_y", row.days, "days",
                      f"days of the period in {row.vintage} (both ends inclusive; period = {total} days)",
                      CONTRACT, scope)
            steps.add("er_tco2e", "ER_y", row.er_tco2e, "tCO2e", f"ER_y = net × d_y / {total}",
                      "VM0047 v1.1 eq. 34; " + CONTRACT, scope)
            steps.add("issuable_tco2e", "VCU_y", row.issuable_tco2e, "tCO2e", "floor(ER_y)",
                      CONTRACT, scope)
    return table


# --------------------------------------------------------------------------------------------
# Assembly from the survey tables

def _days(values: pd.Series) -> pd.Series:
    dates = pd.to_datetime(values)
    if dates.dt.tz is not None:
        dates = dates.dt.tz_localize(None)
    return dates.dt.normalize()


def _latest(visits: pd.DataFrame, key: str) -> pd.DataFrame:
    """The latest visit per key: by visit_date, then ended_at (missing first), then submission_id."""
    ordered = visits.sort_values(["visit_date", "ended_at", "submission_id"], na_position="first",
                                 kind="mergesort")
    return ordered.drop_duplicates(key, keep="last")


def _frame(table: pd.DataFrame | None, columns: list[str]) -> pd.DataFrame:
    if table is None:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    missing = set(columns) - set(table.columns)
    if missing:
        raise ValueError(f"missing columns {sorted(missing)}")
    return table


def census_strata(plantings: pd.DataFrame, survival_visits: pd.DataFrame | None,
                  bund_visits: pd.DataFrame | None, bund_tree_measures: pd.DataFrame | None,
                  species_params: Mapping[str, Mapping[str, float]], period_start, period_end,
                  dbh_min_cm: float, carbon_fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Census counts per species and the sample of measured live trees of one monitoring period.

    Literal reading of the contract ("Strata pool tagged trees and bund trees of a species"):

    * N counts the planting records with ``planted_on ≤ period_end`` and, per bund species, the
      ``saplings_planted`` of the latest bund visit in the period.
    * Dead counts tagged trees whose latest visit in the period says ``dead`` or ``not_found``,
      tagged trees with no visit in the period, and ``saplings_planted − saplings_alive`` of the
      latest bund visits. A bund with no visit in the period takes no part.
    * The sample is every measured live tree: tagged trees ``alive`` at their latest visit, and
      the ``tree_measure`` rows of the latest bund visits, in the stratum of ``m_species_code``.
    * Per tree: ``D = gbh/π``, AGB by `agb_chave2014_t` (0 below ``dbh_min_cm``, for a missing
      girth, or for a missing height: the tree stays in the sample), C by `tree_carbon_t`.

    Latest visit: latest ``visit_date``, then ``ended_at`` (missing first), then
    ``submission_id``; visits outside the period (both ends inclusive) are ignored.

    Parameters
    ----------
    plantings : DataFrame
        Accepted ``tree_planting`` rows: ``tree_id``, ``plot_id``, ``species_code``, ``planted_on``.
    survival_visits : DataFrame or None
        Accepted ``tree_survival`` rows: ``submission_id``, ``tree_id``, ``visit_date``,
        ``ended_at``, ``status`` (alive | dead | not_found), ``gbh_cm`` [cm], ``height_m`` [m].
    bund_visits : DataFrame or None
        Accepted ``bund_plantation`` rows: ``submission_id``, ``bund_id``, ``visit_date``,
        ``ended_at``, ``species_code``, ``saplings_planted``, ``saplings_alive``.
    bund_tree_measures : DataFrame or None
        Accepted ``tree_measure`` repeat rows: ``submission_id`` (parent bund visit),
        ``m_species_code``, ``m_gbh_cm`` [cm], ``m_height_m`` [m].
    species_params : mapping
        ``{species_code: {"wood_density": g/cm³, "root_shoot": ratio}}``.
    period_start, period_end : date-like
        Monitoring period, both days inclusive.
    dbh_min_cm : float
        Size threshold [cm].
    carbon_fraction : float
        CF [t C/t d.m.].

    Returns
    -------
    strata : DataFrame
        One row per species (sorted): ``species_code``, ``n_planted``, ``n_dead`` and the
        breakdown ``n_tagged``, ``n_bund_saplings``, ``n_dead_tagged``, ``n_not_found``,
        ``n_not_visited``, ``n_dead_bund``.
    sample : DataFrame
        One row per measured live tree: ``source`` (tagged | bund), ``id`` (tree_id, or
        ``<bund_id>/<k>`` for the k-th measured tree of the bund visit), ``submission_id``,
        ``species_code``, ``gbh_cm``, ``dbh_cm``, ``height_m``, ``wood_density_g_cm3``,
        ``root_shoot``, ``agb_t`` [t d.m.], ``carbon_t`` [t C], ``below_threshold``,
        ``height_missing``.
    """
    start, end = pd.Timestamp(period_start).normalize(), pd.Timestamp(period_end).normalize()
    plantings = _frame(plantings, ["tree_id", "plot_id", "species_code", "planted_on"])
    survival_visits = _frame(survival_visits, ["submission_id", "tree_id", "visit_date", "ended_at",
                                               "status", "gbh_cm", "height_m"])
    bund_visits = _frame(bund_visits, ["submission_id", "bund_id", "visit_date", "ended_at",
                                       "species_code", "saplings_planted", "saplings_alive"])
    bund_tree_measures = _frame(bund_tree_measures, ["submission_id", "m_species_code", "m_gbh_cm",
                                                     "m_height_m"])

    # Tagged trees: the census is every planting record up to the end of the period.
    planted = plantings.loc[_days(plantings["planted_on"]) <= end,
                            ["tree_id", "species_code"]].reset_index(drop=True)
    if planted["tree_id"].duplicated().any():
        raise ValueError("duplicate tree_id in plantings (duplicate_tree rows must be quarantined)")
    visit_day = _days(survival_visits["visit_date"])
    visits = survival_visits.loc[(visit_day >= start) & (visit_day <= end)]
    latest = _latest(visits, "tree_id")[["tree_id", "submission_id", "status", "gbh_cm", "height_m"]]
    trees = planted.merge(latest, on="tree_id", how="left", validate="one_to_one")
    outcome = trees["status"].astype("object").where(trees["status"].notna(), "not_visited")
    bad = set(outcome) - _STATUSES - {"not_visited"}
    if bad:
        raise ValueError(f"unknown survival status {sorted(bad)}")
    tagged_counts = pd.DataFrame({
        "species_code": trees["species_code"],
        "n_tagged": 1,
        "n_dead_tagged": outcome.eq("dead").astype("int64"),
        "n_not_found": outcome.eq("not_found").astype("int64"),
        "n_not_visited": outcome.eq("not_visited").astype("int64"),
    }).groupby("species_code").sum()
    alive = trees.loc[outcome.eq("alive")]
    tagged = pd.DataFrame({
        "source": "tagged",
        "id": alive["tree_id"].astype(str),
        "submission_id": alive["submission_id"].astype(str),
        "species_code": alive["species_code"].astype(str),
        "gbh_cm": alive["gbh_cm"].astype(float),
        "height_m": alive["height_m"].astype(float),
    })

    # Bunds: the latest visit of each bund in the period is both census and survival record.
    bund_day = _days(bund_visits["visit_date"])
    bunds = _latest(bund_visits.loc[(bund_day >= start) & (bund_day <= end)], "bund_id")
    bund_planted = bunds["saplings_planted"].astype("int64")
    bund_dead = bund_planted - bunds["saplings_alive"].astype("int64")
    if ((bund_dead < 0) | (bunds["saplings_alive"].astype("int64") < 0)).any():
        raise ValueError("saplings_alive must lie between 0 and saplings_planted")
    bund_counts = pd.DataFrame({"species_code": bunds["species_code"], "n_bund_saplings": bund_planted,
                                "n_dead_bund": bund_dead}).groupby("species_code").sum()
    measures = bund_tree_measures.merge(bunds[["submission_id", "bund_id"]], on="submission_id",
                                        how="inner")
    ordinal = measures.groupby("submission_id").cumcount() + 1
    bund = pd.DataFrame({
        "source": "bund",
        "id": measures["bund_id"].astype(str) + "/" + ordinal.astype(str),
        "submission_id": measures["submission_id"].astype(str),
        "species_code": measures["m_species_code"].astype(str),
        "gbh_cm": measures["m_gbh_cm"].astype(float),
        "height_m": measures["m_height_m"].astype(float),
    })

    frames = [frame for frame in (tagged, bund) if len(frame)]
    sample = pd.concat(frames, ignore_index=True) if frames else tagged.reset_index(drop=True)
    sample["dbh_cm"] = dbh_from_gbh_cm(sample["gbh_cm"])
    for column, field in (("wood_density_g_cm3", "wood_density"), ("root_shoot", "root_shoot")):
        values = {code: (spec or {}).get(field) for code, spec in species_params.items()}
        sample[column] = sample["species_code"].map(values).astype(float)
    missing = sorted(set(sample.loc[sample[["wood_density_g_cm3", "root_shoot"]].isna().any(axis=1),
                                    "species_code"]))
    if missing:
        raise UserError(f"no wood_density/root_shoot parameters for species {missing} (project.yaml: species)")
    sample["agb_t"] = agb_chave2014_t(sample["wood_density_g_cm3"], sample["dbh_cm"], sample["height_m"],
                                      dbh_min_cm)
    sample["carbon_t"] = tree_carbon_t(sample["agb_t"], sample["root_shoot"], carbon_fraction)
    sample["below_threshold"] = ~(sample["dbh_cm"] >= dbh_min_cm)
    sample["height_missing"] = sample["height_m"].isna()
    sample = sample[SAMPLE_COLUMNS].sort_values(["species_code", "source", "id"], ignore_index=True)

    codes = sorted(set(tagged_counts.index) | set(bund_counts.index) | set(sample["species_code"]))
    strata = (pd.DataFrame(index=pd.Index(codes, name="species_code"))
              .join(tagged_counts).join(bund_counts).fillna(0).astype("int64").reset_index())
    strata["n_planted"] = strata["n_tagged"] + strata["n_bund_saplings"]
    strata["n_dead"] = (strata["n_dead_tagged"] + strata["n_not_found"] + strata["n_not_visited"]
                        + strata["n_dead_bund"])
    return strata[STRATA_COLUMNS], sample


@dataclass(frozen=True)
class VM0047Result:
    """Result of one monitoring event (see `compute_event`). Masses in t C, changes in t CO2e."""

    strata_table: pd.DataFrame
    stock_t_c: float
    delta_c_tco2e: float
    se_total_t_c: float
    df: int
    t_value: float
    u_p: float
    u_m: float
    unc: float
    eligible: bool
    adjusted_stock_tco2e: float
    credited_stock_prev_tco2e: float
    removals_tco2e: float
    buffer_tco2e: float
    net_tco2e: float
    credited_stock_tco2e: float
    by_vintage: pd.DataFrame
    steps: StepLog


_BREAKDOWN = {
    "n_tagged": ("N_tagged", "planting records with planted_on <= period end"),
    "n_bund_saplings": ("N_bund", "Σ saplings_planted of the latest bund visits in the period"),
    "n_dead_tagged": ("dead_tagged", "tagged trees dead at their latest visit"),
    "n_not_found": ("not_found", "tagged trees not found at their latest visit (count as dead)"),
    "n_not_visited": ("not_visited", "tagged trees with no accepted visit in the period (count as dead)"),
    "n_dead_bund": ("dead_bund", "Σ (saplings_planted - saplings_alive) of the latest bund visits"),
}


def compute_event(strata: pd.DataFrame, sample: pd.DataFrame, params: Mapping[str, Any],
                  period_start, period_end, credited_stock_prev_tco2e: float) -> VM0047Result:
    """Removals of one monitoring period from its census counts and measured-tree sample.

    Chains `stratum_statistics` (eqs. 24–25), `stock_and_uncertainty` (eqs. 22–23, 29; complete
    re-enumeration, ``U_M = 0``), `removals` (eq. 33, buffer, PE = 0 as the contract says) and
    `vintage_split` (eq. 34), recording every value in one `StepLog`.

    Parameters
    ----------
    strata, sample : DataFrame
        Output of `census_strata`.
    params : mapping
        ``carbon_fraction`` [t C/t d.m.], ``uncertainty_allowance`` [fraction], ``buffer_rate``
        [fraction]; ``dbh_min_cm`` is recorded when present. When the sample has ``agb_t`` and
        ``root_shoot``, its ``carbon_t`` must equal ``agb_t (1 + R) CF`` for this CF.
    period_start, period_end : date-like
        Monitoring period, both days inclusive.
    credited_stock_prev_tco2e : float
        ``credited_stock_tco2e`` of the preceding monitoring period (0 before the first).

    Returns
    -------
    VM0047Result
    """
    steps = StepLog()
    cf = float(params["carbon_fraction"])
    allowance = float(params["uncertainty_allowance"])
    buffer_rate = float(params["buffer_rate"])
    steps.add("carbon_fraction", "CF", cf, "tC/t d.m.", "parameter", "VM0047 v1.1 §9.1")
    if "dbh_min_cm" in params:
        steps.add("dbh_min_cm", "D_min", float(params["dbh_min_cm"]), "cm", "parameter (fixed size threshold)",
                  "VM0047 v1.1 §9.2")
    steps.add("uncertainty_allowance", "allowance", allowance, "fraction", "parameter",
              "VM0047 v1.0 eq. 28, v1.1 eq. 29")
    steps.add("buffer_rate", "NPRT rating", buffer_rate, "fraction", "parameter", _REF_BUFFER)

    if {"agb_t", "root_shoot"} <= set(sample.columns) and len(sample):
        expected = tree_carbon_t(sample["agb_t"], sample["root_shoot"], cf)
        if not np.allclose(sample["carbon_t"], expected, rtol=1e-12, atol=0.0):
            raise ValueError("sample carbon_t was not computed with this carbon_fraction")

    by_species = sample.groupby("species_code")
    for row in strata.sort_values("species_code").itertuples(index=False):
        scope = f"stratum={row.species_code}"
        for column, (symbol, equation) in _BREAKDOWN.items():
            if hasattr(row, column):
                steps.add(column, symbol, getattr(row, column), "count", equation, CONTRACT, scope)
        if row.species_code in by_species.groups:
            trees = by_species.get_group(row.species_code)
            for column, unit, symbol, ref in (("wood_density_g_cm3", "g/cm3", "ρ_s", "Chave et al. 2014 eq. 4"),
                                              ("root_shoot", "ratio", "R_s", "VM0047 v1.1 §9.1 (R)")):
                if column in trees:
                    steps.add(column, symbol, trees[column].iloc[0], unit, "parameter", ref, scope)
            for column, symbol, equation in (
                    ("below_threshold", "n_below", "measured live trees with D < D_min or no girth (AGB = 0)"),
                    ("height_missing", "n_no_height", "measured live trees without height (AGB = 0)")):
                if column in trees:
                    steps.add(f"n_{column}", symbol, int(trees[column].sum()), "count", equation, _REF_CHAVE, scope)

    table = stratum_statistics(sample, strata, steps=steps)
    estimate = stock_and_uncertainty(table, allowance, steps=steps)
    credit = removals(estimate.delta_c_tco2e, estimate.unc, estimate.eligible, credited_stock_prev_tco2e,
                      buffer_rate, 0.0, steps=steps)
    by_vintage = vintage_split(credit.net_tco2e, period_start, period_end, steps=steps)
    return VM0047Result(
        strata_table=table, stock_t_c=estimate.stock_t_c, delta_c_tco2e=estimate.delta_c_tco2e,
        se_total_t_c=estimate.se_total_t_c, df=estimate.df, t_value=estimate.t_value, u_p=estimate.u_p,
        u_m=estimate.u_m, unc=estimate.unc, eligible=estimate.eligible,
        adjusted_stock_tco2e=credit.adjusted_stock_tco2e,
        credited_stock_prev_tco2e=credited_stock_prev_tco2e, removals_tco2e=credit.removals_tco2e,
        buffer_tco2e=credit.buffer_tco2e, net_tco2e=credit.net_tco2e,
        credited_stock_tco2e=credit.credited_stock_tco2e, by_vintage=by_vintage, steps=steps)
