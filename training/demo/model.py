"""The demo model `viscodex-demo-chart`: a Qwen2.5-VL of a few million parameters that turns a chart picture
into a short matplotlib script, made end to end by the project's own pipeline on a CPU.

Why it exists: without the hub (CI, a laptop on a train) the 8B VisCodex cannot be built, and a random tiny
model makes the product look broken. This one is trained on synthetic charts (`viscodex-train data synth
--kind chart --level basic`: one plotting call each) with `viscodex-train sft` and scored with
`viscodex-train eval`, so the offline path shows the loop working on a real (if very small) model.

The sizes aim at what a CPU can train in under an hour (see `DemoSpec`): a small picture (at most 64 vision
tokens), a vocabulary trained on chart code and the prompts VisCodex sends, and greedy decoding. Its
figures are in `bench/RESULTS.md` ("Demo model") and its model card. The pipeline (`viscodex-train demo`) is
deterministic for a seed: same synthetic charts, same tokenizer, same initial weights, same training order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..tiny import (
    ADDED_TOKENS,
    CHAT_TEMPLATE,
    PRETOKENIZE_REGEX,
    SPECIAL_TOKENS,
    TinySpec,
    build_image_processor,
    generation_config,
    quiet_progress,
    seeded,
    stream_seed,
    token_ids,
    vlm_config,
)

DEMO_NAME = "viscodex-demo-chart"


class DemoSpec(BaseModel):
    """The demo's sizes: `TinySpec` fields, kept small enough that a training step of 8 conversations costs
    a few CPU-seconds.

    A chart picture at <= 252x196 px is <= 64 merged vision tokens; a vision tower of 2 blocks at width 96
    is meant to tell a pie from bars from a line; 4 text layers at width 192 hold the scripts' structure.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    vocab_size: int = Field(1024, description="Tokens learned from chart code and VisCodex's prompts, plus Qwen's.")
    hidden_size: int = 192
    intermediate_size: int = 512
    num_hidden_layers: int = 4
    num_attention_heads: int = 6
    num_key_value_heads: int = 2
    head_dim: int = 32
    vision_depth: int = 2
    vision_hidden_size: int = 96
    vision_num_heads: int = 3
    vision_intermediate_size: int = 192
    image_max_pixels: int = 28 * 28 * 64
    image_min_pixels: int = 28 * 28 * 16

    def tiny_spec(self) -> TinySpec:
        return TinySpec(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            intermediate_size=self.intermediate_size,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            num_key_value_heads=self.num_key_value_heads,
            head_dim=self.head_dim,
            vision_depth=self.vision_depth,
            vision_hidden_size=self.vision_hidden_size,
            vision_num_heads=self.vision_num_heads,
            vision_intermediate_size=self.vision_intermediate_size,
            vision_fullatt_block_indexes=(self.vision_depth - 1,),
            image_max_pixels=self.image_max_pixels,
            image_min_pixels=self.image_min_pixels,
            max_position_embeddings=4096,
        )


SMALL_SPEC = DemoSpec(
    vocab_size=512,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=1,
    num_attention_heads=2,
    num_key_value_heads=1,
    head_dim=32,
    vision_hidden_size=32,
    vision_num_heads=1,
    vision_intermediate_size=64,
    vision_depth=1,
    image_max_pixels=28 * 28 * 16,
    image_min_pixels=28 * 28 * 4,
)
"""The smaller version the tests train for a few steps."""


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> Any:
    """A byte-level BPE with Qwen2's pre-tokenizer, trained on `texts` (chart scripts and the prompts the
    model will be asked), then Qwen's special and added tokens: the tiny models' recipe on our own corpus.

    Byte-level, so any text still encodes; a vocabulary learned on chart code makes the scripts short in
    tokens, which is what lets a small model learn them in minutes. Deterministic for the same texts.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer

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
        vocab_size=vocab_size - added,
        min_frequency=2,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
    )
    # A corpus with fewer merges than asked for gives a smaller vocabulary; the config follows the tokenizer.
    backend.train_from_iterator(list(texts), trainer=trainer)
    backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    backend.add_tokens([AddedToken(t, special=False, normalized=False) for t in ADDED_TOKENS])
    tokenizer = Qwen2Tokenizer(
        tokenizer_object=backend,
        unk_token=None,  # type: ignore[arg-type]  # byte-level BPE has no unknown token
        bos_token=None,
        eos_token="<|im_end|>",  # noqa: S106 (a token, not a password)
        pad_token="<|endoftext|>",  # noqa: S106
        extra_special_tokens=[t for t in SPECIAL_TOKENS if t != "<|endoftext|>"],
        model_max_length=4096,
        split_special_tokens=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def write_initial_model(out: Path, corpus: Sequence[str], spec: DemoSpec, seed: int) -> Path:
    """The randomly initialised demo model with its processor, in the layout `viscodex-train sft --model`
    reads: what fine-tuning starts from. Same corpus, spec and seed: same bytes."""
    from transformers import Qwen2_5_VLForConditionalGeneration

    tokenizer = train_tokenizer(corpus, spec.vocab_size)
    tiny = spec.model_copy(update={"vocab_size": len(tokenizer)}).tiny_spec()
    ids = token_ids(tokenizer)
    with seeded(stream_seed(seed, "demo-init")):
        model = Qwen2_5_VLForConditionalGeneration(vlm_config(tiny, ids))  # type: ignore[no-untyped-call]
    model.generation_config = generation_config(ids)
    out.mkdir(parents=True, exist_ok=True)
    with quiet_progress():
        model.save_pretrained(out)
    build_image_processor(tiny).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def parameter_count(model: Any) -> int:
    return sum(int(p.numel()) for p in model.parameters())
