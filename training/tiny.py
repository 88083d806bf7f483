"""Tiny random checkpoints with the real architectures, for tests: `viscodex-train tiny --out DIR`.

VisCodex merges the language model of Qwen2.5-VL with a coding LLM (task arithmetic against their common
base), fine-tunes the result and serves it. Every one of those stages must be testable on a laptop, with no
download, so this module writes three small random models in the Hugging Face layout that the real ones
have:

- `vlm/`: a `Qwen2_5_VLForConditionalGeneration` (vision tower, merger, M-RoPE language model) with its
  processor: image processor, tokenizer and Qwen2.5-VL's chat template;
- `base/`: a `Qwen2ForCausalLM` whose shapes equal those of the VLM's language model;
- `code/`: `base` plus small seeded deltas, as a fine-tune differs from its base.

The VLM's language model is `base` plus other deltas, so `code - base` and `vlm - base` are two task
vectors of the same base, and a task-arithmetic merge of them is meaningful. All three share one tokenizer,
trained here with the `tokenizers` library on a fixed corpus (its size is every config's `vocab_size`),
and Qwen2.5-VL's chat template, which renders plain-string messages as ChatML too.

The same seed gives byte-identical files, so tests can compare hashes and a cache can key on the seed.
"""

from __future__ import annotations

import copy
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import (
    GenerationConfig,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen2Tokenizer,
    Qwen2VLImageProcessorPil,
)
from transformers.utils import logging as hf_logging

from .tiny_corpus import CORPUS

SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
"""Qwen2.5-VL's special tokens, in its order; they follow the learned tokens, as in Qwen's vocabulary."""

ADDED_TOKENS: tuple[str, ...] = (
    "<tool_call>",
    "</tool_call>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
)
"""Qwen's added tokens that are not special (they survive `skip_special_tokens`), after the specials."""

PRETOKENIZE_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
"""Qwen2's pre-tokenizer split (one digit per token), the same as `transformers`' `Qwen2Tokenizer`."""

CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
"""Qwen2.5-VL-Instruct's chat template, verbatim: ChatML, a default system prompt, and
`<|vision_start|><|image_pad|><|vision_end|>` for each image part (the processor expands the pad)."""

SUBDIRS = ("vlm", "code", "base")


class TinySpec(BaseModel):
    """The sizes of the tiny models: Qwen2.5-VL's architecture, shrunk so a build takes seconds and a few MB.

    The text sizes are shared by the VLM's language model, `base` and `code`, which is what lets a merge
    add their weights. Head dim 32 with `mrope_section` (4, 6, 6) keeps M-RoPE's split of the rotary
    half (temporal, height, width) as real as it gets at this size.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    vocab_size: int = Field(1024, description="len(tokenizer): learned BPE tokens plus Qwen's added tokens")
    hidden_size: int = 128
    intermediate_size: int = 256
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    head_dim: int = 32
    mrope_section: tuple[int, int, int] = (4, 6, 6)
    rope_theta: float = 1_000_000.0
    rms_norm_eps: float = 1e-6
    max_position_embeddings: int = 32768
    tie_word_embeddings: bool = False
    initializer_range: float = 0.02

    vision_depth: int = 2
    vision_hidden_size: int = 64
    vision_num_heads: int = 2
    vision_intermediate_size: int = 128
    vision_fullatt_block_indexes: tuple[int, ...] = (1,)
    vision_window_size: int = 112
    patch_size: int = 14
    temporal_patch_size: int = 2
    spatial_merge_size: int = 2
    tokens_per_second: int = 2

    image_min_pixels: int = 56 * 56
    image_max_pixels: int = 28 * 28 * 256
    """At most 256 image tokens per image, so image tests stay fast (the real model allows 16384)."""

    code_delta_std: float = 0.005
    vlm_delta_std: float = 0.005
    """Standard deviation of the seeded deltas that turn `base` into `code` and into the VLM's language
    model: a quarter of the init's, small like a fine-tune's change, large enough to change logits."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.num_attention_heads * self.head_dim != self.hidden_size:
            raise ValueError("num_attention_heads * head_dim must equal hidden_size")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")
        if sum(self.mrope_section) * 2 != self.head_dim:
            raise ValueError("mrope_section must sum to head_dim / 2")
        if self.vision_hidden_size % self.vision_num_heads:
            raise ValueError("vision_hidden_size must be a multiple of vision_num_heads")
        if any(not 0 <= i < self.vision_depth for i in self.vision_fullatt_block_indexes):
            raise ValueError("vision_fullatt_block_indexes must index vision blocks")
        if self.vocab_size <= 256 + len(SPECIAL_TOKENS) + len(ADDED_TOKENS):
            raise ValueError("vocab_size must leave room for the 256 byte tokens and the added tokens")
        return self


