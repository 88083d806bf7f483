"""SFT speed: our trainer (`run_sft`, TRL's SFTTrainer underneath) against the same steps in a plain
transformers `Trainer` loop, on the tiny Qwen2.5-VL, with the peak RSS of each.

    .venv/bin/python bench/sft.py [--records 16] [--steps 12] [--batch 4] [--repeats 3] [--threads 1] [--json out.json]

The tiny models are built once (`viscodex-train tiny`'s `build_tiny_models`), and RECORDS chart records
are built in code: the answer is a real synthetic chart script (`data synth --kind chart`'s generator,
500-700 characters), the picture a 280x210 bar drawing (not that script's render: the sandbox is not
needed to time a trainer). Each side runs in a subprocess of its own (its peak RSS is its own), the sides
alternate and which goes first alternates too; medians over the repeats.

Both sides: the same model folder, records, batch, steps, seed, learning rate, schedule, gradient
checkpointing, length-grouped sampling, fp32, the vision tower and projector frozen, and the same
collator (`VisionSFTCollator`: chat template, images decoded per batch, answer-only labels), so what
differs is the trainer around it. "ours" is `run_sft` as `viscodex-train sft` calls it (TRL's
`SFTTrainer` subclass, our arguments); "plain" is `transformers.Trainer` with `TrainingArguments` of the
same values over an in-memory `datasets.Dataset`. Timed: the training loop (train begin to train end,
by a callback; "steps" stops at the last step's end, before the checkpoint ours writes when training
ends) and the tokens the collator produced in it (non-pad tokens), and, separately, each
process's whole run (ours also does its data pass to Arrow, the save and the model card; plain saves
nothing). Target (issue 14): ours takes <= 1.1x the plain loop's time for the same steps.

Each side runs torch on ``--threads`` CPU threads (1 by default): on the shared 2-core machine two
OpenMP threads stall at every barrier whenever a neighbour holds one core, and the same 12 steps took
anywhere from 5 s to 36 s that way, on either side; one thread each keeps the sides comparable.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET = 1.1
FIELDS = ("train_s", "steps_s", "tokens", "tokens_per_s", "process_s", "peak_rss_mb", "steps", "loss")


def make_records(folder: Path, n: int) -> list[Any]:
    """N chart records: a bar drawing and a synthetic chart script as the answer (deterministic)."""
    from PIL import Image, ImageDraw

    from viscodex.training.data.records import Message, Record
    from viscodex.training.data.synth.charts import generate

    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n):
        path = folder / f"{i}.png"
        if not path.is_file():
            rng = random.Random(i)
            image = Image.new("RGB", (280, 210), "white")
            draw = ImageDraw.Draw(image)
            for k in range(rng.randint(3, 7)):
                top = rng.randint(30, 180)
                draw.rectangle((20 + 35 * k, top, 45 + 35 * k, 190), fill=(rng.randrange(256), 90, 160))
            image.save(path)
        program = generate(0, i)
        answer = f"```python\n{program.code.rstrip()}\n```"
        records.append(
            Record(
                id=str(i),
                messages=(Message("user", f"<image>\n{program.instruction}"), Message("assistant", answer)),
                images=(path,),
            )
        )
    return records


def recipe_for(steps: int, batch: int) -> Any:
    from viscodex.training.sft.recipe import resolve_recipe

    return resolve_recipe("tiny").model_copy(
        update={
            "max_steps": steps,
            "batch_size": batch,
            "eval_split": 0.0,
            "save_steps": 10**6,
            "logging_steps": steps,
            "precision": "fp32",
            "dataloader_workers": 0,
        }
    )


class Meter:
    """Train begin/end times (a TrainerCallback, built lazily) and the collator's tokens in between."""

    def __init__(self) -> None:
        self.begin = self.end = self.last_step = 0.0
        self.tokens = 0
        self.loss: float | None = None

    def callback(self) -> Any:
        from transformers import TrainerCallback

        meter = self

        class Timing(TrainerCallback):
            def on_train_begin(self, *args: Any, **kwargs: Any) -> None:
                meter.tokens = 0
                meter.begin = time.perf_counter()

            def on_step_end(self, *args: Any, **kwargs: Any) -> None:
                meter.last_step = time.perf_counter()

            def on_train_end(self, *args: Any, **kwargs: Any) -> None:
                meter.end = time.perf_counter()

            def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
                if logs and "loss" in logs:
                    meter.loss = float(logs["loss"])

        return Timing()

    def count_tokens(self) -> None:
        """Wrap the collator so every batch it makes adds its non-pad tokens."""
        from viscodex.training.sft import collate

        call = collate.VisionSFTCollator.__call__
        meter = self

        def counted(collator: Any, rows: list[dict[str, Any]]) -> Any:
            batch = call(collator, rows)
            meter.tokens += int(batch["attention_mask"].sum())
            return batch

        collate.VisionSFTCollator.__call__ = counted  # type: ignore[method-assign,assignment]


def run_ours(model: Path, records: list[Any], out: Path, steps: int, batch: int, meter: Meter) -> int:
    from viscodex.training.sft.train import run_sft

    result = run_sft(model, records, out, recipe_for(steps, batch), say=lambda _: None, progress=meter.callback())
    return result.steps


