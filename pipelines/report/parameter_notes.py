"""What a monitoring report says about each parameter besides its value: description, how it is
monitored (method, frequency) and its QA/QC — the per-parameter table of a CDM / Gold Standard /
VCS monitoring report (cookstove_methodology.md §9.2, §9.5; arr_methodology.md).

Keys are parameter names of the package's ``parameters`` table; ``*`` stands for a table key
(``stove_models.*.efficiency``). A name without an entry gets `DEFAULT`.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass


@dataclass(frozen=True)
class Note:
    description: str
    monitored: str  # measurement method and procedure, frequency
    qaqc: str
    purpose: str = "Baseline / project emissions"


DEFAULT = Note(
    description="Parameter of the methodology",
    monitored="Fixed ex ante for the crediting period; value and source as stated.",
    qaqc="Source document archived with the project; value checked against the source at validation; "
         "any change appears as a new parameter-set hash and report version.",
)

NOTES: dict[str, Note] = {
    # CDM AMS-II.G
    "fnrb": Note("Fraction of non-renewable biomass",
                 "Fixed ex ante from the cited default or study (TOOL33 / A6.4-AMT-009); re-assessed when the "
                 "default is updated.",
                 "Value and version of the default cross-checked with the UNFCCC table; a project override "
                 "carries its own source."),
    "ncv_tj_per_t": Note("Net calorific value of woody biomass", "IPCC / methodology default, fixed.",
                         "Checked against AMS-II.G v13.1 default."),
    "ef_tco2_per_tj": Note("Emission factor of the projected fossil fuel substitute",
                           "Methodology default, fixed.", "Checked against AMS-II.G v13.1 default (81.6 tCO2/TJ)."),
    "eta_baseline": Note("Efficiency of the baseline (three-stone) stove", "Methodology default, fixed.",
                         "Baseline stove type confirmed in the baseline survey."),
    "b_old_t_per_device_year": Note(
        "Woody biomass used per baseline device per year",
        "Baseline survey (90/10 sample) or KPT, ex ante; re-surveyed at most every 5 years.",
        "Survey questionnaire, sample plan and raw data archived; scale calibration records for KPTs."),
    "ntg": Note("Net-to-gross adjustment for leakage", "Methodology default (0.95) when leakage is not surveyed.",
                "Default applies only when no leakage survey is done; stated in the monitoring plan.",
                "Leakage"),
    "technical_life_years": Note("Technical life of a project stove", "Manufacturer specification or warranty, fixed.",
                                 "Warranty document archived; stoves beyond life excluded by the pipeline.",
                                 "Project scenario (device-years)"),
    "usage_precision_target": Note("Relative precision required of the usage estimate",
                                   "Fixed by the sampling standard (90/10).",
                                   "If not met, the lower bound of the 90 % interval is applied (conservative).",
                                   "Sampling"),
    "z": Note("Normal quantile for a two-sided 90 % interval", "Constant, scipy.stats.norm.ppf(0.95).",
              "Exact value recorded so that implementations agree.", "Sampling"),
    "stove_models.*.efficiency": Note(
        "Thermal efficiency of the project stove model",
        "Laboratory test of a sample of stoves (WBT / ISO 19867-1), ex ante; retested biennially.",
        "Test report with lab accreditation archived; efficiency per model matches the model on the stove label."),
    # VM0047 census
    "carbon_fraction": Note("Carbon fraction of dry biomass", "IPCC default (0.47), fixed.",
                            "Checked against VM0047 v1.1 §9.1.", "Removals"),
    "dbh_min_cm": Note("Minimum diameter at breast height measured",
                       "Fixed size threshold for the crediting period.",
                       "Trees below it count with zero biomass and stay in the sample (conservative).", "Removals"),
    "uncertainty_allowance": Note("Uncertainty not deducted", "Methodology value (10 %), fixed.",
                                  "Only the uncertainty above it is deducted (VM0047 eq. 29).", "Removals"),
    "buffer_rate": Note("Non-permanence risk buffer rate", "AFOLU Non-Permanence Risk Tool rating, per verification.",
                        "NPRT assessment archived and validated by the VVB.", "Buffer"),
    "species.*.wood_density": Note("Basic wood density of the species", "Global Wood Density Database v2, fixed.",
                                   "Species identified in the field by trained runners; code list in the form.",
                                   "Removals"),
    "species.*.root_shoot": Note("Root-to-shoot ratio of the species", "Literature value set per species, fixed.",
                                 "Justification archived with the project file.", "Removals"),
}


def note(name: str) -> Note:
    """The note of parameter `name` (exact name first, then ``*`` patterns, then `DEFAULT`)."""
    if name in NOTES:
        return NOTES[name]
    for pattern, value in NOTES.items():
        if "*" in pattern and fnmatch.fnmatchcase(name, pattern):
            return value
    return DEFAULT


MONITORED: dict[str, Note] = {
    "usage_rate_applied": Note(
        "Share of commissioned project stoves in use (U_y)",
        "Annual usage survey: random sample of stoves from the distribution database; the latest visit per "
        "stove counts; a stove not found counts as not in use; 90/10 rule with the lower bound when not met.",
        "GPS and time stamps, photo of the stove, short-interview and speed checks, supervisor back-checks "
        "of flagged visits, repeat visits resolved to the latest.",
        "Project scenario"),
    "device_years": Note(
        "Device-years of operating project stoves per vintage (DY_y)",
        "Computed from the stove register: days each accepted stove is within its technical life in the "
        "period, split by calendar year, divided by 365.",
        "Unique serials across projects (duplicate_stove), commissioning date not in the future, GPS within "
        "the boundary; quarantined registrations never count.",
        "Project scenario"),
    "stoves_registered": Note(
        "Stoves in the distribution register (accepted records)",
        "Distribution app at hand-over: serial, model, commissioning date, household id, GPS, photo, consent.",
        "Required fields, allowed models, duplicate-serial check across projects, boundary check, "
        "carbon-rights consent recorded.",
        "Project scenario"),
    "n_planted": Note(
        "Planting units per species (N_s)",
        "Complete census: tagged-tree planting records plus saplings planted on bunds (latest bund visit).",
        "Unique tree tags (duplicate_tree), species from the project list, GPS within the boundary and plot.",
        "Removals"),
    "mortality": Note(
        "Mortality per species (M_s)",
        "Complete re-enumeration: dead, not found and not visited tagged trees, and dead bund saplings, over N_s.",
        "Unknown tags quarantined; trees not visited in the period count as dead (conservative).",
        "Removals"),
    "mean_carbon_t": Note(
        "Mean carbon per measured live tree (C̄_s)",
        "Girth at breast height and height of every live tagged tree and the bund trees measured at the "
        "latest visit; Chave et al. (2014) allometry.",
        "Girth and height ranges enforced by the form; blank girth below the threshold counts as zero.",
        "Removals"),
}
