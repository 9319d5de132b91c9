"""Sensors that keep the instance's partitions in step with the data home."""

import dagster as dg

from assets.partitions import PERIOD_PARTITIONS
from pipelines.project import load_projects
from pipelines.resources import MrvHome


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
