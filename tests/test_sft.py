"""Fine-tuning (issue 14) on the tiny Qwen2.5-VL: answer-only labels checked against ids located with the
tokenizer alone, frozen parts byte-equal, loss falling, a checkpoint transformers loads, LoRA merged back equal
to the adapter applied, resume from a checkpoint, the DeepSpeed configs, and bad input refused in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration, TrainerCallback

from viscodex.training.data.records import Message, Record, Rejected
from viscodex.training.sft.collate import IGNORE_INDEX, ChatMarkers, VisionSFTCollator, processor_budget
from viscodex.training.sft.dataset import write_dataset
from viscodex.training.sft.recipe import DEEPSPEED_DIR, RECIPES, LoraSettings, SFTRecipe, resolve_recipe
from viscodex.training.sft.train import SFTResult, run_sft

TRAIN = str(Path(sys.executable).parent / "viscodex-train")
COLORS = ("red", "green", "blue", "orange")
VISION_PREFIX = "visual."  # checkpoint names: the hub layout save_pretrained writes


def quiet(_: str) -> None:
    pass


def make_records(folder: Path, n: int) -> list[Record]:
    """n chart-like records: a coloured picture and a one-line answer naming its colour."""
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n):
        color = COLORS[i % len(COLORS)]
        path = folder / f"{i}.png"
        Image.new("RGB", (56 + 28 * (i % 2), 56), color).save(path)
        records.append(
            Record(
                id=str(i),
                messages=(
                    Message("user", "<image>\nWrite the matplotlib code of this chart."),
                    Message("assistant", f"plt.bar([1, 2], [3, 4], color='{color}')"),
                ),
                images=(path,),
            )
        )
    return records


def tiny_recipe(**changes: Any) -> SFTRecipe:
    return resolve_recipe("tiny").model_copy(update=changes)


def load_weights(folder: Path) -> dict[str, torch.Tensor]:
    weights: dict[str, torch.Tensor] = {}
    for file in sorted(folder.glob("*.safetensors")):
        weights.update(load_file(file))
    return weights


def load_processor(folder: Path) -> Any:
    return AutoProcessor.from_pretrained(folder)  # type: ignore[no-untyped-call]


def load_vlm(folder: Path) -> Any:
    """The model typed Any: transformers' types are too loose for strict mypy on generate and friends."""
    return Qwen2_5_VLForConditionalGeneration.from_pretrained(folder)


@pytest.fixture(scope="module")
def processor(tiny_models: dict[str, Path]) -> Any:
    return load_processor(tiny_models["vlm"])


# ---- labels -------------------------------------------------------------------------------------------------


