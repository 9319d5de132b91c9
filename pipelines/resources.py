"""Dagster resources: the data home, and an IO manager storing period tables as Parquet in it."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd

from pipelines import atomic
from pipelines.project import PARTITION_SEPARATOR
from pipelines.settings import DataHome


class MrvHome(dg.ConfigurableResource):
    """The data home every asset reads and writes (``$MRV_HOME``, else ``data/`` in the checkout)."""

    path: str

    @property
    def home(self) -> DataHome:
        return DataHome(Path(self.path))


class PeriodTablesIOManager(dg.ConfigurableIOManager):
    """Stores each period asset's DataFrame as ``results/<asset key>/<project>/<period>.parquet``."""

    path: str

    def _file(self, context: dg.OutputContext | dg.InputContext) -> Path:
        key = context.asset_key.path
        project_id, _, period_id = context.asset_partition_key.partition(PARTITION_SEPARATOR)
        return DataHome(Path(self.path)).results.joinpath(*key, project_id, f"{period_id}.parquet")

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        target = self._file(context)
        atomic.write_parquet(target, obj)
        context.add_output_metadata({"path": dg.MetadataValue.path(str(target)), "rows": len(obj)})

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        source = self._file(context)
        if not source.exists():
            raise FileNotFoundError(f"{source} not found: materialize {context.asset_key.to_user_string()} "
                                    f"for {context.asset_partition_key} first")
        return pd.read_parquet(source)

    def has_output(self, asset_key: dg.AssetKey, partition_key: str) -> bool:
        project_id, _, period_id = partition_key.partition(PARTITION_SEPARATOR)
        return DataHome(Path(self.path)).results.joinpath(*asset_key.path, project_id, f"{period_id}.parquet").exists()
