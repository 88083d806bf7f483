"""The VisCodex merge on the tiny models: exact against an in-memory reference, vision copied byte for
byte, every supported layout and policy, and every bad input refused before anything is written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import get_args

import pytest
import torch
from pydantic import ValidationError
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from viscodex.training.merge.engine import MergeError, run_merge
from viscodex.training.merge.methods import METHOD_NAMES, METHODS, BlockContext
from viscodex.training.merge.recipe import MergeParameters, MergeRecipe

TRAIN = str(Path(sys.executable).parent / "viscodex-train")


def load_dir(path: Path) -> dict[str, torch.Tensor]:
    tensors: dict[str, torch.Tensor] = {}
    for file in sorted(path.glob("*.safetensors")):
        tensors.update(load_file(file))
    return tensors


def variant(
    src: Path,
    dst: Path,
    edit: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None,
    config: Callable[[dict[str, object]], None] | None = None,
) -> Path:
    """A copy of a checkpoint with its tensors and/or config changed."""
    shutil.copytree(src, dst)
    if edit is not None:
        tensors = edit(load_dir(src))
        for file in dst.glob("*.safetensors"):
            file.unlink()
        packed = {k: v.contiguous() for k, v in tensors.items()}
        save_file(packed, dst / "model.safetensors", metadata={"format": "pt"})
    if config is not None:
        data = json.loads((dst / "config.json").read_text())
        config(data)
        (dst / "config.json").write_text(json.dumps(data))
    return dst


def merge(models: dict[str, Path], out: Path, **recipe: object) -> Path:
    params = recipe.pop("parameters", MergeParameters())
    r = MergeRecipe(
        vlm=str(models["vlm"]),
        code=str(models["code"]),
        base=str(models["base"]),
        parameters=params,  # type: ignore[arg-type]
        **recipe,  # type: ignore[arg-type]
    )
    run_merge(r, models["vlm"], models["code"], models["base"], out)
    return out


def reference(vlm: Path, code: Path, base: Path, lam: float) -> dict[str, torch.Tensor]:
    """The paper's rule, whole tensors in memory, float32, cast back to each VLM tensor's dtype."""
    v, c, b = load_dir(vlm), load_dir(code), load_dir(base)
    out = {}
    for name, tensor in v.items():
        if name.startswith("visual."):
            out[name] = tensor
            continue
        vf, cf, bf = tensor.float(), c[name].float(), b[name].float()
        out[name] = (lam * vf + (1 - lam) * cf + (1 - lam - (1 - lam)) * bf).to(tensor.dtype)
    return out


@pytest.mark.parametrize("lam", [0.7, 0.85, 0.3])
def test_fp32_equals_reference_exactly(tiny_models: dict[str, Path], tmp_path: Path, lam: float) -> None:
    out = merge(tiny_models, tmp_path / "m", parameters=MergeParameters(lam=lam))
    merged, ref = load_dir(out), reference(tiny_models["vlm"], tiny_models["code"], tiny_models["base"], lam)
    assert merged.keys() == ref.keys()
    for name in ref:
        assert torch.equal(merged[name], ref[name]), name
        assert merged[name].dtype == torch.float32


def test_agrees_with_the_unexpanded_formula(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    out = load_dir(merge(tiny_models, tmp_path / "m"))
    v, c, b = (load_dir(tiny_models[k]) for k in ("vlm", "code", "base"))
    for name, tensor in out.items():
        if not name.startswith("visual."):
            literal = b[name] + 0.7 * (v[name] - b[name]) + (1 - 0.7) * (c[name] - b[name])
            torch.testing.assert_close(tensor, literal, rtol=1e-6, atol=1e-7)


def test_bf16_within_rounding(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    def to_bf16(t: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {k: v.to(torch.bfloat16) for k, v in t.items()}

    models = {k: variant(p, tmp_path / k, to_bf16) for k, p in tiny_models.items()}
    merged = load_dir(merge(models, tmp_path / "m"))
    ref = reference(models["vlm"], models["code"], models["base"], 0.7)
    for name in ref:
        assert merged[name].dtype == torch.bfloat16
        torch.testing.assert_close(merged[name].float(), ref[name].float(), rtol=2**-7, atol=1e-6)


def test_lam_one_gives_the_vlm_and_zero_the_code(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    v, c = load_dir(tiny_models["vlm"]), load_dir(tiny_models["code"])
    one = load_dir(merge(tiny_models, tmp_path / "one", parameters=MergeParameters(lam=1.0)))
    zero = load_dir(merge(tiny_models, tmp_path / "zero", parameters=MergeParameters(lam=0.0)))
    for name in v:
        assert torch.equal(one[name], v[name]), name
        if not name.startswith("visual."):
            assert torch.equal(zero[name], c[name]), name


@pytest.mark.parametrize("method", sorted(METHODS))
def test_vision_is_byte_equal_for_every_method(tiny_models: dict[str, Path], tmp_path: Path, method: str) -> None:
    out = merge(tiny_models, tmp_path / "m", method=method, parameters=MergeParameters(density=0.6))
    with (
        safe_open(str(out / "model.safetensors"), "pt") as merged,
        safe_open(str(tiny_models["vlm"] / "model.safetensors"), "pt") as vlm,
    ):
        vision = [k for k in vlm.keys() if k.startswith("visual.")]
        assert vision
        for name in vision:
            a, b = merged.get_tensor(name), vlm.get_tensor(name)
            assert a.dtype == b.dtype and a.numpy().tobytes() == b.numpy().tobytes(), name


def test_output_is_a_loadable_model_with_card(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    from transformers import AutoModelForImageTextToText

    out = merge(tiny_models, tmp_path / "m")
    for name in ("config.json", "tokenizer.json", "chat_template.jinja", "preprocessor_config.json"):
        assert (out / name).read_bytes() == (tiny_models["vlm"] / name).read_bytes()
    card = (out / "README.md").read_text()
    assert "task_arithmetic" in card and "sha256" in card.lower()
    assert len([line for line in card.splitlines() if "`model.safetensors`" in line]) == 3
    model = AutoModelForImageTextToText.from_pretrained(str(out))
    ids = torch.tensor([[1, 2, 3, 4]])
    assert model.generate(input_ids=ids, max_new_tokens=4, do_sample=False).shape == (1, 8)
    recipe = MergeRecipe.load(out / "viscodex_merge.yaml")
    assert recipe.parameters.lam == 0.7


def test_sharded_output_has_an_index(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    out = merge(tiny_models, tmp_path / "m", shard_size_mb=1)
    shards = sorted(out.glob("model-*.safetensors"))
    assert len(shards) >= 3
    index = json.loads((out / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"].values()) == {s.name for s in shards}
    single = load_dir(merge(tiny_models, tmp_path / "single"))
    sharded = load_dir(out)
    assert single.keys() == sharded.keys()
    assert all(torch.equal(single[k], sharded[k]) for k in single)


def shard(src: Path, dst: Path, count: int, rotate: int) -> Path:
    """A copy of a checkpoint as the hub ships 7B models: ``count`` shards named
    model-0000i-of-0000n.safetensors and a model.safetensors.index.json naming each tensor's shard.
    ``rotate`` shifts which tensor lands in which shard, so the inputs of one merge split differently."""
    tensors = load_dir(src)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.safetensors", "*.index.json"))
    names = sorted(tensors)
    files = [f"model-{i + 1:05d}-of-{count:05d}.safetensors" for i in range(count)]
    weight_map = {name: files[(i + rotate) % count] for i, name in enumerate(names)}
    for file in files:
        part = {name: tensors[name].contiguous() for name in names if weight_map[name] == file}
        save_file(part, dst / file, metadata={"format": "pt"})
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (dst / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    return dst


def test_sharded_inputs_with_an_index_merge_like_single_files(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    """The real preset's inputs come as several shards and an index, each model split its own way."""
    sharded = {
        key: shard(tiny_models[key], tmp_path / key, count, rotate)
        for key, count, rotate in (("vlm", 4, 0), ("code", 3, 1), ("base", 2, 1))
    }
    assert all(not (folder / "model.safetensors").exists() for folder in sharded.values())
    # A leftover of another layout that the index does not name: the index, not the folder, says what to read.
    first = sorted(load_dir(sharded["vlm"]))[0]
    save_file({first: torch.zeros(1)}, sharded["vlm"] / "model-00001-of-00002.safetensors")
    out = merge(sharded, tmp_path / "m", parameters=MergeParameters(lam=0.7))
    merged = load_dir(out)
    ref = reference(tiny_models["vlm"], tiny_models["code"], tiny_models["base"], 0.7)
    assert merged.keys() == ref.keys()
    assert all(torch.equal(merged[name], ref[name]) for name in ref)
    single = load_dir(merge(tiny_models, tmp_path / "single"))
    assert all(torch.equal(single[name], merged[name]) for name in single)
    card = (out / "README.md").read_text()
    for key, folder in sharded.items():
        for file in [*sorted(folder.glob("*.safetensors")), folder / "model.safetensors.index.json"]:
            assert f"`{file.name}`" in card, (key, file.name)


