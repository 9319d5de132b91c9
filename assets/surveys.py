"""Survey batches: upload -> GX row rules (blocking check) -> accepted rows and quarantine."""

import dagster as dg

from assets.partitions import survey_batches
from pipelines import feedback, ingest
from pipelines.project import load_project
from pipelines.quality import risk
from pipelines.resources import MrvHome


@dg.asset(key=["surveys", "batch_upload"], group_name="surveys", partitions_def=survey_batches,
          kinds={"python", "parquet"})
def batch_upload(context: dg.AssetExecutionContext, mrv_home: MrvHome) -> dg.MaterializeResult:
    """Canonical, typed rows of one uploaded Kobo or ODK export, with lineage to file and row."""
    upload = ingest.load_upload(mrv_home.home, context.partition_key)
    counts = ingest.stage_batch(mrv_home.home, upload)
    return dg.MaterializeResult(metadata={
        "form": upload.form, "flavour": upload.flavour, "source_file": upload.source_name,
        "uploaded_at": upload.uploaded_at, "sha256": upload.sha256,
        **{f"rows/{table}": dg.MetadataValue.int(n) for table, n in counts.items()},
    })


@dg.asset_check(asset=batch_upload, name="row_rules", blocking=True, partitions_def=survey_batches,
                description="Great Expectations suite of the form: every failing row id with its contract reason code.")
def row_rules(context: dg.AssetCheckExecutionContext, mrv_home: MrvHome) -> dg.AssetCheckResult:
    upload = ingest.load_upload(mrv_home.home, context.partition_key)
    project = load_project(mrv_home.home, upload.project_id)
    results = ingest.check_row_rules(mrv_home.home, upload, project)
    errors = [e for r in results.values() for e in r.errors]
    table_failures = [f for r in results.values() for f in r.table_failures]
    counts: dict[str, int] = {}
    for result in results.values():
        for reason, n in result.failures.groupby("reason")["source_row"].nunique().items():
            counts[reason] = counts.get(reason, 0) + int(n)
    flagged = any(counts.values())
    return dg.AssetCheckResult(
        passed=not errors and not table_failures,
        severity=dg.AssetCheckSeverity.ERROR if errors or table_failures else dg.AssetCheckSeverity.WARN,
        description=("; ".join(errors + table_failures) or
                     ("rows flagged: see rows/<reason>" if flagged else "every row passed the suite")),
        metadata={**{f"rows/{reason}": dg.MetadataValue.int(n) for reason, n in sorted(counts.items())},
                  "expectation_errors": dg.MetadataValue.int(len(errors))},
    )


@dg.asset(key=["surveys", "accepted_rows"], group_name="surveys", partitions_def=survey_batches,
          deps=[batch_upload], kinds={"duckdb"}, pool="warehouse_writer")
def accepted_rows(context: dg.AssetExecutionContext, mrv_home: MrvHome) -> dg.MaterializeResult:
    """Rows of the batch accepted into the warehouse; the rest quarantined with reasons; the field team's feedback file."""
    home = mrv_home.home
    upload = ingest.load_upload(home, context.partition_key)
    summary = ingest.commit_batch(home, upload, load_project(home, upload.project_id))
    return dg.MaterializeResult(metadata={
        "rows_read": summary.rows_read, "accepted": summary.accepted, "duplicates_ignored": summary.duplicates,
        "quarantined": summary.quarantined, "warned": summary.warned,
        **{f"quarantined/{k}": dg.MetadataValue.int(v) for k, v in summary.quarantined_by_reason.items()},
        **{f"warnings/{k}": dg.MetadataValue.int(v) for k, v in summary.warnings_by_reason.items()},
        "feedback": dg.MetadataValue.path(summary.feedback_path),
        "feedback_workbook": dg.MetadataValue.path(str(feedback.workbook_path(home, upload))),
    })


@dg.asset_check(asset=accepted_rows, name="runner_risk", blocking=False, partitions_def=survey_batches,
                description="Per runner: short interviews, impossible speeds, reused photos, households on one GPS spot, "
                            "identical answers; a transparent score (docs/field_teams.md). Warns, never blocks.")
def runner_risk(context: dg.AssetCheckExecutionContext, mrv_home: MrvHome) -> dg.AssetCheckResult:
    upload = ingest.load_upload(mrv_home.home, context.partition_key)
    summary = feedback.batch_risk(mrv_home.home, upload)
    runners = summary[summary["runner_id"] != risk.ALL_RUNNERS]
    high = runners[runners["level"] == "high"].sort_values("score", ascending=False)
    medium = runners[runners["level"] == "medium"]
    return dg.AssetCheckResult(
        passed=high.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=(f"back-check first: {', '.join(high['runner_id'])}" if not high.empty
                     else "no runner at high risk"),
        metadata={"runners": dg.MetadataValue.md(risk.markdown_table(summary)),
                  "runners_high": dg.MetadataValue.int(len(high)), "runners_medium": dg.MetadataValue.int(len(medium)),
                  "highest_score": dg.MetadataValue.float(float(runners["score"].max()) if not runners.empty else 0.0)},
    )


@dg.asset(key=["surveys", "review_writeback"], group_name="surveys", partitions_def=survey_batches,
          deps=[accepted_rows], kinds={"python"},
          # Declarative: whenever a batch's verdicts change (a batch is committed, e.g. by the upload
          # sensor or a re-run), send them on, without a job having to list this asset.
          automation_condition=dg.AutomationCondition.eager())
def review_writeback(context: dg.AssetExecutionContext, mrv_home: MrvHome) -> dg.MaterializeResult:
    """The batch's QA verdicts sent back to ODK Central (review state) or KoboToolbox (validation status), when MRV_WRITEBACK is set."""
    from pipelines import writeback
    from pipelines.settings import writeback_settings

    upload = ingest.load_upload(mrv_home.home, context.partition_key)
    sent = writeback.write_back(mrv_home.home, upload, writeback_settings())
    if sent.status != "off":
        (context.log.info if sent.ok else context.log.warning)(sent.line())
    return dg.MaterializeResult(metadata=sent.metadata())