class TinyModels(BaseModel):
    """Where `build_tiny_models` wrote the three checkpoints."""

    model_config = ConfigDict(frozen=True)

    vlm: Path
    code: Path
    base: Path

    def items(self) -> Iterator[tuple[str, Path]]:
        """(name, path) for vlm, code and base, in that order."""
        for name in SUBDIRS:
            yield name, getattr(self, name)


def stream_seed(seed: int, stream: str) -> int:
    """An independent 63-bit seed per named random stream.

    Each part (base init, VLM init, each delta) draws from its own stream, so changing one part's size or
    order does not silently change the others' weights.
    """
    digest = hashlib.sha256(f"viscodex-tiny:{seed}:{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << 63) - 1)


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch's global CPU generator (which `transformers` uses to initialise weights) for the block,
    then restore the caller's state: building a tiny model must not disturb a test's randomness."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def train_tokenizer(spec: TinySpec) -> Qwen2Tokenizer:
    """Train a byte-level BPE on the built-in corpus with Qwen2's pipeline, then add Qwen's tokens.

    Byte-level with all 256 bytes in the alphabet, so any text (any language, any emoji) encodes; Qwen2's
    NFC normaliser and digit-splitting pre-tokenizer, so token boundaries behave like the real tokenizer's.
    The trainer is deterministic for a fixed corpus, so the tokenizer needs no seed.
    """
    added = len(SPECIAL_TOKENS) + len(ADDED_TOKENS)
    backend = Tokenizer(models.BPE())
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab_size - added,
        min_frequency=0,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
    )
    backend.train_from_iterator(list(CORPUS), trainer=trainer)
    learned = backend.get_vocab_size()
    if learned != spec.vocab_size - added:
        most = learned + added
        raise ValueError(f"the built-in corpus yields only {most} tokens; ask for vocab_size <= {most}")
    backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    backend.add_tokens([AddedToken(t, special=False, normalized=False) for t in ADDED_TOKENS])
    tokenizer = Qwen2Tokenizer(
        tokenizer_object=backend,
        unk_token=None,  # type: ignore[arg-type]  # as Qwen's: byte-level BPE has no unknown token
        bos_token=None,
        eos_token="<|im_end|>",  # noqa: S106 (a token, not a password)
        pad_token="<|endoftext|>",  # noqa: S106
        extra_special_tokens=[t for t in SPECIAL_TOKENS if t not in {"<|endoftext|>"}],
        model_max_length=spec.max_position_embeddings,
        split_special_tokens=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    if len(tokenizer) != spec.vocab_size:
        raise AssertionError(f"tokenizer has {len(tokenizer)} tokens, spec says {spec.vocab_size}")
    return tokenizer


def token_ids(tokenizer: Qwen2Tokenizer) -> dict[str, int]:
    """The ids that configs and generation configs name, looked up rather than hard-coded."""
    names = {
        "endoftext": "<|endoftext|>",
        "im_end": "<|im_end|>",
        "vision_start": "<|vision_start|>",
        "vision_end": "<|vision_end|>",
        "image_pad": "<|image_pad|>",
        "video_pad": "<|video_pad|>",
    }
    ids: dict[str, int] = {}
    for key, token in names.items():
        value = tokenizer.convert_tokens_to_ids(token)
        if not isinstance(value, int) or value == tokenizer.unk_token_id:
            raise AssertionError(f"{token} is not a single token")
        ids[key] = value
    return ids


def text_config_kwargs(spec: TinySpec, ids: Mapping[str, int]) -> dict[str, Any]:
    """The language-model settings shared by the VLM's text config and the Qwen2 configs."""
    return {
        "vocab_size": spec.vocab_size,
        "hidden_size": spec.hidden_size,
        "intermediate_size": spec.intermediate_size,
        "num_hidden_layers": spec.num_hidden_layers,
        "num_attention_heads": spec.num_attention_heads,
        "num_key_value_heads": spec.num_key_value_heads,
        "hidden_act": "silu",
        "max_position_embeddings": spec.max_position_embeddings,
        "initializer_range": spec.initializer_range,
        "rms_norm_eps": spec.rms_norm_eps,
        "use_sliding_window": False,
        "max_window_layers": spec.num_hidden_layers,
        "attention_dropout": 0.0,
        "bos_token_id": ids["endoftext"],
        "eos_token_id": ids["im_end"],
        "pad_token_id": ids["endoftext"],
        "tie_word_embeddings": spec.tie_word_embeddings,
    }


def qwen2_config(spec: TinySpec, ids: Mapping[str, int]) -> Qwen2Config:
    """Config of `base` and `code`: a Qwen2 causal LM with the VLM's language-model shapes."""
    return Qwen2Config(
        **text_config_kwargs(spec, ids),
        rope_parameters={"rope_type": "default", "rope_theta": spec.rope_theta},
        dtype="float32",
    )


def vlm_config(spec: TinySpec, ids: Mapping[str, int]) -> Qwen2_5_VLConfig:
    """Config of the VLM: Qwen2.5-VL's vision tower and M-RoPE language model at the spec's sizes."""
    text = text_config_kwargs(spec, ids)
    text["rope_parameters"] = {
        "rope_type": "default",
        "mrope_section": list(spec.mrope_section),
        "rope_theta": spec.rope_theta,
    }
    vision = {
        "depth": spec.vision_depth,
        "hidden_size": spec.vision_hidden_size,
        "hidden_act": "silu",
        "intermediate_size": spec.vision_intermediate_size,
        "num_heads": spec.vision_num_heads,
        "in_channels": 3,
        "patch_size": spec.patch_size,
        "spatial_merge_size": spec.spatial_merge_size,
        "temporal_patch_size": spec.temporal_patch_size,
        "tokens_per_second": spec.tokens_per_second,
        "window_size": spec.vision_window_size,
        "out_hidden_size": spec.hidden_size,
        "fullatt_block_indexes": list(spec.vision_fullatt_block_indexes),
        "initializer_range": spec.initializer_range,
    }
    return Qwen2_5_VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=ids["image_pad"],
        video_token_id=ids["video_pad"],
        vision_start_token_id=ids["vision_start"],
        vision_end_token_id=ids["vision_end"],
        tie_word_embeddings=spec.tie_word_embeddings,
        dtype="float32",
    )