def run_plain(model: Path, records: list[Any], out: Path, steps: int, batch: int, meter: Meter) -> int:
    """The same steps in transformers' own Trainer, with the same collator and frozen parts."""
    from datasets import Dataset  # type: ignore[import-untyped]
    from transformers import PrinterCallback, ProgressCallback, Trainer, TrainingArguments

    from viscodex.training.sft.collate import ChatMarkers, VisionSFTCollator, processor_budget
    from viscodex.training.sft.dataset import record_length
    from viscodex.training.sft.freeze import freeze
    from viscodex.training.sft.train import load_model, load_processor

    recipe = recipe_for(steps, batch)
    processor = load_processor(model, recipe)
    budget = processor_budget(processor)
    rows = [
        {
            "id": r.id,
            "messages": [{"role": m.role, "content": m.content} for m in r.messages],
            "images": [str(p) for p in r.images],
            "length": record_length(r, processor, budget),
        }
        for r in records
    ]
    vlm = load_model(model, "fp32")
    freeze(vlm, recipe.freeze_vision, recipe.freeze_projector)
    args = TrainingArguments(
        output_dir=str(out),
        learning_rate=recipe.learning_rate,
        max_steps=steps,
        per_device_train_batch_size=batch,
        gradient_accumulation_steps=recipe.grad_accum,
        lr_scheduler_type=recipe.lr_scheduler,
        warmup_steps=recipe.warmup_ratio,
        weight_decay=recipe.weight_decay,
        max_grad_norm=recipe.max_grad_norm,
        gradient_checkpointing=recipe.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False},
        train_sampling_strategy="group_by_length" if recipe.group_by_length else "random",
        length_column_name="length",
        save_strategy="no",
        logging_steps=steps,
        seed=recipe.seed,
        data_seed=recipe.seed,
        report_to=[],
        remove_unused_columns=False,
        dataloader_num_workers=0,
        disable_tqdm=True,
        dataloader_pin_memory=False,
    )
    markers = ChatMarkers.from_tokenizer(processor.tokenizer)
    trainer = Trainer(
        model=vlm,
        args=args,
        train_dataset=Dataset.from_list(rows),
        data_collator=VisionSFTCollator(processor=processor, markers=markers),
        callbacks=[meter.callback()],
    )
    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    return int(trainer.state.global_step)


def child(side: str, model: Path, images: Path, n: int, steps: int, batch: int, out: Path) -> None:
    """One side in this process; prints one JSON line."""
    started = time.perf_counter()
    records = make_records(images, n)
    meter = Meter()
    meter.count_tokens()
    done = (run_ours if side == "ours" else run_plain)(model, records, out, steps, batch, meter)
    train_s = meter.end - meter.begin
    row = {
        "side": side,
        "train_s": train_s,
        "steps_s": meter.last_step - meter.begin,
        "tokens": meter.tokens,
        "tokens_per_s": meter.tokens / train_s,
        "process_s": time.perf_counter() - started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "steps": done,
        "loss": meter.loss,
    }
    print(json.dumps(row))


def run_side(side: str, model: Path, images: Path, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--side", side, "--model", str(model), "--images", str(images)]
    command += ["--records", str(args.records), "--steps", str(args.steps), "--batch", str(args.batch)]
    command += ["--out", str(out)]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "TRANSFORMERS_VERBOSITY": "error"}
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(args.threads)
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{side} failed:\n{proc.stderr[-3000:]}")
    row: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    row["wall_with_start_s"] = time.perf_counter() - started
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=16)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch's CPU threads in each side (OMP_NUM_THREADS)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--side", choices=("ours", "plain"), help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--images", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        child(args.side, args.model, args.images, args.records, args.steps, args.batch, args.out)
        return

    from viscodex.training.tiny import build_tiny_models

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="viscodex-bench-sft-") as tmp:
        root = Path(tmp)
        model = build_tiny_models(root / "tiny").vlm
        make_records(root / "images", args.records)
        rows: dict[str, list[dict[str, Any]]] = {"ours": [], "plain": []}
        ratios, step_ratios = [], []
        for r in range(args.repeats):
            for side in ("ours", "plain") if r % 2 == 0 else ("plain", "ours"):
                row = run_side(side, model, root / "images", args, root / f"{side}-{r}")
                rows[side].append(row)
                print(
                    f"repeat {r} {side}: train {row['train_s']:.2f} s, {row['tokens_per_s']:.0f} tokens/s, "
                    f"peak RSS {row['peak_rss_mb']:.0f} MB, load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
            ratios.append(rows["ours"][-1]["train_s"] / rows["plain"][-1]["train_s"])
            step_ratios.append(rows["ours"][-1]["steps_s"] / rows["plain"][-1]["steps_s"])
    load_after = os.getloadavg()

    def med(side: str, key: str) -> float:
        return round(float(statistics.median(row[key] for row in rows[side])), 3)

    sides = {side: {key: med(side, key) for key in (*FIELDS[:6], "wall_with_start_s")} for side in rows}
    for side in rows:
        sides[side]["steps"] = rows[side][0]["steps"]
        sides[side]["loss"] = rows[side][0]["loss"]
    ratio = statistics.median(ratios)
    out = {
        "records": args.records,
        "steps": args.steps,
        "batch": args.batch,
        "repeats": args.repeats,
        "torch threads": args.threads,
        "sides": sides,
        "train time ratios (ours / plain)": [round(x, 3) for x in ratios],
        "ours / plain train time": round(ratio, 3),
        "step time ratios (ours / plain, to the last step's end)": [round(x, 3) for x in step_ratios],
        "ours / plain step time": round(statistics.median(step_ratios), 3),
        "target": TARGET,
        "met": ratio <= TARGET,
        "tokens equal": [row["tokens"] for row in rows["ours"]] == [row["tokens"] for row in rows["plain"]],
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "cpus": os.cpu_count(),
    }
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
