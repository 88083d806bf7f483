"""Sandbox image build: from nothing, and after a change to the Python packages only.

    .venv/bin/python bench/image_build.py [--package-set default] [--keep]

"From nothing": images under a repository name of their own (so nothing of the regular images is
reused), an empty wheel cache and pip's HTTP cache off, so every Debian package and wheel is
downloaded. Then the incremental case: the same set plus one requirement on top, which must rebuild
only the python stage and the thin layer. Prints each build's time and the image sizes; the issue's
target is a full build under 5 minutes on 2 cores. The images are removed afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from viscodex.sandbox import ImageRecipe, ensure_image
from viscodex.sandbox.image import docker_client

TARGET_S = 300.0


def _size_gb(client: object, tag: str) -> float:
    return float(client.images.get(tag).attrs["Size"]) / 1e9  # type: ignore[attr-defined]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--package-set", default="default")
    parser.add_argument("--keep", action="store_true", help="keep the bench images")
    args = parser.parse_args()
    client = docker_client()
    repository = f"viscodex-bench-{os.getpid()}"
    full = ImageRecipe(repository=repository, package_set=args.package_set)
    extra = full.model_copy(update={"extra_requirements": "tabulate\n"})
    stages: list[tuple[str, float]] = []
    last = [time.perf_counter()]

    def progress(message: str) -> None:
        if message.startswith(("building python stage", "building layer", "docker import", "wheels for")):
            now = time.perf_counter()
            stages.append((message[:70], now - last[0]))
            last[0] = now

    with tempfile.TemporaryDirectory(prefix="viscodex-wheel-cache-") as cache:
        os.environ["VISCODEX_WHEEL_CACHE"] = cache
        os.environ["PIP_NO_CACHE_DIR"] = "1"
        try:
            start = time.perf_counter()
            ensure_image(full, client=client, progress=progress)
            full_s = time.perf_counter() - start
            start = time.perf_counter()
            ensure_image(extra, client=client)
            incremental_s = time.perf_counter() - start
            sizes = {name: _size_gb(client, tag) for name, tag in (("base", full.base_tag), ("sandbox", full.tag))}
        finally:
            if not args.keep:
                for tag in (extra.tag, extra.python_tag, full.tag, full.python_tag, full.base_tag):
                    try:
                        client.images.remove(tag, force=True)
                    except Exception:
                        pass

    print(f"package set {args.package_set!r}, cpus {os.cpu_count()}")
    print("  time until each step began (s):")
    for message, seconds in stages:
        print(f"    +{seconds:6.1f}  {message}")
    verdict = "ok" if full_s <= TARGET_S else "MISSED"
    print(f"  build from nothing          {full_s:7.1f} s  (target <= {TARGET_S:.0f} s)  {verdict}")
    print(f"  requirements on top (python stage + layer only) {incremental_s:7.1f} s")
    print(f"  image size: base {sizes['base']:.2f} GB, sandbox {sizes['sandbox']:.2f} GB")
    return 0 if full_s <= TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
