"""The tiny checkpoints of `viscodex-train tiny`: real architectures, loadable, deterministic, small.

Generated text of a random model means nothing, so the checks are on ids and shapes, never on text.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file
from transformers import (
    AutoConfig,
    AutoModelForImageTextToText,
    AutoTokenizer,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2ForCausalLM,
)
from typer.testing import CliRunner

from viscodex.model.processor import load_processor
from viscodex.training.cli import app
from viscodex.training.tiny import (
    ADDED_TOKENS,
    SPECIAL_TOKENS,
    TinyModels,
    TinySpec,
    build_tiny_models,
    directory_size,
)

SEED = 0
MAX_TOTAL_BYTES = 10 * 1024 * 1024
MAX_BUILD_SECONDS = 30.0  # measured ~1 s after imports on 2 cores; generous for a loaded CI machine


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[TinyModels, float]:
    out = tmp_path_factory.mktemp("tiny") / "models"
    started = time.perf_counter()
    models = build_tiny_models(out, seed=SEED)
    return models, time.perf_counter() - started


@pytest.fixture(scope="module")
def models(built: tuple[TinyModels, float]) -> TinyModels:
    return built[0]


def file_hashes(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def language_tensors(path: Path) -> dict[str, torch.Tensor]:
    """The language-model tensors of a checkpoint, by hub name (the VLM's vision tower left out)."""
    state = load_file(path / "model.safetensors")
    return {name: tensor for name, tensor in state.items() if not name.startswith("visual.")}


def test_layout(models: TinyModels) -> None:
    for name, path in models.items():
        assert path.name == name and path.is_dir()
        files = {p.name for p in path.iterdir()}
        expected = {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json"}
        expected |= {"tokenizer_config.json", "chat_template.jinja"}
        assert expected <= files, f"{name}: missing {expected - files}"
    assert "preprocessor_config.json" in {p.name for p in models.vlm.iterdir()}
    assert not list(models.vlm.parent.glob(".tiny-*")), "staging folder left behind"


def test_architectures(models: TinyModels) -> None:
    spec = TinySpec()
    vlm = AutoConfig.from_pretrained(models.vlm)
    assert vlm.model_type == "qwen2_5_vl"
    assert vlm.architectures == ["Qwen2_5_VLForConditionalGeneration"]
    text = vlm.text_config
    assert (text.hidden_size, text.num_hidden_layers) == (spec.hidden_size, spec.num_hidden_layers)
    assert (text.num_attention_heads, text.num_key_value_heads) == (4, 2)
    assert text.hidden_size // text.num_attention_heads == 32
    assert text.rope_parameters["mrope_section"] == [4, 6, 6]
    assert vlm.vision_config.depth == 2
    assert vlm.vision_config.out_hidden_size == text.hidden_size
    for path in (models.code, models.base):
        config = AutoConfig.from_pretrained(path)
        assert config.model_type == "qwen2"
        for key in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"):
            assert getattr(config, key) == getattr(text, key), key
        for key in ("num_key_value_heads", "vocab_size", "tie_word_embeddings", "rms_norm_eps"):
            assert getattr(config, key) == getattr(text, key), key


def test_vocab_size_is_tokenizer_size(models: TinyModels) -> None:
    sizes = set()
    for name, path in models.items():
        tokenizer = AutoTokenizer.from_pretrained(path)
        config = AutoConfig.from_pretrained(path)
        vocab_size = config.text_config.vocab_size if name == "vlm" else config.vocab_size
        assert vocab_size == len(tokenizer), name
        for token in SPECIAL_TOKENS + ADDED_TOKENS:
            assert tokenizer.convert_tokens_to_ids(token) is not None
            assert len(tokenizer(token, add_special_tokens=False).input_ids) == 1, token
        sizes.add(len(tokenizer))
    assert sizes == {TinySpec().vocab_size}


def test_special_token_ids_match_config(models: TinyModels) -> None:
    tokenizer = AutoTokenizer.from_pretrained(models.vlm)
    config = AutoConfig.from_pretrained(models.vlm)
    ids = tokenizer.convert_tokens_to_ids
    assert config.image_token_id == ids("<|image_pad|>")
    assert config.video_token_id == ids("<|video_pad|>")
    assert config.vision_start_token_id == ids("<|vision_start|>")
    assert config.vision_end_token_id == ids("<|vision_end|>")
    assert tokenizer.eos_token_id == ids("<|im_end|>")
    assert tokenizer.pad_token_id == ids("<|endoftext|>")
    # Qwen's layout: learned tokens first, then the special tokens in Qwen's order.
    assert [ids(t) for t in SPECIAL_TOKENS + ADDED_TOKENS] == list(
        range(len(tokenizer) - len(SPECIAL_TOKENS) - len(ADDED_TOKENS), len(tokenizer))
    )


def test_vlm_generates_from_an_image(models: TinyModels) -> None:
    processor = load_processor(models.vlm)
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(models.vlm).eval()
    config = model.config
    image = Image.new("RGB", (64, 48), (220, 40, 40))
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "image", "image": image},
                {"type": "text", "text": "Write the HTML for this."},
            ],
        }
    ]
    inputs = processor.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
    )
    ids = inputs["input_ids"][0].tolist()
    # 64x48 is resized to 56x56: a 4x4 patch grid, merged 2x2 into 4 image tokens between the markers.
    assert inputs["image_grid_thw"].tolist() == [[1, 4, 4]]
    assert inputs["pixel_values"].shape == (16, 3 * 2 * 14 * 14)
    start = ids.index(config.vision_start_token_id)
    assert ids[start + 1 : start + 6] == [config.image_token_id] * 4 + [config.vision_end_token_id]
    assert ids.count(config.image_token_id) == 4

    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=6, min_new_tokens=6, do_sample=False)
    assert output.shape == (1, len(ids) + 6)
    assert output[0, : len(ids)].tolist() == ids
    assert all(0 <= token < config.text_config.vocab_size for token in output[0].tolist())
    with torch.no_grad():
        again = model.generate(**inputs, max_new_tokens=6, min_new_tokens=6, do_sample=False)
    assert torch.equal(output, again)


