"""The result of one monitoring period: named tables, ready to store and to report."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass
class PeriodResult:
    """Tables of one period of one project.

    Always present: ``emission_reductions`` (project_id, period_id, vintage, er_tco2e,
    issuable_tco2e), ``calculation_steps`` and ``parameters``. Methodology-specific intermediate
    tables (usage sample, device-years, strata...) and the accepted survey rows behind the numbers
    are in ``tables`` too; ``geometry_tables`` names those that carry coordinates.
    """

    project_id: str
    period_id: str
    methodology: str
    methodology_version: str
    parameters_sha256: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    geometry_tables: dict[str, str] = field(default_factory=dict)  # table -> "point" (lat/lon) or a WKT column
    summary: dict[str, float] = field(default_factory=dict)

    @property
    def emission_reductions(self) -> pd.DataFrame:
        return self.tables["emission_reductions"]
