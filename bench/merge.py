"""Merge speed and memory against mergekit and against the read+write floor, measured in one run.

    .venv/bin/python bench/merge.py [--size-gb 1.5] [--dtype bfloat16] [--workdir DIR] [--json out.json]
                                    [--repeat 1] [--cold] [--mergekit-venv DIR] [--mergekit-version 0.1.5]

1. Generates (once; reused while the parameters in `WORKDIR/params.json` match) three random checkpoints
   of about `--size-gb` each, with real Qwen2 tensor names and reduced sizes (hidden 2048, intermediate
   5632, vocabulary 32000, GQA 16/2 heads, as many layers as the size needs), written shard by shard
   (~500 MB) with safetensors plus `model.safetensors.index.json`:
   - `base/`, `code/`: `Qwen2ForCausalLM` checkpoints (independent random values);
   - `vlm_llm/`: the VLM's language model as a plain Qwen2 checkpoint, for mergekit, which does not know
     our VLM layout;
   - `vlm/`: a Qwen2.5-VL checkpoint in the hub layout: the same language shards as `vlm_llm/` (hard links,
     so both tools read the very same bytes) plus one shard with a small vision tower `visual.*` (< 1% of
     the bytes) and a `qwen2_5_vl` config.
2. Creates mergekit's own venv if missing (`python3 -m venv`, `pip install torch==2.13.0`, then
   `pip install torch==2.13.0 mergekit==VERSION`, so pip cannot swap torch) and checks `mergekit-yaml --help`.
3. Runs each as a subprocess, measuring wall time and peak RSS (`ru_maxrss` from `wait4`, which covers the
   child and every descendant it waited for; RSS split into anonymous and file-backed pages is sampled
   from /proc every 50 ms over the process tree):
   - ours: `viscodex-train merge --vlm --code --base --lam 0.7` (hash_inputs on, the default) three ways:
     a first merge of these inputs (the digest cache made unusable, so every input file is hashed: the
     headline numbers), a merge whose inputs were hashed before (the cache filled outside the
     measurement: a repeat or sweep merge; hub downloads name their digests too), and a `--config`
     recipe with `hash_inputs: false`;
   - mergekit: `mergekit-yaml` `task_arithmetic` (base, vlm_llm 0.7, code 0.3, `normalize: false`,
     compute dtype float32, out_dtype = --dtype: the same arithmetic as ours), and once more with compute
     dtype = --dtype (mergekit's fastest path, not the same arithmetic: for context only);
   - floor: reads every byte of vlm, code and base in 16 MiB chunks and writes the VLM's bytes as an output
     of the merged size, fsync'd.
   Caching (the same for every run): by default warm: before each run `sync`, the run's input files are
   read once (so they sit in the page cache) and its output folder is removed; `--cold` drops the page
   cache (`echo 3 > /proc/sys/vm/drop_caches`, root) before each run instead. Wall time is taken until the
   output is durable: after the process exits, every output file is fsync'd inside the timed span (ours
   and the floor already fsync; mergekit does not), so every tool pays for its writes reaching the disk;
   the process-only time is shown too.
4. Checks that our output equals mergekit's (float32-compute run) on a few language tensors within 1 bf16
   ulp, that both hold the same language tensor names, and that our vision tensors equal the VLM's bytes.
5. Prints the table and the ratios against the targets: wall ours/mergekit <= 1.0, peak RSS ours/mergekit
   <= 0.5, wall ours/floor <= 1.5.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DEFAULT_WORKDIR = Path("/var/tmp/viscodex-bench/merge")
DEFAULT_MERGEKIT_VENV = Path("/var/tmp/viscodex-bench/mergekit-venv")
TORCH_PIN = "torch==2.13.0"
GEN_VERSION = 1
"""Bump when the generated checkpoints change, so an old work dir is regenerated."""

HIDDEN, INTERMEDIATE, VOCAB, HEADS, KV_HEADS = 2048, 5632, 32000, 16, 2
HEAD_DIM = HIDDEN // HEADS
VISION_HIDDEN, VISION_INTERMEDIATE, OUT_HIDDEN = 320, 864, HIDDEN
SHARD_BYTES = 500 * 10**6
CHUNK = 16 << 20
LAM = 0.7
DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
TARGETS = {"wall ours/mergekit": 1.0, "RSS ours/mergekit": 0.5, "wall ours/floor": 1.5}

Spec = list[tuple[str, tuple[int, ...]]]


# --- generated checkpoints -----------------------------------------------------------------------------


def layer_tensors(i: int) -> Spec:
    p, kv = f"model.layers.{i}.", KV_HEADS * HEAD_DIM
    return [
        (p + "input_layernorm.weight", (HIDDEN,)),
        (p + "self_attn.q_proj.weight", (HIDDEN, HIDDEN)),
        (p + "self_attn.q_proj.bias", (HIDDEN,)),
        (p + "self_attn.k_proj.weight", (kv, HIDDEN)),
        (p + "self_attn.k_proj.bias", (kv,)),
        (p + "self_attn.v_proj.weight", (kv, HIDDEN)),
        (p + "self_attn.v_proj.bias", (kv,)),
        (p + "self_attn.o_proj.weight", (HIDDEN, HIDDEN)),
        (p + "post_attention_layernorm.weight", (HIDDEN,)),
        (p + "mlp.gate_proj.weight", (INTERMEDIATE, HIDDEN)),
        (p + "mlp.up_proj.weight", (INTERMEDIATE, HIDDEN)),
        (p + "mlp.down_proj.weight", (HIDDEN, INTERMEDIATE)),
    ]


def numel(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def language_spec(layers: int) -> Spec:
    spec: Spec = [("model.embed_tokens.weight", (VOCAB, HIDDEN))]
    for i in range(layers):
        spec += layer_tensors(i)
    return [*spec, ("model.norm.weight", (HIDDEN,)), ("lm_head.weight", (VOCAB, HIDDEN))]


def vision_spec() -> Spec:
    """A one-block Qwen2.5-VL vision tower with its merger: names under `visual.` are all that matters."""
    v, m = VISION_HIDDEN, VISION_HIDDEN * 4
    return [
        ("visual.patch_embed.proj.weight", (v, 3, 2, 14, 14)),
        ("visual.blocks.0.norm1.weight", (v,)),
        ("visual.blocks.0.attn.qkv.weight", (3 * v, v)),
        ("visual.blocks.0.attn.qkv.bias", (3 * v,)),
        ("visual.blocks.0.attn.proj.weight", (v, v)),
        ("visual.blocks.0.attn.proj.bias", (v,)),
        ("visual.blocks.0.norm2.weight", (v,)),
        ("visual.blocks.0.mlp.gate_proj.weight", (VISION_INTERMEDIATE, v)),
        ("visual.blocks.0.mlp.gate_proj.bias", (VISION_INTERMEDIATE,)),
        ("visual.blocks.0.mlp.up_proj.weight", (VISION_INTERMEDIATE, v)),
        ("visual.blocks.0.mlp.up_proj.bias", (VISION_INTERMEDIATE,)),
        ("visual.blocks.0.mlp.down_proj.weight", (v, VISION_INTERMEDIATE)),
        ("visual.blocks.0.mlp.down_proj.bias", (v,)),
        ("visual.merger.ln_q.weight", (v,)),
        ("visual.merger.mlp.0.weight", (m, m)),
        ("visual.merger.mlp.0.bias", (m,)),
        ("visual.merger.mlp.2.weight", (OUT_HIDDEN, m)),
        ("visual.merger.mlp.2.bias", (OUT_HIDDEN,)),
    ]


def layers_for(size_gb: float, elem: int) -> int:
    fixed = sum(numel(s) for _, s in language_spec(0)) * elem
    per_layer = sum(numel(s) for _, s in layer_tensors(0)) * elem
    return max(1, round((size_gb * 1e9 - fixed) / per_layer))


def text_config(layers: int, dtype: str) -> dict[str, Any]:
    return {
        "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE,
        "num_hidden_layers": layers,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "vocab_size": VOCAB,
        "hidden_act": "silu",
        "max_position_embeddings": 32768,
        "rms_norm_eps": 1e-6,
        "rope_theta": 1000000.0,
        "tie_word_embeddings": False,
        "use_sliding_window": False,
        "attention_dropout": 0.0,
        "initializer_range": 0.02,
        "bos_token_id": 151643,
        "eos_token_id": 151645,
        "torch_dtype": dtype,
    }


def qwen2_config(layers: int, dtype: str) -> dict[str, Any]:
    return {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", **text_config(layers, dtype)}


def vlm_config(layers: int, dtype: str) -> dict[str, Any]:
    text = text_config(layers, dtype)
    return {
        "architectures": ["Qwen2_5_VLForConditionalGeneration"],
        "model_type": "qwen2_5_vl",
        **text,
        "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
        "image_token_id": 151655,
        "video_token_id": 151656,
        "vision_start_token_id": 151652,
        "vision_end_token_id": 151653,
        "text_config": {"model_type": "qwen2_5_vl_text", **text},
        "vision_config": {
            "model_type": "qwen2_5_vl",
            "depth": 1,
            "hidden_size": VISION_HIDDEN,
            "intermediate_size": VISION_INTERMEDIATE,
            "num_heads": 4,
            "in_chans": 3,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 112,
            "fullatt_block_indexes": [0],
            "out_hidden_size": OUT_HIDDEN,
        },
    }


def group_shards(spec: Spec, elem: int) -> list[Spec]:
    shards: list[Spec] = [[]]
    size = 0
    for name, shape in spec:
        nbytes = numel(shape) * elem
        if shards[-1] and size + nbytes > SHARD_BYTES:
            shards.append([])
            size = 0
        shards[-1].append((name, shape))
        size += nbytes
    return shards


def write_shard(path: Path, spec: Spec, dtype: torch.dtype, seed: int) -> int:
    """Random N(0, 0.02) tensors (norms around 1, as trained ones are), one shard in memory at a time."""
    gen = torch.Generator().manual_seed(seed)
    tensors = {}
    for name, shape in spec:
        t = torch.empty(shape, dtype=dtype)
        if name.endswith("norm.weight") or "norm1" in name or "norm2" in name or "ln_q" in name:
            t.normal_(1.0, 0.02, generator=gen)
        else:
            t.normal_(0.0, 0.02, generator=gen)
        tensors[name] = t
    save_file(tensors, str(path), metadata={"format": "pt"})
    size = sum(t.numel() * t.element_size() for t in tensors.values())
    del tensors
    return size


def write_index(folder: Path, weight_map: dict[str, str], total: int) -> None:
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")


def write_llm(folder: Path, shards: list[Spec], dtype: torch.dtype, seed: int, config: dict[str, Any]) -> None:
    folder.mkdir(parents=True)
    weight_map, total = {}, 0
    for i, spec in enumerate(shards):
        name = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        total += write_shard(folder / name, spec, dtype, seed * 1000 + i)
        weight_map.update(dict.fromkeys((n for n, _ in spec), name))
    write_index(folder, weight_map, total)
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")


def write_vlm(folder: Path, llm: Path, dtype: torch.dtype, seed: int, config: dict[str, Any]) -> None:
    """The hub layout: `llm`'s language shards (hard links: the same bytes) plus a vision shard."""
    folder.mkdir(parents=True)
    index = json.loads((llm / "model.safetensors.index.json").read_text())
    old_names = sorted(set(index["weight_map"].values()))
    count = len(old_names) + 1
    rename = {old: f"model-{i + 1:05d}-of-{count:05d}.safetensors" for i, old in enumerate(old_names)}
    for old, new in rename.items():
        try:
            os.link(llm / old, folder / new)
        except OSError:
            shutil.copy2(llm / old, folder / new)
    vision_name = f"model-{count:05d}-of-{count:05d}.safetensors"
    vision_bytes = write_shard(folder / vision_name, vision_spec(), dtype, seed * 1000 + 999)
    weight_map = {k: rename[v] for k, v in index["weight_map"].items()}
    weight_map.update(dict.fromkeys((n for n, _ in vision_spec()), vision_name))
    write_index(folder, weight_map, index["metadata"]["total_size"] + vision_bytes)
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")