def test_vlm_loads_through_auto_class(models: TinyModels) -> None:
    """The auto class a user's code calls picks Qwen2.5-VL and every saved tensor lands in it, unchanged."""
    from safetensors.torch import load_file

    model, info = AutoModelForImageTextToText.from_pretrained(models.vlm, output_loading_info=True)
    assert type(model) is Qwen2_5_VLForConditionalGeneration
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    saved = {}
    for shard in sorted(models.vlm.glob("*.safetensors")):
        saved.update(load_file(shard))
    state = model.state_dict()
    assert saved and len(saved) == len(state)
    for name, tensor in saved.items():
        # the hub layout (visual.*, model.*) maps onto the class's own names (model.visual.*, ...)
        loaded = next(
            state[key]
            for key in (name, f"model.{name}", name.replace("model.", "model.language_model.", 1))
            if key in state
        )
        assert torch.equal(loaded, tensor), name


def test_code_and_base_load_and_run(models: TinyModels) -> None:
    tokenizer = AutoTokenizer.from_pretrained(models.code)
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "def add(a, b):"}], add_generation_prompt=True, tokenize=False
    )
    input_ids = tokenizer(prompt, return_tensors="pt").input_ids
    logits = {}
    for name, path in (("code", models.code), ("base", models.base)):
        model = Qwen2ForCausalLM.from_pretrained(path).eval()
        with torch.no_grad():
            logits[name] = model(input_ids=input_ids).logits
        assert logits[name].shape == (1, input_ids.shape[1], len(tokenizer))
        assert torch.isfinite(logits[name]).all()
    assert not torch.allclose(logits["code"], logits["base"])


