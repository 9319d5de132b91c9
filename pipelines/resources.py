"""Dagster resources: the data home, and an IO manager storing period tables as Parquet in it."""

from __future__ import annotations

from collections.abc import Mapping
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
    """Stores period tables as ``results/<asset key>/<project>/<period>.parquet``, one file per partition.

    A run covers one period or, for a single-run backfill (`dg launch --partition-range`, a UI
    backfill), a range of them, so values pass as ``{partition key: DataFrame}`` either way.
    """

    path: str

    def _file(self, asset_key: dg.AssetKey, partition_key: str) -> Path:
        project_id, _, period_id = partition_key.partition(PARTITION_SEPARATOR)
        return DataHome(Path(self.path)).results.joinpath(*asset_key.path, project_id, f"{period_id}.parquet")

    def handle_output(self, context: dg.OutputContext, obj: Mapping[str, pd.DataFrame]) -> None:
        expected = set(context.asset_partition_keys)
        if not isinstance(obj, Mapping) or set(obj) != expected:
            got = sorted(obj) if isinstance(obj, Mapping) else type(obj).__name__
            raise TypeError(f"{context.asset_key.to_user_string()} must return one table per partition "
                            f"{sorted(expected)}, got {got}")
        for key, table in obj.items():
            atomic.write_parquet(self._file(context.asset_key, key), table)
        metadata = {"rows": sum(len(table) for table in obj.values())}
        if len(obj) == 1:
            metadata["path"] = dg.MetadataValue.path(str(self._file(context.asset_key, next(iter(obj)))))
        context.add_output_metadata(metadata)

    def load_input(self, context: dg.InputContext) -> dict[str, pd.DataFrame]:
        tables = {}
        for key in context.asset_partition_keys:
            source = self._file(context.asset_key, key)
            if not source.exists():
                raise FileNotFoundError(f"{source} not found: materialize {context.asset_key.to_user_string()} "
                                        f"for {key} first")
            tables[key] = pd.read_parquet(source)
        return tables