def generation_config(ids: Mapping[str, int]) -> GenerationConfig:
    """Greedy by default (tests compare ids), stopping at `<|im_end|>` or `<|endoftext|>` like Qwen's."""
    return GenerationConfig(  # type: ignore[no-untyped-call]
        bos_token_id=ids["endoftext"],
        eos_token_id=[ids["im_end"], ids["endoftext"]],
        pad_token_id=ids["endoftext"],
        do_sample=False,
    )


def add_deltas(state: Mapping[str, torch.Tensor], std: float, seed: int) -> dict[str, torch.Tensor]:
    """`state` plus seeded Gaussian noise of `std` on every tensor: a stand-in for a fine-tune's change.

    Names are visited in sorted order so the noise each tensor gets depends only on the seed and the names.
    """
    generator = torch.Generator().manual_seed(seed)
    return {
        name: state[name] + std * torch.randn(state[name].shape, generator=generator, dtype=state[name].dtype)
        for name in sorted(state)
    }


def build_base(spec: TinySpec, ids: Mapping[str, int], seed: int) -> Qwen2ForCausalLM:
    """The common base: a randomly initialised Qwen2 causal LM."""
    with seeded(stream_seed(seed, "base")):
        model = Qwen2ForCausalLM(qwen2_config(spec, ids))  # type: ignore[no-untyped-call]
    return model


def build_code(spec: TinySpec, base: Qwen2ForCausalLM, seed: int) -> Qwen2ForCausalLM:
    """The "coding LLM": `base` plus its own deltas, so `code - base` is a task vector."""
    model = copy.deepcopy(base)  # not a fresh init: that would draw from the caller's random state
    deltas = add_deltas(base.state_dict(), spec.code_delta_std, stream_seed(seed, "code-delta"))
    model.load_state_dict(deltas, strict=True)
    return model