def test_transformers_5_layout(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    def relayout(t: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = {}
        for name, tensor in t.items():
            if name.startswith("visual."):
                out["model." + name] = tensor
            elif name.startswith("model."):
                out["model.language_model." + name.removeprefix("model.")] = tensor
            else:
                out[name] = tensor
        return out

    models = dict(tiny_models, vlm=variant(tiny_models["vlm"], tmp_path / "vlm5", relayout))
    new = load_dir(merge(models, tmp_path / "m5"))
    old = relayout(load_dir(merge(tiny_models, tmp_path / "m")))
    assert new.keys() == old.keys()
    assert all(torch.equal(new[k], old[k]) for k in new)


def test_tied_code_embeddings_stand_in_for_lm_head(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    def untie(t: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {k: v for k, v in t.items() if k != "lm_head.weight"}

    code = variant(tiny_models["code"], tmp_path / "code", untie)
    merged = load_dir(merge(dict(tiny_models, code=code), tmp_path / "m"))
    v, b = load_dir(tiny_models["vlm"]), load_dir(tiny_models["base"])
    emb = load_dir(code)["model.embed_tokens.weight"]
    expected = 0.7 * v["lm_head.weight"] + (1 - 0.7) * emb + (1 - 0.7 - (1 - 0.7)) * b["lm_head.weight"]
    assert torch.equal(merged["lm_head.weight"], expected)


def test_smaller_vocabulary_rows_come_from_the_vlm(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    def shrink(t: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {
            k: (v[:1000].clone() if k in ("lm_head.weight", "model.embed_tokens.weight") else v) for k, v in t.items()
        }

    code = variant(tiny_models["code"], tmp_path / "code", shrink)
    merged = load_dir(merge(dict(tiny_models, code=code), tmp_path / "m"))
    v = load_dir(tiny_models["vlm"])
    for name in ("lm_head.weight", "model.embed_tokens.weight"):
        assert merged[name].shape == v[name].shape
        assert torch.equal(merged[name][1000:], v[name][1000:])
        assert not torch.equal(merged[name][:1000], v[name][:1000])


def test_dare_and_ties_are_seeded_and_reduce_to_task_arithmetic(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    def run(name: str, method: str, **params: object) -> dict[str, torch.Tensor]:
        return load_dir(merge(tiny_models, tmp_path / name, method=method, parameters=MergeParameters(**params)))  # type: ignore[arg-type]

    a, b, c = (
        run("a", "dare", density=0.5, seed=1),
        run("b", "dare", density=0.5, seed=1),
        run("c", "dare", density=0.5, seed=2),
    )
    name = "model.layers.0.mlp.up_proj.weight"
    assert torch.equal(a[name], b[name]) and not torch.equal(a[name], c[name])
    full = run("full", "dare", density=1.0)
    ta = run("ta", "task_arithmetic")
    ref = reference(tiny_models["vlm"], tiny_models["code"], tiny_models["base"], 0.7)
    torch.testing.assert_close(full[name], ta[name], rtol=1e-6, atol=1e-7)
    assert torch.equal(ta[name], ref[name])
    ties = run("ties", "ties", density=0.3)
    assert not torch.equal(ties[name], ta[name])


def test_ties_matches_a_reference_on_one_tensor() -> None:
    gen = torch.Generator().manual_seed(0)
    base, v, c = (torch.randn(64, 32, generator=gen) for _ in range(3))
    method = METHODS["ties"](MergeParameters(density=0.25))
    out = method.merge(base, [v, c], (0.7, 0.3), BlockContext("t", 0, 0))
    # Reference: trim each task vector to its top 25 % by magnitude, elect signs by weighted sum,
    # average the agreeing weighted entries.
    deltas = []
    for m in (v, c):
        d = m - base
        k = int(d.numel() * 0.25)
        thresh = d.abs().flatten().sort(descending=True).values[k - 1]
        deltas.append(torch.where(d.abs() >= thresh, d, torch.zeros_like(d)))
    elected = torch.sign(0.7 * deltas[0] + 0.3 * deltas[1])
    num = torch.zeros_like(base)
    den = torch.zeros_like(base)
    for w, d in zip((0.7, 0.3), deltas, strict=True):
        agree = (torch.sign(d) == elected) & (d != 0)
        num += w * d * agree
        den += w * agree
    expected = base + torch.where(den != 0, num / den.clamp_min(1e-12), torch.zeros_like(num))
    torch.testing.assert_close(out, expected)


def _assert_nothing_written(out: Path) -> None:
    assert not out.exists()
    assert not list(out.parent.glob(f"{out.name}.partial-*"))


BAD_INPUTS = {
    "another architecture": ("code", None, lambda cfg: cfg.update(model_type="llama"), "llama"),
    "missing tensor": (
        "code",
        lambda t: {k: v for k, v in t.items() if k != "model.layers.1.mlp.down_proj.weight"},
        None,
        "model.layers.1.mlp.down_proj.weight",
    ),
    "shape mismatch": (
        "base",
        lambda t: {k: (v[:, :100] if k == "model.layers.0.mlp.gate_proj.weight" else v) for k, v in t.items()},
        None,
        "shape mismatch for model.layers.0.mlp.gate_proj.weight",
    ),
    "extra tensor": (
        "code",
        lambda t: {**t, "model.layers.9.mlp.up_proj.weight": torch.zeros(2, 2)},
        None,
        "model.layers.9.mlp.up_proj.weight",
    ),
    "not a VLM": (
        "vlm",
        lambda t: {k: v for k, v in t.items() if not k.startswith("visual.")},
        None,
        "vision",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_inputs_fail_before_writing(tiny_models: dict[str, Path], tmp_path: Path, case: str) -> None:
    which, edit, config, expected = BAD_INPUTS[case]
    models = dict(tiny_models)
    models[which] = variant(tiny_models[which], tmp_path / which, edit, config)  # type: ignore[arg-type]
    out = tmp_path / "out"
    with pytest.raises(MergeError) as info:
        merge(models, out)
    assert expected in str(info.value)
    _assert_nothing_written(out)


def test_corrupt_shard_fails_before_writing(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    code = variant(tiny_models["code"], tmp_path / "code")
    shard = code / "model.safetensors"
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    out = tmp_path / "out"
    with pytest.raises(MergeError) as info:
        merge(dict(tiny_models, code=code), out)
    assert str(shard) in str(info.value) and "truncated" in str(info.value)
    _assert_nothing_written(out)


def input_args(models: dict[str, Path]) -> list[str]:
    return ["--vlm", str(models["vlm"]), "--code", str(models["code"]), "--base", str(models["base"])]


def test_cli_merge_flags_config_and_refusals(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    args = input_args(tiny_models)
    out = tmp_path / "cli"
    proc = subprocess.run([TRAIN, "merge", *args, "--lam", "0.7", "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    ref = reference(tiny_models["vlm"], tiny_models["code"], tiny_models["base"], 0.7)
    merged = load_dir(out)
    assert all(torch.equal(merged[k], ref[k]) for k in ref)
    again = subprocess.run([TRAIN, "merge", *args, "--out", str(out)], capture_output=True, text=True)
    assert again.returncode == 2 and "--force" in again.stderr and "Traceback" not in again.stderr
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text((out / "viscodex_merge.yaml").read_text())
    proc = subprocess.run(
        [TRAIN, "merge", "--config", str(recipe), "--lam", "1.0", "--out", str(tmp_path / "cfg")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    v = load_dir(tiny_models["vlm"])
    assert all(torch.equal(load_dir(tmp_path / "cfg")[k], v[k]) for k in v)


def test_method_names_come_from_the_registry(tmp_path: Path) -> None:
    """The registry, the recipe's type and the CLI's choices name the same methods (written out here)."""
    expected = ("task_arithmetic", "linear", "ties", "dare")
    assert tuple(METHODS) == METHOD_NAMES == expected
    assert all(cls.name == name for name, cls in METHODS.items())
    assert get_args(MergeRecipe.model_fields["method"].annotation) == expected
    with pytest.raises(ValidationError, match="'task_arithmetic', 'linear', 'ties' or 'dare'"):
        MergeRecipe(vlm="a", code="b", base="c", method="slerp")  # type: ignore[arg-type]
    proc = subprocess.run(
        [TRAIN, "merge", "--vlm", "a", "--code", "b", "--base", "c", "--method", "slerp", "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "'task_arithmetic', 'linear', 'ties', 'dare'" in proc.stderr, proc.stderr
    wide = {**os.environ, "COLUMNS": "300"}
    help_text = subprocess.run([TRAIN, "merge", "--help"], capture_output=True, text=True, env=wide).stdout
    assert "<task_arithmetic|linear|ties|dare>" in help_text, help_text
    assert not (tmp_path / "o").exists()


def test_cli_sweep_writes_one_merge_per_lam(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    args = input_args(tiny_models)
    proc = subprocess.run(
        [TRAIN, "merge-sweep", *args, "--lams", "0.7,0.9", "--out", str(tmp_path / "sweep")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "sweep").iterdir()) == ["lam-0.70", "lam-0.90"]


def test_cli_preset_offline_says_why(tmp_path: Path) -> None:
    proc = subprocess.run(
        [TRAIN, "merge", "--preset", "viscodex-8b", "--out", str(tmp_path / "p")],
        capture_output=True,
        text=True,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 3  # the hub is a service that is not there, not a mistake in the input
    assert "Qwen/Qwen2.5-VL-7B-Instruct" in proc.stderr and "HF_HUB_OFFLINE" in proc.stderr
    assert proc.stderr.count("\n") == 1


def _special_bf16(count: int, seed: int) -> torch.Tensor:
    """Random bfloat16 plus the values rounding gets wrong first: ties, subnormals, infinities, NaNs
    (with payloads), signed zeros, the largest finite values."""
    gen = torch.Generator().manual_seed(seed)
    bits = torch.randint(0, 1 << 16, (count,), generator=gen, dtype=torch.int32).to(torch.int16)
    special = torch.tensor(
        [0x0000, 0x8000, 0x0001, 0x8001, 0x007F, 0x7F7F, 0xFF7F, 0x7F80, 0xFF80, 0x7FC0, 0x7F81, 0xFFFF],
        dtype=torch.int32,
    ).to(torch.int16)
    bits[: special.numel()] = special
    return bits.view(torch.bfloat16)


@pytest.mark.parametrize("method", ["task_arithmetic", "linear"])
@pytest.mark.parametrize("out_dtype", ["BF16", "F16", "F32"])
def test_numpy_kernel_is_bit_identical_to_the_torch_method(method: str, out_dtype: str) -> None:
    """The engine computes weighted sums with numpy; its bits must be those of the torch ``merge``
    (the readable definition), including NaN, inf, subnormal and rounding ties."""
    import numpy as np

    from viscodex.training.merge.kernels import STORAGE, LinearKernel
    from viscodex.training.merge.torch_bridge import TORCH_DTYPES

    vlm, code, base = (_special_bf16(70_001, seed) for seed in (1, 2, 3))
    impl = METHODS[method](MergeParameters(lam=0.7, scale=1.0))
    for weights in [(0.7, 0.3), (0.85, 0.15), (1.0, 0.0), (0.6, 0.2)]:
        expected = impl.merge(base.float(), [vlm.float(), code.float()], weights, BlockContext("t", 0, 0))
        expected = expected.to(TORCH_DTYPES[out_dtype])
        terms = impl.linear_terms(weights)
        assert terms is not None
        inputs = [vlm, code] + ([base] if terms[1] != 0.0 else [])
        raw = [t.view(torch.int16).numpy().view(STORAGE["BF16"]) for t in inputs]
        coefficients = list(terms[0]) + ([terms[1]] if terms[1] != 0.0 else [])
        out = np.empty(vlm.numel(), STORAGE[out_dtype])
        got = LinearKernel(1024).combine(raw, coefficients, out)
        nan = expected.isnan().numpy()
        assert nan.any() and not nan.all()
        assert np.array_equal(np.isnan(got.astype(np.float32)), nan), weights
        # NaN payloads are not compared: torch itself writes 0xFFFF from its vector loop, 0x7FC0 from its tail
        want = expected.view(torch.int16).numpy() if out_dtype == "BF16" else expected.numpy()
        assert np.array_equal(got.view(want.dtype)[~nan], want[~nan]), weights


def test_weighted_sum_merges_never_import_torch(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    """Importing torch costs about 2 s, as long as a 1.5 GB merge's whole loop: weighted-sum merges
    (the paper's) must not pay it; TIES and DARE do."""
    script = (
        "import sys\n"
        "from viscodex.training.cli import app\n"
        "try:\n"
        "    app(sys.argv[1:])\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "print('torch' in sys.modules)\n"
    )
    for method, imports_torch in (("task_arithmetic", False), ("linear", False), ("dare", True)):
        args = ["merge", *input_args(tiny_models), "--method", method, "--out", str(tmp_path / method)]
        done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().splitlines()[-1] == str(imports_torch), (method, done.stdout)