def dir_bytes(folder: Path, pattern: str = "*.safetensors") -> int:
    return sum(p.stat().st_size for p in folder.glob(pattern))


def generate(workdir: Path, size_gb: float, dtype_name: str) -> dict[str, Any]:
    dtype = DTYPES[dtype_name]
    elem = torch.empty((), dtype=dtype).element_size()
    layers = layers_for(size_gb, elem)
    params = {
        "version": GEN_VERSION,
        "size_gb": size_gb,
        "dtype": dtype_name,
        "layers": layers,
        "hidden": HIDDEN,
        "intermediate": INTERMEDIATE,
        "vocab": VOCAB,
        "heads": [HEADS, KV_HEADS],
        "vision_hidden": VISION_HIDDEN,
    }
    marker = workdir / "params.json"
    names = ("base", "code", "vlm_llm", "vlm")
    if marker.is_file() and json.loads(marker.read_text()) == params and all((workdir / n).is_dir() for n in names):
        print(f"reusing the checkpoints in {workdir} ({layers} layers, {dtype_name})", flush=True)
        return params
    need = 3.2 * size_gb * 1e9 + 5 * size_gb * 1e9  # inputs, then up to ~5 outputs at a time
    workdir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(workdir).free
    if free < need:
        sys.exit(f"{workdir}: {free / 1e9:.1f} GB free, the benchmark needs about {need / 1e9:.1f} GB")
    marker.unlink(missing_ok=True)
    for n in names:
        shutil.rmtree(workdir / n, ignore_errors=True)
    started = time.perf_counter()
    shards = group_shards(language_spec(layers), elem)
    print(f"generating 3 checkpoints of {layers} layers ({dtype_name}) in {workdir} ...", flush=True)
    write_llm(workdir / "base", shards, dtype, 1, qwen2_config(layers, dtype_name))
    write_llm(workdir / "code", shards, dtype, 2, qwen2_config(layers, dtype_name))
    write_llm(workdir / "vlm_llm", shards, dtype, 3, qwen2_config(layers, dtype_name))
    write_vlm(workdir / "vlm", workdir / "vlm_llm", dtype, 3, vlm_config(layers, dtype_name))
    os.sync()
    marker.write_text(json.dumps(params, indent=2) + "\n")
    print(f"generated in {time.perf_counter() - started:.1f} s", flush=True)
    return params


