"""Calculation steps: the audit trail a verifier reads to recompute a result.

Every methodology function that produces a number a verifier will see records it as a `Step`:
what it is, its symbol in the methodology text, its value and unit, the equation that produced it
and where that equation comes from. `StepLog.to_frame()` gives the `calculation_steps` table of
the verifier package, in the order the values were computed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

STEP_COLUMNS = ["step_no", "name", "symbol", "scope", "value", "unit", "equation", "reference"]


@dataclass(frozen=True)
class Step:
    """One intermediate value of a calculation chain.

    name: machine name, stable across runs (``usage_rate_applied``); used to compare versions.
    symbol: the symbol in the methodology text (``U_y``).
    scope: what the value is about: ``""`` for the whole period, else ``"model=ICS-A"``,
        ``"vintage=2024"``, ``"stratum=TEGR"``, or a combination joined by ``,``.
    value: the number, in full precision (never rounded).
    unit: unit of ``value`` (``t``, ``tCO2e``, ``fraction``, ``device-years``, ``count``).
    equation: the equation with the symbols it combines.
    reference: methodology, version and equation/section; or the contract clause.
    """

    name: str
    symbol: str
    value: float
    unit: str
    equation: str
    reference: str
    scope: str = ""


@dataclass
class StepLog:
    """Ordered collection of `Step`s."""

    steps: list[Step] = field(default_factory=list)

    def add(self, name: str, symbol: str, value: float, unit: str, equation: str,
            reference: str, scope: str = "") -> float:
        """Record a step and return its value, so a calculation can be written inline."""
        self.steps.append(Step(name, symbol, float(value), unit, equation, reference, scope))
        return float(value)

    def extend(self, other: "StepLog") -> None:
        self.steps.extend(other.steps)

    def value(self, name: str, scope: str = "") -> float:
        """The value of the step called `name` in `scope` (KeyError when absent)."""
        for step in self.steps:
            if step.name == name and step.scope == scope:
                return step.value
        raise KeyError(f"no step {name!r} with scope {scope!r}")

    def to_frame(self) -> pd.DataFrame:
        rows = [asdict(s) for s in self.steps]
        frame = pd.DataFrame(rows, columns=STEP_COLUMNS[1:])
        frame.insert(0, "step_no", range(1, len(frame) + 1))
        return frame
