"""What `imbrun sweep` shows: live trials done / running / failed, the leaderboard table and the exit status."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from imbrun.errors import ImbrunError
from imbrun.sweep import SweepEvents, SweepOptions, run_sweep
from imbrun.sweep_board import leaderboard_table


class SweepProgress(SweepEvents):
    """One progress bar: trials done of those to run, with running and failed counts."""

    def __init__(self, progress: Progress):
        self.progress, self.task = progress, None
        self.running = self.failed = self.done = 0

    def planned(self, todo: int, total: int) -> None:
        self.progress.start()
        skipped = f"  ({total - todo} completed before)" if todo < total else ""
        self.task = self.progress.add_task("trials", total=todo, info="", skipped=skipped)

    def started(self, trial) -> None:
        self.running += 1
        self._show()

    def finished(self, trial, result: dict) -> None:
        self.running -= 1
        self.done += 1
        self.failed += result["status"] != "completed"
        self._show()

    def _show(self) -> None:
        info = f"running {self.running}  failed {self.failed}"
        self.progress.update(self.task, completed=self.done, info=info)


@contextmanager
def sweep_progress(console: Console, quiet: bool):
    """Yields SweepEvents: a live display, or silent ones when quiet."""
    if quiet:
        yield SweepEvents()
        return
    progress = Progress(TextColumn("trials"), MofNCompleteColumn(), BarColumn(), TextColumn("{task.fields[info]}"),
                        TimeElapsedColumn(), TextColumn("{task.fields[skipped]}"), console=console)
    try:
        yield SweepProgress(progress)
    finally:
        progress.stop()


def sweep_command(console: Console, spec: Path | None, runs_dir: Path, options: SweepOptions,
                  resume: Path | None, quiet: bool) -> None:
    """Run a sweep for the CLI: progress, leaderboard, folder; raises (exit code 1) when trials failed."""
    if spec is None and resume is None:
        raise ImbrunError("give a sweep file, or --resume SWEEP_DIR to rerun a sweep's unfinished trials")
    if spec is not None and resume is not None:
        raise ImbrunError(f"{spec}: --resume uses the sweep folder's own sweep.yaml; drop the sweep file")
    with sweep_progress(console, quiet) as events:
        result = run_sweep(spec, runs_dir, options, resume=resume, events=events)
    if not quiet:
        console.print(leaderboard_table(result.board, result.spec.metric,
                                        f"Sweep {result.spec.name}: {len(result.records)} trials, "
                                        f"higher {result.spec.metric} is better"))
    console.print(f"sweep: {result.folder}", highlight=False, soft_wrap=True)
    if result.failed:
        raise ImbrunError(f"{result.failed} of {len(result.records)} trials failed; see "
                          f"{result.folder / 'leaderboard.csv'} (rerun them with --resume {result.folder})",
                          exit_code=1)