def build_vlm(spec: TinySpec, ids: Mapping[str, int], base: Qwen2ForCausalLM, seed: int) -> Any:
    """The VLM: a random vision tower and merger, and `base` plus other deltas as its language model.

    Returns a `Qwen2_5_VLForConditionalGeneration` (typed `Any`: transformers' class is not precise enough
    for strict typing of `generate` and friends).
    """
    with seeded(stream_seed(seed, "vlm")):
        model = Qwen2_5_VLForConditionalGeneration(vlm_config(spec, ids))  # type: ignore[no-untyped-call]
    language = add_deltas(
        {name.removeprefix("model."): tensor for name, tensor in base.model.state_dict().items()},
        spec.vlm_delta_std,
        stream_seed(seed, "vlm-delta"),
    )
    target = model.model.language_model
    mismatched = {
        name
        for name, tensor in target.state_dict().items()
        if name not in language or language[name].shape != tensor.shape
    }
    if mismatched or set(language) != set(target.state_dict()):
        raise AssertionError(f"VLM language model and base differ in shape: {sorted(mismatched)[:5]}")
    target.load_state_dict(language, strict=True)
    head = add_deltas(
        {"lm_head.weight": base.lm_head.weight.detach()}, spec.vlm_delta_std, stream_seed(seed, "vlm-head")
    )
    with torch.no_grad():
        model.lm_head.weight.copy_(head["lm_head.weight"])
    return model


def build_image_processor(spec: TinySpec) -> Qwen2VLImageProcessorPil:
    """Qwen2.5-VL's image processor settings (patch 14, merge 2, CLIP mean and std), with the spec's
    pixel bounds.

    The PIL class, because it needs no torchvision (whose builds do not load here). It saves the same
    `preprocessor_config.json` as the torchvision class, which names `Qwen2VLImageProcessor`, as the real
    checkpoint does: where torchvision is installed (vLLM's environment) that class is the one loaded.
    """
    return Qwen2VLImageProcessorPil(
        size={"shortest_edge": spec.image_min_pixels, "longest_edge": spec.image_max_pixels},
        patch_size=spec.patch_size,
        temporal_patch_size=spec.temporal_patch_size,
        merge_size=spec.spatial_merge_size,
    )


@contextmanager
def quiet_progress() -> Iterator[None]:
    """No "Writing model shards" bar on stderr while saving; the caller's setting is restored after."""
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


def save_model(model: Any, directory: Path, ids: Mapping[str, int]) -> None:
    """Save weights (one `model.safetensors`), config and a greedy generation config."""
    model.generation_config = generation_config(ids)
    with quiet_progress():
        model.save_pretrained(directory)


def write_tiny_models(directory: Path, seed: int = 0, spec: TinySpec | None = None) -> TinyModels:
    """Build the three models and save them under `directory` (which must exist): vlm/, code/, base/."""
    spec = spec or TinySpec()
    tokenizer = train_tokenizer(spec)
    ids = token_ids(tokenizer)
    base = build_base(spec, ids, seed)
    code = build_code(spec, base, seed)
    vlm = build_vlm(spec, ids, base, seed)
    paths = TinyModels(vlm=directory / "vlm", code=directory / "code", base=directory / "base")

    # The VLM's processor is saved in the layout of the real checkpoint (preprocessor_config.json, tokenizer
    # files, chat template), which `AutoProcessor` and vLLM read; `load_processor` reads it anywhere.
    save_model(vlm, paths.vlm, ids)
    build_image_processor(spec).save_pretrained(paths.vlm)
    tokenizer.save_pretrained(paths.vlm)
    for model, path in ((code, paths.code), (base, paths.base)):
        save_model(model, path, ids)
        tokenizer.save_pretrained(path)
    return paths


def build_tiny_models(out: Path, seed: int = 0, spec: TinySpec | None = None, force: bool = False) -> TinyModels:
    """Write the tiny models to `out/vlm`, `out/code` and `out/base`; return their paths.

    They are built in a temporary folder inside `out` and moved into place only when all three are
    complete, so an interrupted build leaves no half-written checkpoint that a later test would load.
    `out` must be missing or empty unless `force`, which replaces only vlm/, code/ and base/.
    """
    out.mkdir(parents=True, exist_ok=True)
    if not force and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty (use --force to replace vlm/, code/, base/)")
    staging = Path(tempfile.mkdtemp(prefix=".tiny-", dir=out))
    try:
        built = write_tiny_models(staging, seed=seed, spec=spec)
        final = TinyModels(vlm=out / "vlm", code=out / "code", base=out / "base")
        for (_, source), (_, target) in zip(built.items(), final.items(), strict=True):
            if target.is_symlink() or target.is_file():
                target.unlink()
            elif target.exists():
                shutil.rmtree(target)
            os.replace(source, target)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def directory_size(path: Path) -> int:
    """Total bytes of the regular files under `path`."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
