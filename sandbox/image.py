"""Build the sandbox image without a registry: mmdebstrap from Debian packages, `docker import`, and a
thin `docker build` layer for Playwright, the user and settings.

The tag is a hash of every input (suite, packages, Playwright version, the layer's Dockerfile), so an
image is rebuilt only when one of them changes, and two checkouts with the same recipe share it.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors
import httpx
from pydantic import BaseModel, ConfigDict

from .errors import SandboxError, SandboxUnavailable

Progress = Callable[[str], None]

DEFAULT_PACKAGES = (
    "python3",
    "python3-pip",
    "python3-numpy",
    "python3-pandas",
    "python3-matplotlib",
    "python3-seaborn",
    "python3-pil",
    "python3-pytest",
    "patch",
    "nodejs",
    "chromium",
    "fonts-dejavu-core",
    "fonts-liberation",
    "fonts-noto-core",
    "fonts-noto-color-emoji",
)

WEB_RUNTIMES: tuple[tuple[str, str, str, str], ...] = (
    # (file in /opt/viscodex/runtimes, npm package, version, file in the package's tarball)
    ("tailwind.js", "@tailwindcss/browser", "4.3.4", "package/dist/index.global.js"),
    ("react.js", "react", "18.3.1", "package/umd/react.production.min.js"),
    ("react-dom.js", "react-dom", "18.3.1", "package/umd/react-dom.production.min.js"),
    ("babel.js", "@babel/standalone", "7.28.4", "package/babel.min.js"),
)
"""Browser runtimes for UI stacks other than plain HTML, baked in because pages render with the
network off (React 18: the last release that ships UMD builds)."""

LAYER_TEMPLATE = """\
FROM {base}
COPY wheels /tmp/wheels
COPY runtimes /opt/viscodex/runtimes
RUN python3 -m pip install --break-system-packages --no-index --no-cache-dir \\
        --find-links /tmp/wheels playwright=={playwright} \\
 && rm -rf /tmp/wheels \\
 && mkdir -p /work /opt/viscodex/mpl && chmod 1777 /work \\
 && MPLCONFIGDIR=/opt/viscodex/mpl python3 -c "import matplotlib.pyplot" \\
 && chmod -R a+rX /opt/viscodex
