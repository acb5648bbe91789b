"""The MLflow sink: one MLflow run per imbrun run, through MlflowClient (no global active-run state)."""

from __future__ import annotations

import time
from pathlib import Path

from imbrun.errors import ImbrunError
from imbrun.tracking import epoch_scalars, final_scalars, missing_extra

_END = {"completed": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
_BATCH = 100  # MLflow accepts at most 100 params per log_batch call


class MlflowSink:
    """Params once, metrics per epoch (step = epoch), final per-class metrics, the run folder as artifacts."""

    def __init__(self, uri: str | None, experiment: str, run_name: str):
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise missing_extra("mlflow", "mlflow") from None
        from mlflow.exceptions import MlflowException

        try:
            self.client = MlflowClient(tracking_uri=uri)
            found = self.client.get_experiment_by_name(experiment)
            experiment_id = found.experiment_id if found else self.client.create_experiment(experiment)
            self.run_id = self.client.create_run(experiment_id, run_name=run_name).info.run_id
        except MlflowException as exc:
            raise ImbrunError(f"tracking.mlflow.uri: MLflow cannot use {uri or 'its default store'}: "
                              f"{_first_sentence(str(exc))}") from None

    def log_params(self, params: dict) -> None:
        from mlflow.entities import Param

        items = [Param(k, v[:6000]) for k, v in params.items()]
        for start in range(0, len(items), _BATCH):
            self.client.log_batch(self.run_id, params=items[start:start + _BATCH])

    def log_epoch(self, row: dict) -> None:
        self._metrics(epoch_scalars(row), step=int(row["epoch"]))

    def log_final(self, metrics: dict) -> None:
        self._metrics(final_scalars(metrics), step=0)

    def log_artifacts(self, path: Path) -> None:
        self.client.log_artifacts(self.run_id, str(path))

    def close(self, status: str = "completed") -> None:
        self.client.set_terminated(self.run_id, status=_END.get(status, "FAILED"))

    def _metrics(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, v, now, step) for k, v in values.items()]
        for start in range(0, len(items), _BATCH):
            self.client.log_batch(self.run_id, metrics=items[start:start + _BATCH])


def _first_sentence(message: str) -> str:
    """MLflow's errors run to several sentences; the first says what is wrong (plus the opt-out it names)."""
    first = message.strip().splitlines()[0].split(". ")[0]
    if "MLFLOW_ALLOW_FILE_STORE" in message:
        first += " (set MLFLOW_ALLOW_FILE_STORE=true to use it anyway, or use a sqlite:/// uri)"
    return first