# --- mergekit's environment -----------------------------------------------------------------------------


def ensure_mergekit(venv: Path, version: str) -> str:
    exe = venv / "bin" / "mergekit-yaml"
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    if not exe.exists():
        print(f"creating mergekit's venv in {venv} ...", flush=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        # torch first, pinned again with mergekit, so its resolver keeps the local CPU build.
        subprocess.run([*pip, TORCH_PIN], check=True)
        subprocess.run([*pip, TORCH_PIN, f"mergekit=={version}"], check=True)
    check = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=False)
    if check.returncode != 0:
        sys.exit(f"mergekit-yaml --help failed:\n{check.stderr[-2000:]}")
    probe = (
        "import importlib.metadata as m; "
        "print(' '.join(f'{p} {m.version(p)}' for p in ('mergekit', 'torch', 'transformers', 'safetensors')))"
    )
    out = subprocess.run([str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True, check=True)
    return out.stdout.strip()


# --- measuring -----------------------------------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except OSError:
            pass
    return pids


def _rss_kb(pid: int) -> tuple[int, int]:
    """(anonymous + shmem, file-backed) resident kB of one process; zeros once it is gone."""
    anon = file = 0
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(("RssAnon:", "RssShmem:")):
                    anon += int(line.split()[1])
                elif line.startswith("RssFile:"):
                    file += int(line.split()[1])
    except OSError:
        pass
    return anon, file


class Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.stop = pid, threading.Event()
        self.anon = self.file = self.total = 0

    def run(self) -> None:
        while not self.stop.is_set():
            anon = file = 0
            for p in _tree(self.pid)[1:]:  # the wrapper itself is not counted
                a, f = _rss_kb(p)
                anon, file = anon + a, file + f
            self.anon, self.file, self.total = (
                max(self.anon, anon),
                max(self.file, file),
                max(self.total, anon + file),
            )
            self.stop.wait(0.05)


def fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def warm(inputs: list[Path]) -> None:
    buf = bytearray(CHUNK)
    for folder in inputs:
        for path in sorted(folder.glob("*.safetensors")):
            with path.open("rb", buffering=0) as fh:
                while fh.readinto(buf):
                    pass


def prepare(inputs: list[Path], out: Path, cold: bool) -> None:
    for stale in out.parent.glob(out.name + "*"):
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    os.sync()
    if cold:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    else:
        warm(inputs)


WRAPPER = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
rc = subprocess.call(sys.argv[2:])
elapsed = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as fh:
    json.dump({"rc": rc, "process_s": elapsed, "maxrss_kb": usage.ru_maxrss,
               "cpu_s": usage.ru_utime + usage.ru_stime}, fh)
"""
"""Runs the command and reports its wall time and `ru_maxrss` over it and every descendant it waited for.
A small process of its own, because Linux counts in a child's `ru_maxrss` the RSS of the process it was
forked from (kept across exec): measured straight from this big process, that would inflate every run."""


def measure(label: str, cmd: list[str], inputs: list[Path], out: Path, logs: Path, cold: bool) -> dict[str, Any]:
    prepare(inputs, out, cold)
    shown = ["<script>" if "\n" in arg else arg for arg in cmd]
    print(f"  {label}: {' '.join(shown)}", flush=True)
    log, report = logs / f"{out.name}.log", logs / f"{out.name}.json"
    load = os.getloadavg()[0]
    with log.open("w") as fh:
        wrapper = subprocess.Popen(
            [sys.executable, "-S", "-c", WRAPPER, str(report), *cmd],
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        sampler = Sampler(wrapper.pid)
        sampler.start()
        wrapper.wait()
        sampler.stop.set()
        sampler.join()
    child = json.loads(report.read_text())
    if wrapper.returncode != 0 or child["rc"] != 0:
        sys.exit(f"{label} failed (exit {child['rc']}); see {log}:\n{log.read_text()[-3000:]}")
    synced = time.perf_counter()
    fsync_tree(out)
    fsync_s = time.perf_counter() - synced
    result = {
        "wall_s": child["process_s"] + fsync_s,
        "process_s": child["process_s"],
        "peak_rss_mb": child["maxrss_kb"] / 1024,
        "peak_anon_mb": sampler.anon / 1024,
        "peak_file_mb": sampler.file / 1024,
        "cpu_s": child["cpu_s"],
        "out_bytes": dir_bytes(out),
        "load_1m": load,
    }
    reported = re.findall(r"MB in ([0-9.]+) s", log.read_text())
    if reported:  # our CLI's own time for run_merge, without interpreter start and imports
        result["merge_s"] = float(reported[-1])
    print(
        f"    {result['wall_s']:.1f} s (process {result['process_s']:.1f} s, cpu {result['cpu_s']:.1f} s), "
        f"peak RSS {result['peak_rss_mb']:.0f} MB (sampled anon {result['peak_anon_mb']:.0f} MB, "
        f"file-backed {result['peak_file_mb']:.0f} MB); load average before {load:.1f}",
        flush=True,
    )
    return result


CHECKED_OUTPUTS = {"ours", "mergekit", "mergekit-lowp"}
"""Outputs kept for the correctness check; the others are removed as soon as they are measured."""
NO_CACHE = "/dev/null/sha256.json"
"""A hash cache path that can be neither read nor written: every input file is hashed."""
PREHASH = """
import sys
from pathlib import Path
from viscodex.training.merge.hashes import DigestCache, folder_sha256
cache = DigestCache(Path(sys.argv[1]))
for folder in sys.argv[2:]:
    folder_sha256(Path(folder), cache)
cache.save()
"""
"""Fills the hash cache for the "inputs hashed before" run, outside the measurement."""


FLOOR = """
import os, sys
from pathlib import Path
out, inputs = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]
out.mkdir(parents=True)
streams = [iter(sorted(folder.glob("*.safetensors"))) for folder in inputs]
current = [None] * len(inputs)
buf = bytearray(CHUNK)
view = memoryview(buf)
with (out / "model.safetensors").open("wb", buffering=0) as dst:
    live = len(inputs)
    while live:
        live = 0
        for i, stream in enumerate(streams):
            n = 0
            while not n:
                if current[i] is None:
                    path = next(stream, None)
                    if path is None:
                        break
                    current[i] = path.open("rb", buffering=0)
                n = current[i].readinto(buf)
                if not n:
                    current[i].close()
                    current[i] = None
            if n:
                live += 1
                if i == 0:
                    dst.write(view[:n])
    os.fsync(dst.fileno())
