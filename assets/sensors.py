"""Sensors and schedules that keep Dagster in step with the data home."""

import datetime as dt
import os

import dagster as dg

from assets.partitions import PERIOD_PARTITIONS, survey_batches
from pipelines import dropbox
from pipelines.project import load_projects
from pipelines.resources import MrvHome

PARTITION_RANGE_START, PARTITION_RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
PERIOD_JOBS = {"cdm-ams-ii-g": "ams_ii_g_period", "vm0047-census": "vm0047_period"}


@dg.sensor(name="project_periods", minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Adds a period partition for every monitoring period in the projects' project.yaml files.")
def project_periods(context: dg.SensorEvaluationContext, mrv_home: MrvHome) -> dg.SensorResult:
    requests = []
    for methodology, partitions in PERIOD_PARTITIONS.items():
        wanted = [p.partition_key(period.id) for p in load_projects(mrv_home.home) if p.methodology == methodology
                  for period in p.periods]
        existing = set(context.instance.get_dynamic_partitions(partitions.name))
        new = [key for key in wanted if key not in existing]
        if new:
            requests.append(partitions.build_add_request(new))
    return dg.SensorResult(dynamic_partitions_requests=requests)


@dg.sensor(name="upload_folder", job_name="ingest_batch", minimum_interval_seconds=30,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Registers every export dropped into projects/<id>/upload/ as a batch partition and ingests it.")
def upload_folder(context: dg.SensorEvaluationContext, mrv_home: MrvHome) -> dg.SensorResult:
    home = mrv_home.home
    accepted, rejected = dropbox.collect(home)
    for item in rejected:
        context.log.warning(f"rejected {item.file.name}: {item.error} (moved to {item.moved_to})")
    keys = [u.partition_key for u in accepted]
    new_keys = [k for k in dict.fromkeys(keys) if not context.instance.has_dynamic_partition(survey_batches.name, k)]
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=key, partition_key=key, tags={"mrv/source": "upload_folder"})
                      for key in dict.fromkeys(keys)],
        dynamic_partitions_requests=[survey_batches.build_add_request(new_keys)] if new_keys else [],
    )


def _open_period_schedule(methodology: str, job_name: str) -> dg.ScheduleDefinition:
    @dg.schedule(name=f"nightly_{job_name}", job_name=job_name, cron_schedule="0 2 * * *",
                 execution_timezone="Asia/Kolkata", default_status=dg.DefaultScheduleStatus.STOPPED,
                 description="Recomputes every open monitoring period each night (open: started, and ended less "
                             "than MRV_OPEN_PERIOD_GRACE_DAYS days ago, default 90).")
    def nightly(context: dg.ScheduleEvaluationContext, mrv_home: MrvHome):
        today = (context.scheduled_execution_time or dt.datetime.now(dt.timezone.utc)).date()
        grace = dt.timedelta(days=int(os.environ.get("MRV_OPEN_PERIOD_GRACE_DAYS", "90")))
        for project in load_projects(mrv_home.home):
            if project.methodology != methodology:
                continue
            keys = [project.partition_key(p.id) for p in project.periods if p.start <= today <= p.end + grace]
            if len(keys) == 1:
                yield dg.RunRequest(run_key=f"{keys[0]}:{today.isoformat()}", partition_key=keys[0])
            elif keys:  # several open periods of a project: one run, in order (VM0047 periods build on each other)
                yield dg.RunRequest(run_key=f"{keys[0]}...{keys[-1]}:{today.isoformat()}",
                                    tags={PARTITION_RANGE_START: keys[0], PARTITION_RANGE_END: keys[-1]})

    return nightly


nightly_schedules = [_open_period_schedule(m, job) for m, job in PERIOD_JOBS.items()]
