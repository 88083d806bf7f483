"""One fine-tuning run: load the model and processor, write the data set, train with TRL's `SFTTrainer`, save
a plain Hugging Face checkpoint with a model card.

Layout of ``out``:

- the checkpoint itself (``config.json``, ``model.safetensors``, the processor's files) and ``README.md``,
  the model card with the recipe and the data digest, written only when training finished;
- ``adapter/``: the LoRA adapter before its merge-back (``--lora`` only);
- ``work/``: the data set as Arrow (``data.arrow``), its summary (``data.json``), the resolved recipe and the
  trainer's checkpoints (``checkpoints/checkpoint-N``), from which ``resume=True`` continues.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.records import Record, Rejected
from .card import model_card
from .collate import ChatMarkers, VisionSFTCollator, processor_budget
from .dataset import DataError, DataSummary, open_splits, write_dataset
from .freeze import ARCHITECTURES, freeze, parts_of
from .recipe import LoraSettings, SFTRecipe

Say = Callable[[str], None]


class SFTError(ValueError):
    """A run that cannot start (bad model folder, an output in the way, data changed under a resume)."""


@dataclass
class SFTResult:
    out: Path
    steps: int
    train_loss: float | None
    eval_loss: float | None
    data: DataSummary
    trainable: int
    frozen: int
    seconds: float
    log: list[dict[str, float]] = field(default_factory=list)


def precision_of(recipe: SFTRecipe) -> str:
    """``bf16`` where the accelerator has it (recipe ``auto``), else ``fp32`` (CPU)."""
    if recipe.precision != "auto":
        return recipe.precision
    import torch

    return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"


def check_model_dir(model: Path) -> None:
    if not model.is_dir():
        raise SFTError(f"--model {model} is not a folder")
    if not (model / "config.json").is_file():
        raise SFTError(f"--model {model} has no config.json: not a Hugging Face checkpoint")


def prepare_out(out: Path, resume: bool) -> Path:
    """The work folder; refuses to overwrite a finished model or to restart over checkpoints silently."""
    work = out / "work"
    if out.exists() and not out.is_dir():
        raise SFTError(f"--out {out} exists and is not a folder")
    if not resume:
        if (out / "config.json").exists():
            raise SFTError(f"--out {out} already holds a trained model; choose another folder")
        if (work / "checkpoints").is_dir() and any((work / "checkpoints").iterdir()):
            raise SFTError(f"--out {out} holds checkpoints of an unfinished run: add --resume to continue it")
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    return work


def load_processor(model_dir: Path, recipe: SFTRecipe) -> Any:
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(model_dir)  # type: ignore[no-untyped-call]
    if recipe.image_max_pixels is not None:
        # set on the processor, so the saved checkpoint resizes at inference as it did in training
        image_processor = processor.image_processor
        image_processor.size = {**image_processor.size, "longest_edge": recipe.image_max_pixels}
    return processor


def load_model(model_dir: Path, precision: str) -> Any:
    import torch
    from transformers import AutoModelForImageTextToText

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    return AutoModelForImageTextToText.from_pretrained(model_dir, dtype=dtype)


def run_sft(
    model_dir: Path,
    records: Iterable[Record | Rejected],
    out: Path,
    recipe: SFTRecipe,
    *,
    resume: bool = False,
    say: Say = print,
    progress: Any = None,
    command: str = "",
) -> SFTResult:
    """Fine-tune ``model_dir`` on ``records`` as ``recipe`` says and write the checkpoint to ``out``.

    ``progress`` is a `transformers.TrainerCallback` for the training bar (the CLI's rich one) and ``say``
    gets one line per phase. Raises `SFTError` / `DataError` for input that cannot be used.
    """
    started = time.perf_counter()
    check_model_dir(model_dir)
    if recipe.deepspeed is not None and importlib.util.find_spec("deepspeed") is None:
        raise SFTError(f"--deepspeed {recipe.deepspeed} needs the deepspeed package (pip install deepspeed)")
    from accelerate import PartialState  # type: ignore[import-untyped]

    work = out / "work"
    precision = precision_of(recipe)
    # The arguments first: they set up the processes (and, under ZeRO-3, make `from_pretrained` partition the
    # weights as they load). Under `accelerate launch` every process runs this function: the main one prepares
    # the folder, reads the data and writes the checkpoint; the others wait for it and read what it wrote.
    args = training_args(recipe, precision, recipe.eval_split > 0, work)
    state = args.distributed_state or PartialState()  # the one the arguments set up
    if not state.is_main_process:
        say = _silent
    if state.is_main_process:
        prepare_out(out, resume)
    state.wait_for_everyone()
    # The processor and the config first: bad data or an unknown architecture fail before the model loads.
    try:
        processor = load_processor(model_dir, recipe)
        model_type = json.loads((model_dir / "config.json").read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, KeyError) as exc:
        raise SFTError(f"cannot load {model_dir}: {' '.join(str(exc).split())[:300]}") from None
    if model_type not in ARCHITECTURES:
        raise SFTError(f"cannot fine-tune model type {model_type!r}; known: {', '.join(ARCHITECTURES)}")
    markers = ChatMarkers.from_tokenizer(processor.tokenizer)

    if state.is_main_process:
        summary = read_data(records, work, processor, recipe, resume, say, getattr(progress, "on_record", None))
    state.wait_for_everyone()
    if not state.is_main_process:
        summary = DataSummary.from_json(json.loads((work / "data.json").read_text(encoding="utf-8")))
    train_set, eval_set = open_splits(work / "data.arrow", recipe.eval_split, recipe.seed, recipe.eval_max)

    if eval_set is None:
        from transformers.trainer_utils import IntervalStrategy

        args.eval_strategy = IntervalStrategy.NO  # one record: nothing to hold out
    say(f"loading {model_dir} ({precision})")
    try:
        model = load_model(model_dir, precision)
    except (OSError, ValueError, KeyError) as exc:
        raise SFTError(f"cannot load {model_dir}: {' '.join(str(exc).split())[:300]}") from None

    freeze(model, recipe.freeze_vision, recipe.freeze_projector)
    trainer = build_trainer(
        model, processor, markers, args, train_set, eval_set, recipe.lora, token_metrics=recipe.token_metrics
    )
    if progress is not None:
        from transformers import PrinterCallback, ProgressCallback

        trainer.remove_callback(ProgressCallback)
        trainer.remove_callback(PrinterCallback)
        trainer.add_callback(progress)
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in trainer.model.parameters() if not p.requires_grad)  # LoRA: the whole base
    say(
        f"training: {len(train_set)} train / {len(eval_set) if eval_set is not None else 0} eval records, "
        f"{trainable:,} trainable parameters, {frozen:,} frozen (vision {recipe.freeze_vision}, "
        f"projector {recipe.freeze_projector}){', LoRA' if recipe.lora else ''}"
    )
    checkpoint = last_checkpoint(work) if resume else None
    if resume:
        say(f"resuming from {checkpoint}" if checkpoint else "no checkpoint yet: starting from step 0")
    output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    eval_loss = None
    if eval_set is not None:
        # the trainer evaluates at the last step by itself; evaluate here only when it did not
        at_end = [
            e["eval_loss"]
            for e in trainer.state.log_history
            if "eval_loss" in e and e.get("step") == trainer.state.global_step
        ]
        eval_loss = float(at_end[-1]) if at_end else float(trainer.evaluate()["eval_loss"])

    say(f"saving to {out}")
    # Through the trainer: under DeepSpeed ZeRO-3 it gathers the partitioned weights, and only the main
    # process writes. A LoRA adapter is merged back afterwards, on the main process, into a fresh copy of
    # the base weights (a ZeRO-3-partitioned model cannot merge in place).
    trainer.model.config.get_text_config().use_cache = True  # gradient checkpointing turned it off
    if recipe.lora is None:
        trainer.save_model(str(out))
    else:
        trainer.save_model(str(out / "adapter"))
        if state.is_main_process:
            say("merging the LoRA adapter into the weights")
            merge_adapter(model_dir, out / "adapter", out, precision)
            processor.save_pretrained(out)
    state.wait_for_everyone()
    result = SFTResult(
        out=out,
        steps=int(trainer.state.global_step),
        train_loss=float(output.training_loss) if output.training_loss is not None else None,
        eval_loss=eval_loss,
        data=summary,
        trainable=trainable,
        frozen=frozen,
        seconds=time.perf_counter() - started,
        log=[dict(entry) for entry in trainer.state.log_history],
    )
    if state.is_main_process:
        (out / "README.md").write_text(model_card(result, recipe, model_dir, command), encoding="utf-8")
    return result


def read_data(
    records: Iterable[Record | Rejected],
    work: Path,
    processor: Any,
    recipe: SFTRecipe,
    resume: bool,
    say: Say,
    progress: Callable[[DataSummary], None] | None,
) -> DataSummary:
    """The data pass into ``work/data.arrow``, its summary in ``work/data.json``; refuses an empty result and,
    on a resume, data other than the interrupted run's."""
    say("reading the data: checking, measuring and hashing each record")
    summary = write_dataset(
        records, work / "data.arrow", processor, processor_budget(processor), recipe.max_length, progress=progress
    )
    if summary.kept == 0:
        reasons = ", ".join(f"{n} {r}" for r, n in summary.skipped.most_common(4))
        raise DataError("no usable records" + (f" (skipped: {reasons})" if reasons else ": the data set is empty"))
    previous = work / "data.json"
    if resume and previous.is_file():
        before = json.loads(previous.read_text(encoding="utf-8")).get("digest")
        if before != summary.digest:
            raise SFTError("the data differ from the run being resumed (another digest); resume with the same data")
    previous.write_text(json.dumps(summary.to_json(), indent=2) + "\n", encoding="utf-8")
    (work / "recipe.yaml").write_text(recipe.to_yaml(), encoding="utf-8")
    skipped = sum(summary.skipped.values())
    say(
        f"{summary.kept} records kept, {skipped} skipped"
        + (f" ({', '.join(f'{n} {r}' for r, n in summary.skipped.most_common())})" if skipped else "")
        + f"; {summary.tokens} tokens, longest {summary.longest}; digest {summary.digest[:16]}"
    )
    return summary


def merge_adapter(model_dir: Path, adapter: Path, out: Path, precision: str) -> None:
    """The base weights plus the LoRA adapter, merged (peft's ``merge_and_unload``), saved as a plain checkpoint."""
    from peft import PeftModel

    base = load_model(model_dir, precision)
    merged = PeftModel.from_pretrained(base, adapter).merge_and_unload()
    merged.config.get_text_config().use_cache = True
    merged.save_pretrained(out)


def last_checkpoint(work: Path) -> Path | None:
    from transformers.trainer_utils import get_last_checkpoint

    folder = work / "checkpoints"
    found = get_last_checkpoint(str(folder)) if folder.is_dir() else None  # type: ignore[no-untyped-call]
    return Path(found) if found else None


def training_args(recipe: SFTRecipe, precision: str, has_eval: bool, work: Path) -> Any:
    """TRL's `SFTConfig` from the recipe. Built before the model loads: under DeepSpeed ZeRO-3 the arguments
    register the config that makes ``from_pretrained`` partition the weights as they load."""
    from trl import SFTConfig  # type: ignore[attr-defined]

    deepspeed = recipe.deepspeed_config()
    args = SFTConfig(
        output_dir=str(work / "checkpoints"),
        learning_rate=recipe.learning_rate,
        num_train_epochs=recipe.epochs,
        max_steps=recipe.max_steps or -1,
        per_device_train_batch_size=recipe.batch_size,
        per_device_eval_batch_size=recipe.batch_size,
        gradient_accumulation_steps=recipe.grad_accum,
        lr_scheduler_type=recipe.lr_scheduler,
        warmup_steps=recipe.warmup_ratio,  # a float below 1 is a fraction of the steps (transformers 5)
        weight_decay=recipe.weight_decay,
        max_grad_norm=recipe.max_grad_norm,
        gradient_checkpointing=recipe.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False},
        bf16=precision == "bf16",
        train_sampling_strategy="group_by_length" if recipe.group_by_length else "random",
        length_column_name="length",
        eval_strategy="steps" if has_eval else "no",
        eval_steps=recipe.eval_steps,
        save_strategy="steps",
        save_steps=recipe.save_steps,
        save_total_limit=recipe.save_total_limit,
        logging_steps=recipe.logging_steps,
        seed=recipe.seed,
        data_seed=recipe.seed,
        report_to=[],
        remove_unused_columns=False,  # the collator reads messages and images; the sampler reads length
        dataset_kwargs={"skip_prepare_dataset": True},
        dataloader_num_workers=recipe.dataloader_workers,
        max_length=recipe.max_length,
        deepspeed=str(deepspeed) if deepspeed else None,
        disable_tqdm=True,
        dataloader_pin_memory=_has_cuda(),
    )
    return args


