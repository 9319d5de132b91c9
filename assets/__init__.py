"""Dagster declarations: what exists. Thin wrappers that call into `pipelines`; no side effects on import."""