""".replace("CHUNK", str(CHUNK))
"""The floor: reads every byte of the inputs, a 16 MiB chunk of each in turn as a merge does, and writes
the first input's bytes (the merged size) into one file, fsync'd. Plain Python, no torch import."""


PROFILE = """
import cProfile, io, pstats, sys, time
from pathlib import Path
from viscodex.training.merge.engine import run_merge
from viscodex.training.merge.recipe import MergeRecipe
recipe = MergeRecipe.load(Path(sys.argv[1]))
profiler = cProfile.Profile()
started = time.perf_counter()
profiler.enable()
run_merge(recipe, Path(recipe.vlm), Path(recipe.code), Path(recipe.base), Path(sys.argv[2]), force=True)
profiler.disable()
print(f"wall {time.perf_counter() - started:.1f} s")
text = io.StringIO()
pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(10)
stats = text.getvalue()
print(stats[stats.find("ncalls"):].rstrip())
"""


# --- checking ------------------------------------------------------------------------------------------


def _open_all(folder: Path) -> dict[str, Path]:
    index = (
        json.loads((folder / "model.safetensors.index.json").read_text())["weight_map"]
        if (folder / "model.safetensors.index.json").is_file()
        else None
    )
    if index is not None:
        return {k: folder / v for k, v in index.items()}
    found: dict[str, Path] = {}
    for path in folder.glob("*.safetensors"):
        with safe_open(str(path), "pt") as fh:
            found.update(dict.fromkeys(fh.keys(), path))
    return found


def _tensor(where: dict[str, Path], name: str) -> torch.Tensor:
    with safe_open(str(where[name]), "pt") as fh:
        tensor: torch.Tensor = fh.get_tensor(name)
    return tensor


def bf16_ulp(x: torch.Tensor) -> torch.Tensor:
    """The bf16 ulp at |x| (8 significant bits)."""
    _, exponent = torch.frexp(x.abs().clamp_min(torch.finfo(torch.bfloat16).tiny))
    return torch.ldexp(torch.ones_like(x), exponent - 8)


def compare(a: torch.Tensor, b: torch.Tensor, inputs: list[torch.Tensor]) -> dict[str, float]:
    """|a - b| in bf16 ulps of max(|a|, |b|). Where the inputs cancel (v, c and b nearly summing to zero)
    the result is float32 rounding noise of the inputs' size, and one tool's 0 is another's 2e-10: those
    entries are counted apart (`cancelled`) and held to 2 float32 ulps of the largest input instead."""
    a, b = a.float(), b.float()
    diff = (a - b).abs()
    ulps = diff / bf16_ulp(torch.maximum(a.abs(), b.abs()))
    scale = torch.stack([t.float().abs() for t in inputs]).amax(dim=0)
    cancelled = (ulps > 1) & (diff <= scale * 2.0**-22)
    rest = ulps[~cancelled]
    return {
        "max_ulps": float(rest.max()) if rest.numel() else 0.0,
        "cancelled": int(cancelled.sum()),
        "elements": a.numel(),
    }


def check(ours: Path, mergekit: Path, work: Path, layers: int) -> dict[str, Any]:
    o, m, v = _open_all(ours), _open_all(mergekit), _open_all(work / "vlm")
    inputs = [_open_all(work / name) for name in ("vlm_llm", "code", "base")]
    lang_o = {k for k in o if not k.startswith("visual.")}
    names_equal = lang_o == set(m)
    last = layers - 1
    sample = [
        "model.embed_tokens.weight",
        "model.layers.0.self_attn.q_proj.bias",
        "model.layers.0.self_attn.k_proj.weight",
        f"model.layers.{last}.mlp.down_proj.weight",
        f"model.layers.{last}.post_attention_layernorm.weight",
        "model.norm.weight",
        "lm_head.weight",
    ]
    tensors = {name: compare(_tensor(o, name), _tensor(m, name), [_tensor(i, name) for i in inputs]) for name in sample}
    vision = [k for k in v if k.startswith("visual.")]
    vision_equal = all(
        _tensor(o, k).view(torch.uint8).numpy().tobytes() == _tensor(v, k).view(torch.uint8).numpy().tobytes()
        for k in vision
    )
    return {
        "language_names_equal": names_equal,
        "tensors": tensors,
        "max_bf16_ulps": max(t["max_ulps"] for t in tensors.values()),
        "within_1_ulp": all(t["max_ulps"] <= 1.0 for t in tensors.values()),
        "cancelled": sum(t["cancelled"] for t in tensors.values()),
        "elements": sum(t["elements"] for t in tensors.values()),
        "vision_tensors": len(vision),
        "vision_byte_equal": vision_equal and set(vision) <= set(o),
    }


# --- main ----------------------------------------------------------------------------------------------


def mergekit_yaml(work: Path, compute_dtype: str, out_dtype: str) -> Path:
    config = f"""merge_method: task_arithmetic
