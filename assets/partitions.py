"""Partitions: one key per uploaded batch, one key per monitoring period of a project.

Keys are ``<project_id>:<batch_id>`` and ``<project_id>:<period_id>``. Both are dynamic, stored in
the Dagster instance: the ``mrv`` commands and the sensors add them, so the CLI and the UI see the
same partitions. Periods are split per methodology because each methodology has its own assets.
"""

import dagster as dg

survey_batches = dg.DynamicPartitionsDefinition(name="survey_batches")
ams_ii_g_periods = dg.DynamicPartitionsDefinition(name="ams_ii_g_periods")
vm0047_periods = dg.DynamicPartitionsDefinition(name="vm0047_periods")

PERIOD_PARTITIONS = {"cdm-ams-ii-g": ams_ii_g_periods, "vm0047-census": vm0047_periods}