def build_trainer(
    model: Any,
    processor: Any,
    markers: ChatMarkers,
    args: Any,
    train_set: Any,
    eval_set: Any,
    lora: LoraSettings | None,
    *,
    token_metrics: bool = False,
) -> Any:
    """Our `SFTTrainer` (see `_trainer_class`); ``token_metrics``: the recipe's, TRL's entropy and token accuracy."""
    peft_config = None
    if lora is not None:
        from peft import LoraConfig

        language = parts_of(model).language.replace(".", r"\.")
        peft_config = LoraConfig(
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=rf".*{language}\..*\.({'|'.join(lora.targets)})",
            task_type="CAUSAL_LM",
        )
    collator = VisionSFTCollator(processor=processor, markers=markers)
    trainer = _trainer_class()(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=eval_set,
        processing_class=processor,
        data_collator=collator,
        peft_config=peft_config,
    )
    trainer.token_metrics = token_metrics
    return trainer


def _trainer_class() -> Any:
    """TRL's `SFTTrainer`, with the loss of a plain transformers `Trainer` unless the recipe asks for TRL's per-token
    metrics, and resuming full fine-tunes through ``from_pretrained``.

    The loss: TRL 1.16's `SFTTrainer.compute_loss` always runs the LM head through its fused, chunked log-prob
    kernel and computes, besides the loss, each token's entropy and whether the label is the top-1 token, only to
    log ``entropy`` and ``mean_token_accuracy``; it has no switch to turn them off. On the tiny model that was
    about a fifth of each step (bench/sft.py, issue 14). With ``token_metrics`` off (the recipe's default) our
    ``compute_loss`` is `transformers.Trainer.compute_loss`: the model's own forward with the labels (TRL's
    fused-head wrapper hands them to the original forward when ``fused_lm_head`` is not set), i.e. the mean
    cross-entropy over the answer tokens (labels -100 elsewhere) of the batch, or the sum over
    ``num_items_in_batch`` when the Trainer counts them, the same value TRL's path computes (tests/test_sft.py;
    only a batch without answer tokens would differ, NaN against TRL's 0, and the data pass keeps no record without
    an answer and truncates none). TRL's cheap ``num_tokens`` log is kept.

    transformers 5.19's `Trainer._load_from_checkpoint` reads the checkpoint's safetensors with a plain
    ``load_state_dict(strict=False)``, without the key conversion ``from_pretrained`` applies: a Qwen2.5-VL
    checkpoint is saved as ``visual.*`` / ``model.layers.*`` while the module holds ``model.visual.*`` /
    ``model.language_model.*``, so every weight is missed and a resumed run silently restarts from the
    base weights (huggingface/transformers#43701, open). Here the checkpoint is loaded the way users load it
    and copied in strictly. LoRA checkpoints (adapter files) keep the Trainer's own path, which is right.
    """
    import torch
    import transformers
    from trl import SFTTrainer  # type: ignore[attr-defined]

    class Trainer(SFTTrainer):
        token_metrics = True  # TRL's own loss and metrics unless `build_trainer` says otherwise

        def compute_loss(
            self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
        ) -> Any:
            if self.token_metrics or self.aux_loss_enabled:  # (an MoE's router loss: TRL's path adds it)
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)  # type: ignore[no-untyped-call]
            inputs["use_cache"] = False  # as TRL's: no KV cache in a training forward
            mode = "train" if model.training else "eval"
            if mode == "train" and "attention_mask" in inputs:  # TRL's token count (no padding-free batches here)
                tokens = self.accelerator.gather_for_metrics(inputs["attention_mask"].sum()).sum().item()
                self._total_train_tokens += tokens // self._tp_size
            self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
            return transformers.Trainer.compute_loss(self, model, inputs, return_outputs, num_items_in_batch)

        def _load_from_checkpoint(self, resume_from_checkpoint: str, model: Any = None) -> None:
            model = model if model is not None else self.model
            if hasattr(model, "peft_config") or self.is_fsdp_enabled:
                super()._load_from_checkpoint(resume_from_checkpoint, model)
                return
            dtype = next(model.parameters()).dtype
            with torch.no_grad():
                saved = type(model).from_pretrained(resume_from_checkpoint, dtype=dtype)
                model.load_state_dict(saved.state_dict(), strict=True)
            del saved

    return Trainer


def _has_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _silent(line: str) -> None:
    """What the other processes say: nothing, so a launch of N processes prints each line once."""
