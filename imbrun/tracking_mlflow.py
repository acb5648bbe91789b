"""The MLflow sink: one MLflow run per imbrun run, through MlflowClient (no global active-run state).

Every MLflow failure becomes one ImbrunError line; the URI shown there (and any secret of it that MLflow's own
message repeats) goes through imbrun.redact, while the client itself connects with the URI as written.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from pathlib import Path

from imbrun.errors import ImbrunError
from imbrun.redact import redact_text, redact_url
from imbrun.tracking import epoch_scalars, final_scalars, missing_extra

_END = {"completed": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
_BATCH = 100  # MLflow accepts at most 100 params per log_batch call
_EXTRA = 'pip install "imbrun[mlflow]"'
# the module a store imports -> what installs it (a sqlite:/// or other database store needs alembic + SQLAlchemy)
_INSTALL = {"alembic": _EXTRA, "sqlalchemy": _EXTRA, "mako": _EXTRA, "psycopg": "pip install psycopg",
            "psycopg2": "pip install psycopg2-binary", "MySQLdb": "pip install mysqlclient (or write mysql+pymysql://)",
            "pymysql": "pip install pymysql"}


class MlflowSink:
    """Params once, metrics per epoch (step = epoch), final per-class metrics, the run folder as artifacts.

    The final scores keep their names (test_macro_f1, test_recall_<class>, best_epoch) except the validation ones:
    val_macro_f1 & co. are already the per-epoch curves, so the final validation block is final_val_*.
    """

    def __init__(self, uri: str | None, experiment: str, run_name: str):
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise missing_extra("mlflow", "mlflow") from None
        self.uri = uri
        logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)  # "Creating initial MLflow database.."
        with self._errors("tracking.mlflow.uri: MLflow cannot use {where}", exit_code=2):
            self.client = MlflowClient(tracking_uri=uri)
            found = self.client.get_experiment_by_name(experiment)
            experiment_id = found.experiment_id if found else self.client.create_experiment(experiment)
            self.run_id = self.client.create_run(experiment_id, run_name=run_name).info.run_id

    def log_params(self, params: dict) -> None:
        from mlflow.entities import Param

        items = [Param(k, v[:6000]) for k, v in params.items()]
        with self._errors("tracking.mlflow: logging params to {where} failed"):
            for start in range(0, len(items), _BATCH):
                self.client.log_batch(self.run_id, params=items[start:start + _BATCH])

    def log_epoch(self, row: dict) -> None:
        self._metrics(epoch_scalars(row), step=int(row["epoch"]))

    def log_final(self, metrics: dict) -> None:
        scores = final_scalars(metrics)
        self._metrics({f"final_{k}" if k.startswith("val_") else k: v for k, v in scores.items()}, step=0)

    def log_artifacts(self, path: Path) -> None:
        with self._errors("tracking.mlflow: copying the run folder to {where} failed"):
            self.client.log_artifacts(self.run_id, str(path))

    def close(self, status: str = "completed") -> None:
        with self._errors("tracking.mlflow: ending the MLflow run at {where} failed"):
            self.client.set_terminated(self.run_id, status=_END.get(status, "FAILED"))

    def _metrics(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, v, now, step) for k, v in values.items()]
        with self._errors("tracking.mlflow: logging metrics to {where} failed"):
            for start in range(0, len(items), _BATCH):
                self.client.log_batch(self.run_id, metrics=items[start:start + _BATCH])

    @contextmanager
    def _errors(self, what: str, exit_code: int = 1):
        """MLflow's exceptions (and a store module that is not installed) as one redacted line; 2 for a bad uri."""
        from mlflow.exceptions import MlflowException

        where = redact_url(self.uri) if self.uri else "its default store"
        try:
            yield
        except ImportError as exc:  # e.g. mlflow-skinny without alembic: a sqlite:/// store cannot open
            name = (exc.name or "").split(".")[0]
            hint = _INSTALL.get(name, f"pip install {name}")
            raise ImbrunError(f"{what.format(where=where)}: its store needs the {name} module, which is not "
                              f"installed; {hint}", exit_code) from None
        except (MlflowException, OSError) as exc:
            line = f"{what.format(where=where)}: {_first_sentence(str(exc))}"
            raise ImbrunError(redact_text(line, self.uri), exit_code) from None


def _first_sentence(message: str) -> str:
    """MLflow's errors run to several sentences; the first says what is wrong (the file store refusal: our own)."""
    if "MLFLOW_ALLOW_FILE_STORE" in message:
        return ("MLflow 3 refuses the file store unless MLFLOW_ALLOW_FILE_STORE=true is set; "
                "use a database store instead, e.g. sqlite:///mlruns.db")
    lines = message.strip().splitlines() or [""]
    return lines[0].split(". ")[0]