base_model: {work / "base"}
models:
  - model: {work / "vlm_llm"}
    parameters:
      weight: {LAM}
  - model: {work / "code"}
    parameters:
      weight: {1 - LAM:.1f}
parameters:
  normalize: false
  lambda: 1.0
dtype: {compute_dtype}
out_dtype: {out_dtype}
"""
    path = work / f"mergekit-{compute_dtype}.yml"
    path.write_text(config)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-gb", type=float, default=1.5)
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="bfloat16")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--json", dest="json_out", type=Path)
    parser.add_argument("--repeat", type=int, default=1, help="Runs of each (interleaved); medians reported.")
    parser.add_argument("--cold", action="store_true", help="Drop the page cache before each run (root).")
    parser.add_argument("--mergekit-venv", type=Path, default=DEFAULT_MERGEKIT_VENV)
    parser.add_argument("--mergekit-version", default="0.1.5")
    parser.add_argument("--mergekit-shard", default="500M", help="mergekit --out-shard-size.")
    parser.add_argument("--profile", action="store_true", help="Also cProfile our merge (hash_inputs off).")
    parser.add_argument("--keep-outputs", action="store_true", help="Keep WORKDIR/runs (a few GB).")
    args = parser.parse_args()
    work = args.workdir.resolve()
    params = generate(work, args.size_gb, args.dtype)
    versions = ensure_mergekit(args.mergekit_venv, args.mergekit_version)
    print(f"mergekit venv: {versions}", flush=True)
    vlm, code, base, vlm_llm = (work / n for n in ("vlm", "code", "base", "vlm_llm"))
    runs, logs = work / "runs", work / "logs"
    runs.mkdir(exist_ok=True)
    logs.mkdir(exist_ok=True)
    nohash = work / "recipe-nohash.yml"
    nohash.write_text(
        f"vlm: {vlm}\ncode: {code}\nbase: {base}\nmethod: task_arithmetic\n"
        f"parameters:\n  lam: {LAM}\nhash_inputs: false\n"
    )
    train = str(VENV_BIN / "viscodex-train")
    mk = str(args.mergekit_venv / "bin" / "mergekit-yaml")
    mk_flags = ["--lazy-unpickle", "--no-copy-tokenizer", "--out-shard-size", args.mergekit_shard]
    ours_inputs, mk_inputs = [vlm, code, base], [vlm_llm, code, base]
    ours_args = ["--vlm", str(vlm), "--code", str(code), "--base", str(base)]
    ours_tail = ["--lam", str(LAM), "--out", str(runs / "ours"), "--force"]
    hash_cache = work / "sha256-cache.json"
    subprocess.run([sys.executable, "-c", PREHASH, str(hash_cache), *map(str, ours_inputs)], check=True)
    tools: dict[str, tuple[list[str], list[Path], Path]] = {
        "floor": (
            [sys.executable, "-S", "-c", FLOOR, str(runs / "floor"), str(vlm), str(code), str(base)],
            ours_inputs,
            runs / "floor",
        ),
        "ours": (  # a first merge of these inputs: every file hashed (the cache is unusable)
            ["env", f"VISCODEX_HASH_CACHE={NO_CACHE}", train, "merge", *ours_args, *ours_tail],
            ours_inputs,
            runs / "ours",
        ),
        "ours (inputs hashed before)": (  # a repeat or sweep merge, or hub downloads: digests known
            [
                *("env", f"VISCODEX_HASH_CACHE={hash_cache}", train, "merge", *ours_args, "--lam", str(LAM)),
                *("--out", str(runs / "ours-known"), "--force"),
            ],
            ours_inputs,
            runs / "ours-known",
        ),
        "ours (hash_inputs: false)": (
            [train, "merge", "--config", str(nohash), "--out", str(runs / "ours-nohash"), "--force"],
            ours_inputs,
            runs / "ours-nohash",
        ),
        "mergekit": (
            [mk, str(mergekit_yaml(work, "float32", args.dtype)), str(runs / "mergekit"), *mk_flags],
            mk_inputs,
            runs / "mergekit",
        ),
        f"mergekit (compute {args.dtype})": (
            [mk, str(mergekit_yaml(work, args.dtype, args.dtype)), str(runs / "mergekit-lowp"), *mk_flags],
            mk_inputs,
            runs / "mergekit-lowp",
        ),
    }
    # Warm up the interpreters and imports (torch, transformers) once, outside the measurements.
    subprocess.run([train, "merge", "--help"], capture_output=True, check=False)
    subprocess.run([mk, "--help"], capture_output=True, check=False)

    results: dict[str, list[dict[str, Any]]] = {k: [] for k in tools}
    cache = "cold (page cache dropped before each run)" if args.cold else "warm (inputs read once before each run)"
    print(f"running ({cache}), {args.repeat} round(s):", flush=True)
    for _ in range(args.repeat):
        for label, (cmd, inputs, out) in tools.items():
            results[label].append(measure(label, cmd, inputs, out, logs, args.cold))
            if out.name not in CHECKED_OUTPUTS:  # 1.5 GB less in the page cache for the runs after it
                shutil.rmtree(out, ignore_errors=True)

    summary = {
        label: {key: statistics.median(r[key] for r in rs if key in r) for key in rs[0]}
        for label, rs in results.items()
    }
    checks = check(runs / "ours", runs / "mergekit", work, params["layers"])
    lowp = check(runs / "ours", runs / "mergekit-lowp", work, params["layers"])
    ours, mkr, fl = summary["ours"], summary["mergekit"], summary["floor"]
    known = summary["ours (inputs hashed before)"]
    ratios = {
        "wall ours/mergekit": ours["wall_s"] / mkr["wall_s"],
        "RSS ours/mergekit": ours["peak_rss_mb"] / mkr["peak_rss_mb"],
        "wall ours/floor": ours["wall_s"] / fl["wall_s"],
        "wall ours/floor, inputs hashed before": known["wall_s"] / fl["wall_s"],
        "wall ours/floor, hash_inputs: false": summary["ours (hash_inputs: false)"]["wall_s"] / fl["wall_s"],
    }
    vision_share = (dir_bytes(vlm) - dir_bytes(vlm_llm)) / dir_bytes(vlm)

    print()
    print(
        f"inputs: {dir_bytes(base) / 1e9:.2f} GB each ({params['layers']} layers, {args.dtype}); "
        f"the VLM's vision tensors are {100 * vision_share:.2f}% of its bytes "
        "(mergekit merges vlm_llm: the same language bytes)"
    )
    print(
        f"caching: {cache}; wall = until the output is fsync'd; median of {args.repeat}; "
        "merge s = our CLI's own report (run_merge, without interpreter start and imports)"
    )
    print(
        f"{'run':<28} {'wall s':>7} {'process s':>9} {'merge s':>7} {'cpu s':>6} {'peak RSS MB':>11} "
        f"{'anon MB':>7} {'file MB':>7}"
    )
    for label, r in summary.items():
        print(
            f"{label:<28} {r['wall_s']:>7.1f} {r['process_s']:>9.1f} "
            f"{(format(r['merge_s'], '.1f') if 'merge_s' in r else '-'):>7} {r['cpu_s']:>6.1f} "
            f"{r['peak_rss_mb']:>11.0f} {r['peak_anon_mb']:>7.0f} {r['peak_file_mb']:>7.0f}"
        )
    print()
    for name, value in ratios.items():
        target = TARGETS.get(name, TARGETS["wall ours/floor"])
        print(f"{name:<38} {value:6.2f}  (target <= {target})  {'ok' if value <= target else 'MISSED'}")
    hash_cost = ours["wall_s"] - summary["ours (hash_inputs: false)"]["wall_s"]
    print(f"hashing inputs (sha256) costs {hash_cost:+.1f} s of wall time")
    print(
        f"check: language names equal {checks['language_names_equal']}; ours vs mergekit within 1 bf16 ulp "
        f"{checks['within_1_ulp']} (max {checks['max_bf16_ulps']:.2f} ulp over {checks['elements']:,} "
        f"entries of {len(checks['tensors'])} tensors; {checks['cancelled']:,} entries where the inputs "
        "cancel differ by float32 rounding only); "
        f"{checks['vision_tensors']} vision tensors byte-equal to the VLM's {checks['vision_byte_equal']}"
    )
    print(
        f"(mergekit computing in {args.dtype} differs from ours by up to {lowp['max_bf16_ulps']:.0f} "
        "bf16 ulp: it rounds each task vector to the input dtype)"
    )
    profile = None
    if args.profile:
        prepare(ours_inputs, runs / "profile", args.cold)
        cmd = [sys.executable, "-c", PROFILE, str(nohash), str(runs / "profile")]
        profile = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO).stdout
        print("\ncProfile of run_merge (hash_inputs: false), by own time:\n" + profile)
    if args.json_out:
        report = {
            "date": datetime.date.today().isoformat(),
            "machine": f"{os.cpu_count()} cores, {platform.machine()}, loadavg {os.getloadavg()}",
            "params": params,
            "cache": cache,
            "mergekit": versions,
            "mergekit_flags": mk_flags,
            "runs": results,
            "summary": summary,
            "ratios": ratios,
            "targets": TARGETS,
            "check": checks,
            "check_mergekit_lowp": lowp,
            "profile": profile,
            "vision_share": vision_share,
        }
        args.json_out.write_text(json.dumps(report, indent=2) + "\n")
    if not args.keep_outputs:
        shutil.rmtree(runs, ignore_errors=True)
    ok = checks["language_names_equal"] and checks["within_1_ulp"] and checks["vision_byte_equal"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
