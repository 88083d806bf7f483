"""The fine-tuned checkpoint is a model vLLM serves (issue 14): `viscodex-train sft`'s output, served the way
tests/test_merge_serving.py serves a merge, answers with the same token ids as transformers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from helpers import vllm_answer
from PIL import Image

from viscodex.model.chat import ChatRequest, complete
from viscodex.model.embedded_backend import EmbeddedBackend
from viscodex.model.settings import ModelSettings
from viscodex.training.data.records import Message, Record
from viscodex.training.sft.recipe import LoraSettings, resolve_recipe
from viscodex.training.sft.train import run_sft

pytestmark = [pytest.mark.xdist_group("vllm"), pytest.mark.slow, pytest.mark.timeout(900)]


def records(folder: Path, n: int) -> list[Record]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        path = folder / f"{i}.png"
        Image.new("RGB", (84, 56), ("red", "blue")[i % 2]).save(path)
        answer = f"plt.bar([1, 2], [3, {i}], color='{('red', 'blue')[i % 2]}')"
        out.append(
            Record(
                id=str(i),
                messages=(Message("user", "<image>\nChart to code:"), Message("assistant", answer)),
                images=(path,),
            )
        )
    return out


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_fine_tuned_model_answers_through_vllm(
    lora: bool, tiny_models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vllm_lock_path: Path
) -> None:
    recipe = resolve_recipe("tiny").model_copy(
        update={
            "max_steps": 4,
            "batch_size": 2,
            "eval_split": 0.0,
            "lora": LoraSettings(r=8, alpha=16) if lora else None,
        }
    )
    out = tmp_path / "sft"
    run_sft(tiny_models["vlm"], records(tmp_path / "img", 4), out, recipe, say=lambda _: None)
    request = ChatRequest.single("Chart to code:", [Image.new("RGB", (200, 120), "orange")], max_tokens=8)
    served = vllm_answer(out, request, tmp_path, vllm_lock_path, monkeypatch)
    local = asyncio.run(complete(EmbeddedBackend(ModelSettings(model_path=out)), request))
    assert len(served.token_ids) == 8 and served.finish_reason == "length"
    assert served.token_ids == local.token_ids
