"""Model layer speed, as ratios measured in one run.

    .venv/bin/python bench/model.py [--requests 16] [--max-tokens 64] [--json out.json]

1. On the tiny VLM (built here, seconds), N concurrent chat requests with an image: the vLLM server
   (started here with `VllmServer`, as `viscodex-agent serve` does) against the embedded transformers
   backend. Throughput in requests per second; vLLM batches, the embedded backend runs one at a time.
2. Preprocessing a 3840x2160 screenshot (decode, normalise to the default budget, PNG data URL) against
   only decoding the same PNG with Pillow. Median of 10 each, interleaved.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

from viscodex.model.chat import ChatRequest, complete
from viscodex.model.embedded_backend import EmbeddedBackend
from viscodex.model.images import normalize_image
from viscodex.model.serve import ServeOptions, VllmServer
from viscodex.model.server_backend import ServerBackend
from viscodex.model.settings import ModelSettings
from viscodex.training.tiny import TinySpec, build_tiny_models

SIZES = {
    "tiny": TinySpec(),
    # ~110M parameters: large enough that the forward pass, not per-step overhead, dominates.
    "small": TinySpec(
        hidden_size=1024,
        intermediate_size=2816,
        num_hidden_layers=8,
        num_attention_heads=16,
        num_key_value_heads=8,
        head_dim=64,
        mrope_section=(8, 12, 12),
    ),
}


def screenshot(width: int = 3840, height: int = 2160) -> bytes:
    """A UI-like 4K PNG: panels, buttons and lines of text, so it compresses like a real screenshot."""
    image = Image.new("RGB", (width, height), "#f1f5f9")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 120), fill="#1e293b")
    for col in range(4):
        x = 80 + col * 930
        draw.rounded_rectangle((x, 200, x + 860, 2000), radius=24, fill="white", outline="#cbd5e1")
        for row in range(40):
            draw.text((x + 40, 260 + row * 42), f"Item {row} in column {col}: lorem ipsum", fill="#334155")
        draw.rounded_rectangle((x + 40, 1900, x + 400, 1970), radius=12, fill="#2563eb")
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def preprocess_ratio(runs: int = 10) -> dict[str, float]:
    data = screenshot()
    with tempfile.NamedTemporaryFile(suffix=".png", delete=False) as fh:
        fh.write(data)
        path = fh.name
    decode, prep = [], []
    try:
        for _ in range(runs):
            start = time.perf_counter()
            Image.open(path).load()
            decode.append(time.perf_counter() - start)
            start = time.perf_counter()
            normalize_image(path).to_data_url()
            prep.append(time.perf_counter() - start)
    finally:
        os.unlink(path)
    d, p = statistics.median(decode), statistics.median(prep)
    return {"pil_decode_s": d, "normalize_and_encode_s": p, "ratio": p / d}


async def throughput(backend: object, request: ChatRequest, n: int) -> tuple[float, int]:
    start = time.perf_counter()
    results = await asyncio.gather(*(complete(backend, request) for _ in range(n)))  # type: ignore[arg-type]
    elapsed = time.perf_counter() - start
    return n / elapsed, sum(len(r.token_ids) for r in results)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()

    pre = preprocess_ratio()
    print(
        f"preprocess 3840x2160: normalise+encode {pre['normalize_and_encode_s']:.3f} s, "
        f"Pillow decode {pre['pil_decode_s']:.3f} s, ratio {pre['ratio']:.2f}x"
    )

    out: dict[str, object] = {"preprocess": pre}
    with tempfile.TemporaryDirectory() as tmp:
        models = build_tiny_models(Path(tmp) / "tiny", spec=SIZES[args.size])
        image = Image.effect_noise((448, 448), 60).convert("RGB")
        request = ChatRequest.single("Write HTML for this.", [image], max_tokens=args.max_tokens)
        opts = ServeOptions(model=str(models.vlm), port=free_port(), max_model_len=2048, dtype="float32")
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        with VllmServer(opts, log_path=Path(tmp) / "vllm.log", gpu=False) as server:
            backend = ServerBackend(ModelSettings(model_url=server.url))
            asyncio.run(throughput(backend, request, 2))  # warm-up
            vllm_rps, vllm_tokens = asyncio.run(throughput(backend, request, args.requests))
        embedded = EmbeddedBackend(ModelSettings(model_path=models.vlm))
        asyncio.run(throughput(embedded, request, 2))
        emb_rps, emb_tokens = asyncio.run(throughput(embedded, request, args.requests))
    ratio = vllm_rps / emb_rps
    print(
        f"{args.size} model, {args.requests} concurrent requests, {args.max_tokens} tokens max: "
        f"vLLM {vllm_rps:.2f} req/s "
        f"({vllm_tokens} tokens), embedded {emb_rps:.2f} req/s ({emb_tokens} tokens): "
        f"vLLM/embedded {ratio:.2f}x"
    )
    out["throughput"] = {"size": args.size, "vllm_rps": vllm_rps, "embedded_rps": emb_rps, "ratio": ratio}
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
