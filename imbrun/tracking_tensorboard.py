"""The TensorBoard sink: scalars per epoch and final scores, written with torch's SummaryWriter."""

from __future__ import annotations

from pathlib import Path

from imbrun.tracking import epoch_scalars, final_scalars, missing_extra


def scalar_tag(key: str) -> str:
    """Group related curves: train_loss -> loss/train, val_loss -> loss/val, val_macro_f1 -> val/macro_f1."""
    if key.endswith("_loss"):
        return f"loss/{key.removesuffix('_loss')}"
    for prefix in ("val_", "test_"):
        if key.startswith(prefix):
            return f"{prefix[:-1]}/{key.removeprefix(prefix)}"
    return key


class TensorboardSink:
    """Event files in `log_dir`; the config goes in as a text summary (TensorBoard has no params table)."""

    def __init__(self, log_dir: Path):
        try:
            import tensorboard  # noqa: F401  (SummaryWriter needs it; torch's own import error is less clear)
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise missing_extra("tensorboard", "tensorboard") from None
        self.log_dir = Path(log_dir)
        self.writer = SummaryWriter(log_dir=str(self.log_dir))

    def log_params(self, params: dict) -> None:
        lines = ["| key | value |", "| --- | --- |"] + [f"| {k} | {v} |" for k, v in params.items()]
        self.writer.add_text("config", "\n".join(lines), 0)

    def log_epoch(self, row: dict) -> None:
        for key, value in epoch_scalars(row).items():
            self.writer.add_scalar(scalar_tag(key), value, int(row["epoch"]))

    def log_final(self, metrics: dict) -> None:
        step = int(metrics.get("epochs_run", 0))
        for key, value in final_scalars(metrics).items():
            self.writer.add_scalar(f"final/{key}", value, step)

    def log_artifacts(self, path: Path) -> None:
        """Nothing to copy: TensorBoard reads only its event files."""

    def close(self, status: str = "completed") -> None:
        self.writer.close()
