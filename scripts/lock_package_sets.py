"""Compile the sandbox's package sets (``sandbox/package_sets/NAME.in``) into hash-pinned lock files.

    python scripts/lock_package_sets.py [NAME ...]      # default: every set

Uses uv's resolver (a dev dependency) for the image's interpreter and platform (CPython 3.11, Linux,
wheels only), whatever Python runs this script, so the lock installs offline in the image. Run it after
changing a ``.in`` file and commit both files: the lock, not the ``.in``, decides the image.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

SETS_DIR = Path(__file__).resolve().parent.parent / "sandbox" / "package_sets"
IMAGE_PYTHON = "3.11"
IMAGE_PLATFORM = "x86_64-manylinux_2_28"


def lock(name: str) -> None:
    source = SETS_DIR / f"{name}.in"
    if not source.is_file():
        sys.exit(f"lock_package_sets: no {source}")
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    cmd = [uv, "pip", "compile", source.name, "-o", f"{name}.lock", "--quiet"]
    cmd += ["--python-version", IMAGE_PYTHON, "--python-platform", IMAGE_PLATFORM, "--only-binary", ":all:"]
    cmd += ["--generate-hashes", "--custom-compile-command", f"python scripts/lock_package_sets.py {name}"]
    try:
        subprocess.run(cmd, cwd=SETS_DIR, check=True)
    except FileNotFoundError:
        sys.exit("lock_package_sets: uv is not installed (pip install uv)")
    except subprocess.CalledProcessError as exc:
        sys.exit(f"lock_package_sets: uv failed for {name} (exit {exc.returncode})")
    print(f"wrote {SETS_DIR / f'{name}.lock'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="sets to lock (default: all)")
    args = parser.parse_args()
    for name in args.names or sorted(p.stem for p in SETS_DIR.glob("*.in")):
        lock(name)


if __name__ == "__main__":
    main()
