"""The merged checkpoint is a model vLLM serves: the merge's real consumer, end to end."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from helpers import vllm_answer
from PIL import Image

from viscodex.model.chat import ChatRequest, complete
from viscodex.model.embedded_backend import EmbeddedBackend
from viscodex.model.settings import ModelSettings
from viscodex.training.merge.engine import run_merge
from viscodex.training.merge.recipe import MergeRecipe

# The timeout covers waiting for the other worker's vLLM server to stop (conftest's ``vllm_lock_path``).
pytestmark = [pytest.mark.xdist_group("vllm"), pytest.mark.slow, pytest.mark.timeout(900)]


def test_merged_model_answers_through_vllm(
    tiny_models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vllm_lock_path: Path
) -> None:
    recipe = MergeRecipe(vlm=str(tiny_models["vlm"]), code=str(tiny_models["code"]), base=str(tiny_models["base"]))
    out = tmp_path / "merged"
    run_merge(recipe, tiny_models["vlm"], tiny_models["code"], tiny_models["base"], out)
    request = ChatRequest.single("Chart to code:", [Image.new("RGB", (200, 120), "orange")], max_tokens=8)
    served = vllm_answer(out, request, tmp_path, vllm_lock_path, monkeypatch)
    local = asyncio.run(complete(EmbeddedBackend(ModelSettings(model_path=out)), request))
    assert len(served.token_ids) == 8 and served.finish_reason == "length"
    assert served.token_ids == local.token_ids