ENV HOME=/tmp MPLCONFIGDIR=/tmp/.mpl PYTHONDONTWRITEBYTECODE=1 LANG=C.UTF-8 \\
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
USER 65534:65534
WORKDIR /work
LABEL org.viscodex.recipe={recipe_hash}
"""

REGISTRY_BASE_TEMPLATE = """\
FROM {registry_base}
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
        {packages} && rm -rf /var/lib/apt/lists/*
"""


class ImageRecipe(BaseModel):
    """Everything that decides the image's content. Change a field and the tag changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    repository: str = "viscodex-sandbox"
    suite: str = "bookworm"
    mirror: str = "http://deb.debian.org/debian"
    packages: tuple[str, ...] = DEFAULT_PACKAGES
    playwright: str = "1.65.2"
    registry_base: str | None = None
    """e.g. ``debian:bookworm``: build the base with `docker build` from a registry instead."""
    web_runtimes: tuple[tuple[str, str, str, str], ...] = WEB_RUNTIMES
    npm_registry: str = "https://registry.npmjs.org"

    def base_hash(self) -> str:
        data = {
            "suite": self.suite,
            "packages": sorted(self.packages),
            "registry_base": self.registry_base,
            "arch": platform.machine(),
        }
        return _digest(data)

    def recipe_hash(self) -> str:
        return _digest(
            {
                "base": self.base_hash(),
                "playwright": self.playwright,
                "layer": LAYER_TEMPLATE,
                "runtimes": [list(r) for r in self.web_runtimes],
            }
        )

    @property
    def base_tag(self) -> str:
        return f"{self.repository}-base:{self.base_hash()}"

    @property
    def tag(self) -> str:
        return f"{self.repository}:{self.recipe_hash()}"

    def layer_dockerfile(self) -> str:
        return LAYER_TEMPLATE.format(base=self.base_tag, playwright=self.playwright, recipe_hash=self.recipe_hash())

    def registry_dockerfile(self) -> str:
        if not self.registry_base:
            raise ValueError("registry_dockerfile needs registry_base")
        return REGISTRY_BASE_TEMPLATE.format(registry_base=self.registry_base, packages=" ".join(sorted(self.packages)))


def _digest(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def docker_client() -> docker.DockerClient:
    """A client for the local daemon, or SandboxUnavailable saying how to start one."""
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except docker.errors.DockerException as exc:
        raise SandboxUnavailable(
            "no Docker daemon answers; start it (e.g. `dockerd &` as root, or `systemctl start docker`)"
            f" and check DOCKER_HOST ({exc.__class__.__name__})"
        ) from exc
    return client


def image_exists(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def ensure_image(
    recipe: ImageRecipe | None = None,
    *,
    client: docker.DockerClient | None = None,
    progress: Progress = lambda _msg: None,
    force: bool = False,
) -> str:
    """Return the tag of the sandbox image, building what is missing. Idempotent."""
    recipe = recipe or ImageRecipe()
    client = client or docker_client()
    if not force and image_exists(client, recipe.tag):
        progress(f"image {recipe.tag} is up to date")
        return recipe.tag
    if force or not image_exists(client, recipe.base_tag):
        _build_base(client, recipe, progress)
    else:
        progress(f"base image {recipe.base_tag} is up to date")
    _build_layer(client, recipe, progress)
    progress(f"built {recipe.tag}")
    return recipe.tag


def _run_streaming(cmd: list[str], progress: Progress) -> None:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    assert proc.stdout is not None
    tail: deque[str] = deque(maxlen=20)
    for line in proc.stdout:
        line = line.rstrip()
        tail.append(line)
        if line:
            progress(line)
    if proc.wait() != 0:
        raise SandboxError(f"{cmd[0]} failed (exit {proc.returncode}):\n" + "\n".join(tail))


def _build_base(client: docker.DockerClient, recipe: ImageRecipe, progress: Progress) -> None:
    if recipe.registry_base:
        progress(f"building base {recipe.base_tag} from {recipe.registry_base}")
        _docker_build(client, recipe.registry_dockerfile(), {}, recipe.base_tag, progress)
        return
    if shutil.which("mmdebstrap") is None:
        raise SandboxUnavailable("mmdebstrap is not installed; `apt-get install mmdebstrap` (or set registry_base)")
    with tempfile.TemporaryDirectory(prefix="viscodex-image-", dir="/var/tmp") as tmp:
        tar = Path(tmp) / "rootfs.tar"
        progress(f"mmdebstrap {recipe.suite}: {len(recipe.packages)} packages (about 2 minutes)")
        _run_streaming(
            [
                "mmdebstrap",
                "--variant=apt",
                "--include=" + ",".join(recipe.packages),
                recipe.suite,
                str(tar),
                recipe.mirror,
            ],
            progress,
        )
        size_mb = tar.stat().st_size / 1e6
        progress(f"docker import {size_mb:.0f} MB as {recipe.base_tag}")
        repo, _, tag = recipe.base_tag.partition(":")
        with tar.open("rb") as fh:
            # A generator, not the file: requests then really sends chunks. Given a file, it sends a
            # plain body under docker-py's "chunked" header and the daemon rejects it.
            chunks = iter(lambda: fh.read(1 << 20), b"")
            client.api.import_image_from_stream(chunks, repository=repo, tag=tag)
    if not image_exists(client, recipe.base_tag):
        raise SandboxError(f"docker import did not create {recipe.base_tag}")


def _download_wheels(recipe: ImageRecipe, dest: Path, progress: Progress) -> None:
    """Fetch Playwright for the image's Python (Debian's 3.11), whatever Python the host runs."""
    arch = platform.machine()
    platforms = [f"manylinux_2_{v}_{arch}" for v in (36, 34, 31, 28, 24, 17)]
    platforms += [f"manylinux2014_{arch}", f"manylinux1_{arch}", "any"]
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:"]
    cmd += ["--python-version", "3.11", "--implementation", "cp"]
    cmd += ["--abi", "cp311", "--abi", "abi3", "--abi", "none"]
    for plat in platforms:
        cmd += ["--platform", plat]
    cmd += ["-d", str(dest), f"playwright=={recipe.playwright}"]
    progress(f"downloading playwright=={recipe.playwright} wheels for the image")
    _run_streaming(cmd, progress)


def _download_runtimes(recipe: ImageRecipe, progress: Progress) -> dict[str, bytes]:
    """Each runtime's one file, from its npm tarball (no npm needed, only the registry)."""
    files: dict[str, bytes] = {}
    for name, package, version, member in recipe.web_runtimes:
        url = f"{recipe.npm_registry}/{package}/-/{package.split('/')[-1]}-{version}.tgz"
        progress(f"downloading {package}@{version}")
        try:
            response = httpx.get(url, timeout=120, follow_redirects=True)
            response.raise_for_status()
            with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as tar:
                extracted = tar.extractfile(member)
                if extracted is None:
                    raise SandboxError(f"{member} is not a file in {url}")
                files[f"runtimes/{name}"] = extracted.read()
        except (httpx.HTTPError, tarfile.TarError, KeyError) as exc:
            raise SandboxError(f"cannot get {package}@{version} from {url}: {exc}") from None
    return files


def _build_layer(client: docker.DockerClient, recipe: ImageRecipe, progress: Progress) -> None:
    with tempfile.TemporaryDirectory(prefix="viscodex-wheels-") as tmp:
        wheels = Path(tmp)
        _download_wheels(recipe, wheels, progress)
        files = {f"wheels/{p.name}": p.read_bytes() for p in sorted(wheels.glob("*.whl"))}
    files.update(_download_runtimes(recipe, progress))
    progress(f"building layer {recipe.tag}")
    _docker_build(client, recipe.layer_dockerfile(), files, recipe.tag, progress)


def _docker_build(
    client: docker.DockerClient,
    dockerfile: str,
    files: dict[str, bytes],
    tag: str,
    progress: Progress,
) -> None:
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in {"Dockerfile": dockerfile.encode(), **files}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    for line in _build_log(client, context, tag):
        progress(line)


def _build_log(client: docker.DockerClient, context: io.BytesIO, tag: str) -> Iterator[str]:
    stream = client.api.build(fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True, decode=True)
    for chunk in stream:
        if "error" in chunk:
            raise SandboxError(f"docker build of {tag} failed: {chunk['error'].strip()}")
        text = str(chunk.get("stream", "")).strip()
        if text:
            yield text