def test_language_models_share_shapes_and_differ_by_small_deltas(models: TinyModels) -> None:
    spec = TinySpec()
    vlm, code, base = (
        language_tensors(models.vlm),
        language_tensors(models.code),
        language_tensors(models.base),
    )
    assert set(vlm) == set(code) == set(base)
    assert len(base) == 3 + 12 * spec.num_hidden_layers  # embed, norm, lm_head; 12 per layer
    for name, tensor in base.items():
        assert vlm[name].shape == tensor.shape == code[name].shape, name
        assert vlm[name].dtype == tensor.dtype == code[name].dtype == torch.float32, name
    code_delta = torch.cat([(code[n] - base[n]).flatten() for n in sorted(base)])
    vlm_delta = torch.cat([(vlm[n] - base[n]).flatten() for n in sorted(base)])
    # Both task vectors are small noise around the shared base, and independent of each other.
    assert abs(code_delta.std().item() - spec.code_delta_std) < 0.1 * spec.code_delta_std
    assert abs(vlm_delta.std().item() - spec.vlm_delta_std) < 0.1 * spec.vlm_delta_std
    assert abs(torch.corrcoef(torch.stack([code_delta, vlm_delta]))[0, 1].item()) < 0.05
    assert all(not torch.equal(code[n], base[n]) for n in base)


def test_vision_tower_is_present(models: TinyModels) -> None:
    with safe_open(models.vlm / "model.safetensors", "pt") as f:
        names = list(f.keys())
        metadata = f.metadata()
    assert any(n.startswith("visual.blocks.1.") for n in names)
    assert any(n.startswith("visual.merger.") for n in names)
    assert metadata == {"format": "pt"}  # nothing that varies between builds (time, path)


def test_size_and_build_time(models: TinyModels, built: tuple[TinyModels, float]) -> None:
    total = sum(directory_size(path) for _, path in models.items())
    assert total < MAX_TOTAL_BYTES, total
    assert built[1] < MAX_BUILD_SECONDS


def test_same_seed_same_bytes_different_seed_different_weights(models: TinyModels, tmp_path: Path) -> None:
    reference = file_hashes(models.vlm.parent)
    again = build_tiny_models(tmp_path / "again", seed=SEED)
    assert file_hashes(again.vlm.parent) == reference

    other = file_hashes(build_tiny_models(tmp_path / "other", seed=SEED + 1).vlm.parent)
    assert other.keys() == reference.keys()
    for name in reference:
        if name.endswith("model.safetensors"):
            assert other[name] != reference[name], name
        else:  # tokenizer, configs and processor depend on the spec only
            assert other[name] == reference[name], name


def test_build_leaves_callers_random_state_alone(tmp_path: Path) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_tiny_models(tmp_path / "m", seed=SEED)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.slow
def test_cli_same_bytes_in_a_fresh_process(models: TinyModels, tmp_path: Path) -> None:
    """A new interpreter (new hash seeds, new thread pools) writes the same bytes, through the CLI."""
    out = tmp_path / "cli"
    code = "import sys; from viscodex.training.cli import main; sys.argv[0] = 'viscodex-train'; main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "tiny", "--out", str(out), "--seed", str(SEED)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={**os.environ, "PYTHONHASHSEED": "random"},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name in ("vlm", "code", "base"):
        assert any(line.split()[:2] == [name, str((out / name).resolve())] for line in lines), lines
    assert file_hashes(out) == file_hashes(models.vlm.parent)


def test_cli_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = CliRunner().invoke(app, ["tiny", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "not empty" in result.stderr and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_cli_force_replaces_models_and_keeps_other_files(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    (tmp_path / "vlm").mkdir()
    (tmp_path / "vlm" / "stale.bin").write_bytes(b"old")
    result = CliRunner().invoke(app, ["tiny", "--out", str(tmp_path), "--force", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base", "code", "keep.txt", "vlm"]
    assert not (tmp_path / "vlm" / "stale.bin").exists()
    assert (tmp_path / "vlm" / "model.safetensors").is_file()


def test_cli_refuses_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    result = CliRunner().invoke(app, ["tiny", "--out", str(target)])
    assert result.exit_code == 2
    assert "not a folder" in result.stderr


def test_spec_rejects_inconsistent_sizes() -> None:
    with pytest.raises(ValueError, match="mrope_section"):
        TinySpec(mrope_section=(4, 4, 4))
    with pytest.raises(ValueError, match="head_dim"):
        TinySpec(hidden_size=96)
