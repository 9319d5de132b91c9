"""Methodology calculations: pure functions, no Dagster, no I/O.

One module per methodology. Each reads like the methodology text: equations numbered as in the
source, units in names and docstrings, and every intermediate value recorded as a `Step` so the
verifier package can show the whole chain.
"""
