"""`viscodex-train sft`: the command line of the fine-tuning (registered in ``training/cli.py``).

Heavy imports (torch, transformers, TRL) wait until the arguments are checked, so a usage error answers at once.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from viscodex.agent.cli_errors import fail, one_line
from viscodex.agent.exit_codes import ExitCode

PROG = "viscodex-train"


def sft(
    model: Annotated[Path, typer.Option("--model", help="The checkpoint to fine-tune (a Qwen2.5-VL folder).")],
    data: Annotated[
        str, typer.Option("--data", help="Training data: a folder or file in any layout the loaders read, or hub:NAME.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder: the fine-tuned checkpoint and its model card.")],
    config: Annotated[
        str | None, typer.Option("--config", help="A recipe: a YAML file or a name (viscodex, viscodex-lora, tiny).")
    ] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", min=1, help="Stop after N optimizer steps.")] = None,
    lora: Annotated[bool, typer.Option("--lora", help="Train LoRA adapters and merge them back.")] = False,
    epochs: Annotated[float | None, typer.Option("--epochs", min=0.0, help="Passes over the data.")] = None,
    lr: Annotated[float | None, typer.Option("--lr", min=0.0, help="Peak learning rate.")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1, help="Examples per device per step.")] = None,
    grad_accum: Annotated[int | None, typer.Option("--grad-accum", min=1, help="Steps accumulated per update.")] = None,
    eval_split: Annotated[
        float | None, typer.Option("--eval-split", min=0.0, max=0.9, help="Share held out for evaluation (0: none).")
    ] = None,
    max_length: Annotated[int | None, typer.Option("--max-length", min=16, help="Longest example in tokens.")] = None,
    layout: Annotated[str | None, typer.Option("--layout", help="The data's layout (default: detected).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in OUT/work.")] = False,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of the split, the order and the init of LoRA.")
    ] = None,
    deepspeed: Annotated[
        str | None, typer.Option("--deepspeed", help="zero2 or zero3 (the configs in training/sft/deepspeed/).")
    ] = None,
    token_metrics: Annotated[
        bool | None,
        typer.Option(
            "--token-metrics/--no-token-metrics",
            help="Log TRL's entropy and token accuracy with the loss (slower: a pass over the vocabulary per token).",
        ),
    ] = None,
) -> None:
    """Fine-tune a VisCodex model on multimodal coding data: loss on the answers only, vision tower and
    projector frozen, full or LoRA; writes a Hugging Face checkpoint with a model card. Multi-GPU: see
    training/sft/README.md (accelerate launch)."""
    from pydantic import ValidationError

    from .recipe import LoraSettings, resolve_recipe

    if not model.is_dir():
        raise fail(f"--model {model} is not a folder", ExitCode.USAGE, PROG)
    if not (model / "config.json").is_file():
        raise fail(f"--model {model} has no config.json: not a Hugging Face checkpoint", ExitCode.USAGE, PROG)
    try:
        base = resolve_recipe(config)
    except (OSError, ValueError) as exc:
        raise fail(f"bad recipe: {one_line(str(exc), 400)}", ExitCode.USAGE, PROG) from None
    overrides: dict[str, Any] = {
        "max_steps": max_steps,
        "epochs": epochs,
        "learning_rate": lr,
        "batch_size": batch_size,
        "grad_accum": grad_accum,
        "eval_split": eval_split,
        "max_length": max_length,
        "seed": seed,
        "deepspeed": deepspeed,
        "token_metrics": token_metrics,
    }
    fields = {**base.model_dump(), **{k: v for k, v in overrides.items() if v is not None}}
    if lora and base.lora is None:
        fields["lora"] = LoraSettings().model_dump()
    try:
        recipe = type(base).model_validate(fields)
    except ValidationError as exc:
        raise fail(f"bad recipe: {one_line(str(exc), 400)}", ExitCode.USAGE, PROG) from None

    from ..data.loaders import DataError as LoaderError
    from ..data.loaders import load_records

    try:
        records = load_records(data, layout=layout)
    except LoaderError as exc:
        raise fail(str(exc), ExitCode.USAGE, PROG) from None
    _train(model, records, out, recipe, resume)


def _train(model: Path, records: Any, out: Path, recipe: Any, resume: bool) -> None:
    from rich.console import Console
    from transformers.utils import logging as hf_logging

    from .dataset import DataError
    from .progress import RichProgress
    from .train import SFTError, run_sft

    err = Console(stderr=True)
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # our bar says what happens; not theirs
    command = shlex.join(["viscodex-train", *sys.argv[1:]])
    try:
        with RichProgress(err) as progress:
            result = run_sft(
                model, records, out, recipe, resume=resume, say=progress.say, progress=progress, command=command
            )
    except (SFTError, DataError) as exc:
        raise fail(str(exc), ExitCode.USAGE, PROG) from None
    except KeyboardInterrupt:
        raise fail(
            f"interrupted; checkpoints are kept in {out / 'work'}: add --resume to continue", ExitCode.FAILED, PROG
        ) from None
    except OSError as exc:
        raise fail(f"cannot write {out}: {one_line(str(exc), 300)}", ExitCode.FAILED, PROG) from None
    losses = f"train loss {result.train_loss:.4f}" if result.train_loss is not None else "no training loss"
    if result.eval_loss is not None:
        losses += f", eval loss {result.eval_loss:.4f}"
    from accelerate import PartialState  # type: ignore[import-untyped]

    if not PartialState().is_main_process:
        return
    steps = f"{result.steps} step{'s' if result.steps != 1 else ''}"
    print(f"{out}: {steps} on {result.data.kept} records, {losses}, {result.seconds:.1f} s")