def test_labels_cover_exactly_the_answers(processor: Any, tmp_path: Path) -> None:
    """Labels are set exactly on each answer's tokens and its <|im_end|>, each run right after the ids of
    '<|im_start|>assistant\\n': system, user, image and pad tokens are all -100."""
    tok = processor.tokenizer
    im_start, im_end = tok.convert_tokens_to_ids("<|im_start|>"), tok.convert_tokens_to_ids("<|im_end|>")
    image_pad = tok.convert_tokens_to_ids("<|image_pad|>")
    header = tok.encode("<|im_start|>assistant\n", add_special_tokens=False)
    assert header[0] == im_start
    Image.new("RGB", (84, 56), "red").save(tmp_path / "a.png")
    Image.new("RGB", (56, 112), "blue").save(tmp_path / "b.png")
    long_turns = [
        {"role": "system", "content": "You write code."},
        {"role": "user", "content": "<image>\nTo HTML, please."},
        {"role": "assistant", "content": "<div class='x'>hello</div>"},
        {"role": "user", "content": "And now as a chart: <image>"},
        {"role": "assistant", "content": "import matplotlib.pyplot as plt\nplt.show()"},
    ]
    short = [{"role": "user", "content": "<image>"}, {"role": "assistant", "content": "x = 1"}]
    rows: list[dict[str, Any]] = [
        {"messages": long_turns, "images": [str(tmp_path / "a.png"), str(tmp_path / "b.png")]},
        {"messages": short, "images": [str(tmp_path / "a.png")]},
    ]
    batch = VisionSFTCollator(processor, ChatMarkers.from_tokenizer(tok))(rows)
    assert batch["attention_mask"][1].sum() < batch["attention_mask"].shape[1]  # the short row is padded
    assert batch["image_grid_thw"].shape == (3, 3) and batch["pixel_values"].shape[0] > 0

    grids = batch["image_grid_thw"].tolist()
    for k, row in enumerate(rows):
        row_grids, grids = grids[: len(row["images"])], grids[len(row["images"]) :]
        ids = batch["input_ids"][k].tolist()
        labels = batch["labels"][k].tolist()
        answers = [m["content"] for m in row["messages"] if m["role"] == "assistant"]
        expected = [[*tok.encode(a, add_special_tokens=False), im_end] for a in answers]
        runs: list[tuple[int, list[int]]] = []  # (start, labelled ids) of each contiguous labelled run
        for i, label in enumerate(labels):
            if label == IGNORE_INDEX:
                continue
            assert label == ids[i]
            if runs and runs[-1][0] + len(runs[-1][1]) == i:
                runs[-1][1].append(label)
            else:
                runs.append((i, [label]))
        assert [r[1] for r in runs] == expected
        for start, _ in runs:
            assert ids[start - len(header) : start] == header
        pads = [i for i, m in enumerate(batch["attention_mask"][k].tolist()) if m == 0]
        images = [i for i, t in enumerate(ids) if t == image_pad]
        assert images and all(labels[i] == IGNORE_INDEX for i in pads + images)
        assert len(images) == sum(t * h * w // 4 for t, h, w in row_grids)  # merge 2x2 patches per token


def test_images_follow_their_placeholders(processor: Any, tmp_path: Path) -> None:
    """The n-th <image> gets the n-th image: two sizes in two turns keep their order in image_grid_thw."""
    Image.new("RGB", (56, 112), "red").save(tmp_path / "tall.png")
    Image.new("RGB", (112, 56), "red").save(tmp_path / "wide.png")
    turns = [
        {"role": "user", "content": "first <image>"},
        {"role": "assistant", "content": "a"},
        {"role": "user", "content": "second <image>"},
        {"role": "assistant", "content": "b"},
    ]
    rows = [{"messages": turns, "images": [str(tmp_path / "tall.png"), str(tmp_path / "wide.png")]}]
    batch = VisionSFTCollator(processor, ChatMarkers.from_tokenizer(processor.tokenizer))(rows)
    (_, h1, w1), (_, h2, w2) = batch["image_grid_thw"].tolist()
    assert h1 > w1 and w2 > h2


def test_data_pass_skips_bad_records_and_digests(processor: Any, tmp_path: Path) -> None:
    good = make_records(tmp_path / "img", 3)
    Image.new("RGB", (56, 56)).save(tmp_path / "broken.png")
    (tmp_path / "broken.png").write_bytes((tmp_path / "broken.png").read_bytes()[:40])
    bad: list[Record | Rejected] = [
        Rejected(id="l7", reason="line 7 does not parse", kind="broken_json"),
        Record(id="m", messages=good[0].messages, images=(tmp_path / "nope.png",)),
        Record(id="u", messages=good[0].messages, images=(tmp_path / "broken.png",)),
        Record(id="c", messages=good[0].messages, images=()),  # one <image>, no image
        Record(id="a", messages=(Message("user", "hi"),)),
        Record(id="long", messages=(Message("user", "x"), Message("assistant", "word " * 400))),
    ]
    budget = processor_budget(processor)
    summary = write_dataset([*good, *bad], tmp_path / "d.arrow", processor, budget, max_length=256)
    assert summary.kept == 3
    assert dict(summary.skipped) == {
        "broken_json": 1,
        "missing_image": 1,
        "unreadable_image": 1,
        "image_count": 1,
        "no_assistant": 1,
        "too_long": 1,
    }
    from viscodex.training.sft.dataset import open_splits

    kept, _ = open_splits(tmp_path / "d.arrow", 0.0, 0)
    collate = VisionSFTCollator(processor, ChatMarkers.from_tokenizer(processor.tokenizer))
    for row in kept:  # the measured length is the collated one, image tokens included
        assert row["length"] == collate([row])["input_ids"].shape[1]
    again = write_dataset(good, tmp_path / "e.arrow", processor, budget, max_length=256)
    assert again.digest == summary.digest  # skipped records do not enter the digest
    Image.new("RGB", (56, 56), "black").save(good[1].images[0])  # same path, other picture
    changed = write_dataset(good, tmp_path / "f.arrow", processor, budget, max_length=256)
    assert changed.digest != summary.digest


# ---- a full fine-tune -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tiny_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> SFTResult:
    """One full fine-tune of the tiny VLM: 16 steps on 8 records, shared by the tests below."""
    work = tmp_path_factory.mktemp("sft-full")
    records = make_records(work / "img", 8)
    recipe = tiny_recipe(max_steps=16, batch_size=2, logging_steps=2, eval_split=0.25, eval_steps=8, save_steps=8)
    return run_sft(tiny_models["vlm"], records, work / "out", recipe, say=quiet)


def test_frozen_parts_equal_and_trained_parts_changed(trained: SFTResult, tiny_models: dict[str, Path]) -> None:
    before, after = load_weights(tiny_models["vlm"]), load_weights(trained.out)
    assert set(before) == set(after)
    vision = [n for n in before if n.startswith(VISION_PREFIX)]
    assert any(".merger." in n for n in vision) and any(".blocks." in n for n in vision)
    for name in vision:  # encoder and projector: byte-equal
        assert torch.equal(before[name], after[name]), name
    language = [n for n in before if not n.startswith(VISION_PREFIX)]
    assert language
    for name in language:
        assert not torch.equal(before[name], after[name]), name
    assert trained.frozen == sum(before[n].numel() for n in vision)


def test_loss_falls(trained: SFTResult) -> None:
    losses = [entry["loss"] for entry in trained.log if "loss" in entry]
    assert len(losses) == 8
    assert sum(losses[-3:]) / 3 < 0.5 * losses[0], losses
    evals = [entry["eval_loss"] for entry in trained.log if "eval_loss" in entry]
    assert evals and trained.eval_loss is not None and trained.eval_loss < losses[0]


def test_checkpoint_loads_and_generates(trained: SFTResult) -> None:
    model = load_vlm(trained.out)
    processor = load_processor(trained.out)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Chart to code:"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True)
    inputs = processor(text=[text], images=[Image.new("RGB", (56, 56), "red")], return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    prompt = inputs["input_ids"].shape[1]
    assert out.shape[0] == 1 and prompt < out.shape[1] <= prompt + 4
    assert torch.equal(out[0, :prompt], inputs["input_ids"][0])
    assert model.config.get_text_config().use_cache
    card = (trained.out / "README.md").read_text()
    data = json.loads((trained.out / "work" / "data.json").read_text())
    assert data["digest"] == trained.data.digest and trained.data.digest in card
    assert "name: tiny" in card and "max_steps: 16" in card


# ---- LoRA ---------------------------------------------------------------------------------------------------


def test_lora_merge_back_equals_the_adapter(tiny_models: dict[str, Path], tmp_path: Path, processor: Any) -> None:
    from peft import PeftModel

    records = make_records(tmp_path / "img", 4)
    recipe = tiny_recipe(max_steps=4, batch_size=2, eval_split=0.0, lora=LoraSettings(r=8, alpha=16, dropout=0.0))
    result = run_sft(tiny_models["vlm"], records, tmp_path / "out", recipe, say=quiet)
    adapter = load_file(result.out / "adapter" / "adapter_model.safetensors")
    assert adapter and all(".language_model." in name for name in adapter)
    assert any("lora_B" in n and bool(t.abs().sum() > 0) for n, t in adapter.items())  # it learned something

    rows = [
        {
            "messages": [{"role": r.role, "content": r.content} for r in records[0].messages],
            "images": [str(records[0].images[0])],
        }
    ]
    batch = VisionSFTCollator(processor, ChatMarkers.from_tokenizer(processor.tokenizer))(rows)
    batch.pop("labels")
    with_adapter: Any = PeftModel.from_pretrained(load_vlm(tiny_models["vlm"]), result.out / "adapter")
    merged, plain = load_vlm(result.out), load_vlm(tiny_models["vlm"])
    for model in (with_adapter, merged, plain):
        model.eval()
    with torch.no_grad():
        expected = with_adapter(**batch).logits
        got = merged(**batch).logits
        untouched = plain(**batch).logits
    assert torch.allclose(got, expected, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(got, untouched, atol=1e-3)
    before, after = load_weights(tiny_models["vlm"]), load_weights(result.out)
    assert set(before) == set(after)  # a plain checkpoint: no lora_* or base_layer names
    assert all(torch.equal(before[n], after[n]) for n in before if n.startswith(VISION_PREFIX))


# ---- resume -------------------------------------------------------------------------------------------------


class StopAt(TrainerCallback):
    """Interrupts training after ``step`` (as Ctrl-C would), counting the steps it saw."""

    def __init__(self, step: int | None = None) -> None:
        self.step = step
        self.steps: list[int] = []

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.steps.append(state.global_step)
        if state.global_step == self.step:
            raise KeyboardInterrupt


def test_resume_continues_from_the_checkpoint(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    records = make_records(tmp_path / "img", 4)
    recipe = tiny_recipe(max_steps=4, batch_size=2, eval_split=0.0, save_steps=2, logging_steps=1)
    out = tmp_path / "out"
    first = StopAt(step=3)
    with pytest.raises(KeyboardInterrupt):
        run_sft(tiny_models["vlm"], records, out, recipe, say=quiet, progress=first)
    assert first.steps == [1, 2, 3]
    assert (out / "work" / "checkpoints" / "checkpoint-2").is_dir() and not (out / "config.json").exists()
    with pytest.raises(ValueError, match="--resume"):
        run_sft(tiny_models["vlm"], records, out, recipe, say=quiet)
    with pytest.raises(ValueError, match="data differ"):  # a resume on other data is refused before training
        run_sft(tiny_models["vlm"], records[:3], out, recipe, resume=True, say=quiet)
    second = StopAt()
    result = run_sft(tiny_models["vlm"], records, out, recipe, resume=True, say=quiet, progress=second)
    assert second.steps == [3, 4] and result.steps == 4

    straight = run_sft(tiny_models["vlm"], records, tmp_path / "straight", recipe, say=quiet)
    a, b = load_weights(out), load_weights(straight.out)
    assert all(torch.allclose(a[n], b[n], atol=1e-5) for n in a)  # same data order and optimizer state


def test_batches_are_grouped_by_length(tiny_models: dict[str, Path], processor: Any, tmp_path: Path) -> None:
    """The trainer samples with transformers' LengthGroupedSampler over the lengths the data pass measured."""
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from viscodex.training.sft.dataset import open_splits
    from viscodex.training.sft.train import build_trainer, load_model, training_args

    records = make_records(tmp_path / "img", 6)
    summary = write_dataset(records, tmp_path / "d.arrow", processor, processor_budget(processor), 2048)
    train_set, _ = open_splits(tmp_path / "d.arrow", 0.0, 0)
    args = training_args(tiny_recipe(batch_size=2), "fp32", False, tmp_path)
    model = load_model(tiny_models["vlm"], "fp32")
    trainer = build_trainer(
        model, processor, ChatMarkers.from_tokenizer(processor.tokenizer), args, train_set, None, None
    )
    sampler = trainer._get_train_sampler(train_set)
    assert isinstance(sampler, LengthGroupedSampler)
    assert list(sampler.lengths) == train_set["length"] and sum(sampler.lengths) == summary.tokens


@pytest.mark.parametrize("counted", [False, True])
def test_token_metrics_change_the_logs_not_the_loss(
    tiny_models: dict[str, Path], processor: Any, tmp_path: Path, counted: bool
) -> None:
    """``token_metrics`` off (the default): our trainer's loss is the model's own cross-entropy, as a plain
    transformers Trainer computes it; on: TRL's fused-head loss plus its entropy and token accuracy. The same batch
    gives the same loss both ways, in training and in evaluation, and only the metrics differ in the logs.

    Qwen2.5-VL declares ``accepts_loss_kwargs = False``, so the Trainer passes no ``num_items_in_batch`` and each
    micro-batch's loss is its mean over its answer tokens (``counted`` False). ``counted`` True is a model that
    accepts it: the Trainer counts the answer tokens of the whole accumulated batch (two micro-batches here) and
    both ways divide the micro-batch's sum by that count."""
    from viscodex.training.sft.dataset import open_splits
    from viscodex.training.sft.train import build_trainer, load_model, training_args

    records = make_records(tmp_path / "img", 4)
    write_dataset(records, tmp_path / "d.arrow", processor, processor_budget(processor), 2048)
    train_set, _ = open_splits(tmp_path / "d.arrow", 0.0, 0)
    args = training_args(tiny_recipe(batch_size=2, grad_accum=2), "fp32", False, tmp_path)
    trainer = build_trainer(
        load_model(tiny_models["vlm"], "fp32"),
        processor,
        ChatMarkers.from_tokenizer(processor.tokenizer),
        args,
        train_set,
        None,
        None,
    )
    assert trainer.token_metrics is False  # the default
    assert trainer.model_accepts_loss_kwargs is False
    trainer.model_accepts_loss_kwargs = counted
    micro = [trainer.data_collator([train_set[i] for i in rows]) for rows in ((0, 1), (2, 3))]
    num_items = trainer._get_num_items_in_batch(micro, torch.device("cpu"))
    batch = trainer._prepare_inputs(micro[0])
    labelled = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
    assert 0 < labelled < batch["labels"][:, 1:].numel()  # the prompt, image and pad tokens are masked
    assert (num_items is None) == (not counted) and (num_items is None or int(num_items) > labelled)

    losses: dict[tuple[bool, bool], float] = {}
    logs: dict[bool, dict[str, float]] = {}
    for metrics in (False, True):
        trainer.token_metrics = metrics
        for training in (True, False):
            trainer.model.train(training)
            with torch.no_grad():
                losses[metrics, training] = float(trainer.compute_loss(trainer.model, dict(batch), False, num_items))
        trainer.model.train()
        trainer.log({"loss": losses[metrics, True]})
        logs[metrics] = trainer.state.log_history[-1]
    for training in (True, False):
        assert losses[False, training] == pytest.approx(losses[True, training], rel=1e-5, abs=1e-5)
    assert "entropy" not in logs[False] and "mean_token_accuracy" not in logs[False]
    assert 0 <= logs[True]["mean_token_accuracy"] <= 1 and logs[True]["entropy"] > 0
    assert logs[False]["num_tokens"] == int(batch["attention_mask"].sum())  # TRL's token count, kept


# ---- recipes, DeepSpeed, accelerate -------------------------------------------------------------------------


def test_recipes_load_and_reject_typos(tmp_path: Path) -> None:
    assert {"viscodex", "viscodex-lora", "tiny"} <= set(RECIPES)
    for name in RECIPES:
        recipe = resolve_recipe(name)
        assert recipe.name == name and recipe.freeze_vision and recipe.freeze_projector
    assert resolve_recipe("viscodex-lora").lora is not None
    bad = tmp_path / "bad.yaml"
    bad.write_text("learning_rat: 0.1\n")
    with pytest.raises(ValueError, match="learning_rat"):
        resolve_recipe(bad)


def auto_keys(config: dict[str, Any], prefix: str = "") -> set[str]:
    """The dotted keys whose value is "auto"."""
    found = set()
    for key, value in config.items():
        if isinstance(value, dict):
            found |= auto_keys(value, f"{prefix}{key}.")
        elif value == "auto":
            found.add(prefix + key)
    return found


@pytest.mark.parametrize("stage", ["zero2", "zero3"])
def test_deepspeed_configs_use_only_keys_transformers_fills(stage: str) -> None:
    """Every "auto" in our configs is a key transformers' DeepSpeed integration fills from the training
    arguments or the model (read from its source: its filler cannot be constructed without deepspeed, which
    CI does not install)."""
    import inspect
    import re

    import transformers.integrations.deepspeed as hf_deepspeed

    source = inspect.getsource(hf_deepspeed.HfTrainerDeepSpeedConfig)
    filled = set(re.findall(r'"((?:[a-z0-9_]+\.)*[a-z0-9_]+)"', source))
    config = json.loads((DEEPSPEED_DIR / f"{stage}.json").read_text())
    assert config["zero_optimization"]["stage"] == int(stage[-1])
    autos = auto_keys(config)
    assert {"train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "bf16.enabled"} <= autos
    assert autos <= filled, autos - filled


@pytest.mark.slow
def test_accelerate_launch_two_cpu_processes(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    """The documented multi-GPU launch, as two processes on CPU (DDP over gloo): the same command line trains,
    the main process alone reads the data and writes the checkpoint."""
    data = tmp_path / "data"
    records = make_records(data / "images", 4)
    with (data / "records.jsonl").open("w") as f:
        for r in records:
            row: dict[str, Any] = {"id": r.id, "images": [f"images/{p.name}" for p in r.images]}
            row["messages"] = [{"role": m.role, "content": m.content} for m in r.messages]
            f.write(json.dumps(row) + "\n")
    accelerate = str(Path(sys.executable).parent / "accelerate")
    command = [accelerate, "launch", "--cpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no"]
    command += ["--dynamo_backend", "no", TRAIN, "sft", "--model", str(tiny_models["vlm"]), "--data", str(data)]
    command += ["--out", str(tmp_path / "out"), "--config", "tiny", "--max-steps", "1", "--batch-size", "2"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("1 step on 4 records") == 1  # the main process reports the run
    assert proc.stderr.count("reading the data") == 1  # the data pass ran once, on the main process
    assert (tmp_path / "out" / "model.safetensors").is_file()


# ---- bad input ----------------------------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TRAIN, "sft", *args], capture_output=True, text=True, timeout=300)


def run_in_process(*args: str) -> subprocess.CompletedProcess[str]:
    """The command in this process (torch and transformers already imported: seconds, not a new interpreter)."""
    from typer.testing import CliRunner

    from viscodex.training.cli import app

    result = CliRunner().invoke(app, ["sft", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return subprocess.CompletedProcess(["sft", *args], result.exit_code, result.stdout, result.stderr)


def one_line_error(proc: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert proc.returncode == code, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("viscodex-train:")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_held_out_split_is_capped(processor: Any, tmp_path: Path) -> None:
    from viscodex.training.sft.dataset import open_splits

    write_dataset(
        make_records(tmp_path / "img", 10), tmp_path / "d.arrow", processor, processor_budget(processor), 2048
    )
    train, held = open_splits(tmp_path / "d.arrow", 0.5, 0, eval_max=3)
    assert held is not None
    assert (len(train), len(held)) == (7, 3) and not set(train["id"]) & set(held["id"])
    again_train, _ = open_splits(tmp_path / "d.arrow", 0.5, 0, eval_max=3)
    assert again_train["id"] == train["id"]  # seeded: a resume holds out the same records


def test_missing_data(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    proc = run_in_process(
        "--model", str(tiny_models["vlm"]), "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "o")
    )
    one_line_error(proc, 2, "does not exist")


def test_deepspeed_without_the_package(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("deepspeed") is not None:
        pytest.skip("deepspeed is installed here")
    args = ["--model", str(tiny_models["vlm"]), "--data", str(tmp_path), "--out", str(tmp_path / "o")]
    proc = run_in_process(*args, "--deepspeed", "zero3")
    one_line_error(proc, 2, "pip install deepspeed")


def test_missing_model_dir(tmp_path: Path) -> None:
    proc = run_cli("--model", str(tmp_path / "nope"), "--data", str(tmp_path), "--out", str(tmp_path / "o"))
    one_line_error(proc, 2, "--model", "not a folder")


def test_empty_dataset(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "records.jsonl").write_text("")
    proc = run_in_process(
        "--model", str(tiny_models["vlm"]), "--data", str(tmp_path / "data"), "--out", str(tmp_path / "o")
    )
    one_line_error(proc, 2, "no usable records", "empty")


def test_all_records_rejected(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    rows = [
        {
            "id": "1",
            "images": ["gone.png"],
            "messages": [{"role": "user", "content": "<image>"}, {"role": "assistant", "content": "x"}],
        },
        {"id": "2", "images": [], "messages": [{"role": "user", "content": "only a question"}]},
    ]
    (data / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + "{not json\n")
    proc = run_in_process("--model", str(tiny_models["vlm"]), "--data", str(data), "--out", str(tmp_path / "o"))
    one_line_error(proc, 2, "no usable records", "missing_image", "broken_json")


@pytest.mark.parametrize(("flag", "expected"), [((), False), (("--token-metrics",), True)])
def test_token_metrics_flag_sets_the_recipe(
    tiny_models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flag: tuple[str, ...], expected: bool
) -> None:
    from viscodex.training.sft import cli

    seen: list[SFTRecipe] = []
    monkeypatch.setattr(cli, "_train", lambda model, records, out, recipe, resume: seen.append(recipe))
    records = make_records(tmp_path / "data" / "images", 1)
    row = {
        "id": "0",
        "images": ["images/0.png"],
        "messages": [{"role": m.role, "content": m.content} for m in records[0].messages],
    }
    (tmp_path / "data" / "records.jsonl").write_text(json.dumps(row) + "\n")
    args = ("--model", str(tiny_models["vlm"]), "--data", str(tmp_path / "data"), "--out", str(tmp_path / "o"))
    proc = run_in_process(*args, "--config", "tiny", *flag)
    assert proc.returncode == 0, proc.stderr
    assert [r.token_metrics for r in seen] == [expected]


def test_bad_recipe(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    proc = run_cli(
        "--model",
        str(tiny_models["vlm"]),
        "--data",
        str(tmp_path),
        "--out",
        str(tmp_path / "o"),
        "--config",
        "nonesuch",
    )
    one_line_error(proc, 2, "recipe", "nonesuch")
