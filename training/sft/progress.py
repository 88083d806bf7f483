"""The training bar: a rich progress bar over optimizer steps with the latest loss, and one line per log and
evaluation, instead of transformers' tqdm bar and its printed dicts."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TimeElapsedColumn, TimeRemainingColumn
from transformers import TrainerCallback


class RichProgress(TrainerCallback):
    """A `TrainerCallback` and a context manager: ``with RichProgress(console) as p: run_sft(..., progress=p)``."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.task: TaskID | None = None
        self.data_task: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self.bar.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.bar.stop()

    def say(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def on_record(self, summary: Any) -> None:
        """The data pass: records kept and skipped so far (the total is unknown while streaming)."""
        seen = summary.kept + sum(summary.skipped.values())
        if self.data_task is None:
            self.data_task = self.bar.add_task("reading records", total=None)
        if seen % 64 == 0 or seen < 64:
            self.bar.update(self.data_task, completed=seen, description=f"reading records ({summary.kept} kept)")

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.data_task is not None:
            self.bar.remove_task(self.data_task)
            self.data_task = None
        self.task = self.bar.add_task("training", total=state.max_steps, completed=state.global_step)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.task is not None:
            self.bar.update(self.task, completed=state.global_step)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        logs = logs or {}
        if "loss" in logs:
            if self.task is not None:
                self.bar.update(self.task, description=f"training (loss {logs['loss']:.4f})")
            self.say(
                f"step {state.global_step}: loss {logs['loss']:.4f}, lr {logs.get('learning_rate', 0):.2e}, "
                f"grad norm {logs.get('grad_norm', 0):.3f}"
            )
        elif "eval_loss" in logs:
            self.say(f"step {state.global_step}: eval loss {logs['eval_loss']:.4f}")

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.say(f"step {state.global_step}: checkpoint saved")
