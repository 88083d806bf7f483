"""Build the sandbox image without a registry, in three stages that each have their own tag:

1. base: ``mmdebstrap`` from Debian packages (Python, Node, chromium, fonts) and ``docker import``;
2. python: a package set's locked wheels (see ``package_sets.py``), fetched on the host into a wheel
   cache and installed with ``--require-hashes``, plus a user's requirements on top;
3. the sandbox: browser runtimes, the user and settings, labelled with the versions installed.

Each tag is a hash of that stage's inputs and the stage below, so a changed lock rebuilds only the
python stage and the thin layer above it, the same lock always gives the same tag, and a package set
selected once is built once.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import docker.errors
import httpx
from pydantic import BaseModel, ConfigDict, Field

from .errors import SandboxError, SandboxUnavailable
from .package_sets import DEFAULT_SET, PackageSet, load_set
from .versions import LABEL_VERSIONS, PROBE, ImageVersions

Progress = Callable[[str], None]

WEB_FONT_PACKAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    # (Debian package, the Google Fonts families it installs that Design2Code's pages name)
    ("fonts-open-sans", ("Open Sans",)),
    ("fonts-roboto-unhinted", ("Roboto", "Roboto Condensed")),
    ("fonts-roboto-slab", ("Roboto Slab",)),
    ("fonts-lato", ("Lato",)),
    ("fonts-ebgaramond", ("EB Garamond",)),
    ("fonts-lobster", ("Lobster",)),
    ("fonts-lobstertwo", ("Lobster Two",)),
    ("fonts-paratype", ("PT Sans", "PT Serif")),
    ("fonts-linuxlibertine", ("Linux Libertine",)),
    ("fonts-cabin", ("Cabin",)),
    ("fonts-cabinsketch", ("Cabin Sketch",)),
    ("fonts-dancingscript", ("Dancing Script",)),
    ("fonts-kaushanscript", ("Kaushan Script",)),
    ("fonts-inconsolata", ("Inconsolata",)),
    ("fonts-averia-sans-gwf", ("Averia Sans Libre",)),
    ("fonts-inter", ("Inter",)),
    ("fonts-dosis", ("Dosis",)),
)
"""Web fonts (Google Fonts families) that Debian packages, chosen by how many of Design2Code's 484 pages
name them (``bench/fonts.py`` counts them). Real pages load these from the web, which a sandbox with the
network off cannot; installed, a page asking for ``'Open Sans'`` is drawn in Open Sans, and a page's
``@font-face`` that loads one from Google Fonts gets the image's file (``PageFonts``)."""

WEB_FONT_NPM: tuple[tuple[str, str], ...] = (
    # (family, version of Fontsource's npm package @fontsource/<family as a slug>)
    ("Playfair Display", "5.3.0"),
    ("Merriweather", "5.3.0"),
    ("Lora", "5.3.0"),
    ("Source Sans Pro", "5.3.0"),
    ("Montserrat", "5.3.0"),
    ("Raleway", "5.3.0"),
    ("Oswald", "5.3.0"),
    ("Roboto Mono", "5.3.0"),
    ("Ubuntu Mono", "5.3.0"),
    ("Work Sans", "5.3.0"),
    ("Neuton", "5.3.0"),
    ("Arvo", "5.3.0"),
    ("Muli", "4.1.0"),
    ("Mulish", "5.3.0"),
    ("Bitter", "5.3.0"),
    ("Signika Negative", "5.3.0"),
    ("Josefin Sans", "5.3.0"),
    ("Righteous", "5.3.0"),
    ("Rubik", "5.3.0"),
    ("Ubuntu", "5.3.0"),
    ("Public Sans", "5.3.0"),
    ("Lexend", "5.3.0"),
    ("Federo", "5.3.0"),
    ("Rambla", "5.2.8"),
    ("Didact Gothic", "5.3.0"),
    ("Source Code Pro", "5.3.1"),
    ("Material Icons", "5.3.0"),
    ("Permanent Marker", "5.3.0"),
    ("Nunito", "5.3.0"),
    ("Titillium Web", "5.3.0"),
    ("Old Standard TT", "5.3.0"),
    ("Gudea", "5.3.0"),
    ("Fira Sans", "5.3.0"),
    ("IM Fell English", "5.3.0"),
    ("Gentium Book Basic", "5.3.0"),
    ("Poiret One", "5.3.0"),
    ("Kalam", "5.3.0"),
    ("Alegreya", "5.3.0"),
    ("Alegreya SC", "5.3.0"),
    ("Patua One", "5.3.0"),
    ("Barlow", "5.3.0"),
    ("Barlow Condensed", "5.3.0"),
    ("Cantarell", "5.3.0"),
    ("Romanesco", "5.3.0"),
    ("Love Ya Like A Sister", "5.3.0"),
    ("Jacques Francois Shadow", "5.0.3"),
    ("Averia Sans Libre", "5.3.0"),
    ("Allura", "5.3.0"),
    ("Diplomata", "5.3.0"),
    ("Josefin Slab", "5.3.0"),
    ("Sacramento", "5.3.0"),
    ("Francois One", "5.3.0"),
    ("Seaweed Script", "5.3.0"),
    ("Ovo", "5.3.0"),
    ("Special Elite", "5.3.0"),
    ("Fredericka the Great", "5.3.0"),
    ("Over the Rainbow", "5.3.0"),
    ("Arizonia", "5.3.0"),
    ("Offside", "5.3.0"),
    ("Enriqueta", "5.3.0"),
    ("PT Sans", "5.3.0"),
    ("Poppins", "5.3.0"),
    ("Nunito Sans", "5.3.0"),
    ("Mukta", "5.3.0"),
    ("Kanit", "5.3.0"),
    ("Quicksand", "5.3.0"),
    ("Noto Serif", "5.3.0"),
    ("Heebo", "5.3.0"),
    ("DM Sans", "5.3.0"),
    ("IBM Plex Sans", "5.3.0"),
    ("Karla", "5.3.0"),
    ("Manrope", "5.3.0"),
    ("Libre Baskerville", "5.3.0"),
    ("Bebas Neue", "5.3.0"),
    ("Arimo", "5.3.0"),
    ("Hind", "5.3.0"),
    ("Oxygen", "5.3.0"),
    ("Anton", "5.3.0"),
    ("Libre Franklin", "5.3.0"),
    ("Abel", "5.3.0"),
    ("Pacifico", "5.3.0"),
    ("Archivo", "5.3.0"),
    ("Exo 2", "5.3.0"),
    ("Comfortaa", "5.3.0"),
    ("Maven Pro", "5.3.0"),
    ("Varela Round", "5.3.0"),
    ("Teko", "5.3.0"),
    ("Crimson Text", "5.3.0"),
    ("Fjalla One", "5.3.0"),
    ("Signika", "5.3.0"),
    ("Questrial", "5.3.0"),
    ("Asap", "5.3.0"),
    ("Overpass", "5.3.0"),
    ("Abril Fatface", "5.3.0"),
    ("Caveat", "5.3.0"),
    ("Shadows Into Light", "5.3.0"),
    ("Indie Flower", "5.3.0"),
    ("Amatic SC", "5.3.0"),
    ("Satisfy", "5.3.0"),
    ("Archivo Black", "5.3.0"),
    ("Yanone Kaffeesatz", "5.3.0"),
    ("Cormorant Garamond", "5.3.0"),
    ("Space Grotesk", "5.3.0"),
    ("Outfit", "5.3.0"),
    ("Sora", "5.3.0"),
    ("Plus Jakarta Sans", "5.3.0"),
    ("Figtree", "5.3.0"),
    ("Zilla Slab", "5.3.0"),
    ("Vollkorn", "5.3.0"),
    ("Spectral", "5.3.0"),
)
"""Google Fonts families Debian does not package, from Fontsource's npm packages (the families' own
files, OFL or Apache licensed; the Latin subset of every weight and style): the families Design2Code's
calibration half loads from Google Fonts, and the most used Google Fonts families. They are not installed
as system fonts (a family merely named was not there on the machines that drew such pictures either); a
page's ``@font-face`` that loads one from an absolute address gets its file, network off, as from Google
Fonts (``/opt/viscodex/webfonts``, served by the shim)."""
WEB_FONT_SUBSET = "latin"

DEFAULT_PACKAGES = (
    "python3",
    "python3-pip",
    "patch",
    "libatomic1",  # the node binary inside the Playwright wheel links it
    "nodejs",
    "chromium",
    "fonts-dejavu-core",
    "fonts-liberation",
    "fonts-noto-core",
    "fonts-noto-color-emoji",
    "fonts-droid-fallback",  # Chinese, Japanese and Korean characters: without a CJK font they are drawn as boxes
    "fonts-dejavu-extra",  # DejaVu's ExtraLight and Condensed faces (a bare Linux machine's font-weight: 300)
    *(package for package, _families in WEB_FONT_PACKAGES),
)
"""Debian packages of the base. Python libraries come from the package set's wheels, not Debian:
bookworm's matplotlib 3.6 / numpy 1.24 / pandas 1.5 fail on the code models write today."""

IMAGE_PYTHON = "3.11"
"""The interpreter of the base (bookworm's python3): the wheels are fetched for it."""

WEB_RUNTIMES: tuple[tuple[str, str, str, str], ...] = (
    # (file in /opt/viscodex/runtimes, npm package, version, file in the package's tarball)
    ("tailwind.js", "@tailwindcss/browser", "4.3.4", "package/dist/index.global.js"),
    ("react.js", "react", "18.3.1", "package/umd/react.production.min.js"),
    ("react-dom.js", "react-dom", "18.3.1", "package/umd/react-dom.production.min.js"),
    ("babel.js", "@babel/standalone", "7.28.4", "package/babel.min.js"),
)
"""Browser runtimes for UI stacks other than plain HTML, baked in because pages render with the
network off (React 18: the last release that ships UMD builds)."""

PIP_INSTALL = "python3 -m pip install --break-system-packages --no-index --no-cache-dir --find-links /tmp/wheels"

PYTHON_TEMPLATE = """\
FROM {base}
COPY wheels /tmp/wheels
COPY requirements /tmp/requirements
RUN {pip_install} --no-deps --require-hashes -r /tmp/requirements/lock.txt \\
 && if [ -s /tmp/requirements/extra.txt ]; then \\
      {pip_install} -r /tmp/requirements/extra.txt -c /tmp/requirements/constraints.txt; fi \\
 && python3 -m pip check \\
 && rm -rf /tmp/wheels /tmp/requirements
"""

LAYER_TEMPLATE = """\
FROM {python}
COPY runtimes /opt/viscodex/runtimes
COPY webfonts /opt/viscodex/webfonts
RUN mkdir -p /work /opt/viscodex/mpl && chmod 1777 /work \\
 && MPLCONFIGDIR=/opt/viscodex/mpl python3 -c "import matplotlib.pyplot" \\
 && chmod -R a+rX /opt/viscodex
ENV HOME=/tmp MPLCONFIGDIR=/tmp/.mpl PYTHONDONTWRITEBYTECODE=1 LANG=C.UTF-8 \\
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 BROWSER_PATH=/usr/bin/chromium
USER 65534:65534
WORKDIR /work
LABEL org.viscodex.recipe={recipe_hash} org.viscodex.package-set={package_set}
"""

REGISTRY_BASE_TEMPLATE = """\
FROM {registry_base}
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
        {packages} && rm -rf /var/lib/apt/lists/*
"""


def npm_cache_dir() -> Path:
    """Where npm tarballs (browser runtimes, web fonts) are kept between builds (``$VISCODEX_NPM_CACHE``
    overrides)."""
    configured = os.environ.get("VISCODEX_NPM_CACHE")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "viscodex" / "npm"


def font_slug(family: str) -> str:
    """Fontsource's name for a family (``Source Sans Pro`` -> ``source-sans-pro``); the shim finds a
    face's file by it."""
    return "-".join("".join(c if c.isalnum() else " " for c in family.lower()).split())


def wheel_cache_dir() -> Path:
    """Where the image's wheels are kept between builds (``$VISCODEX_WHEEL_CACHE`` overrides)."""
    configured = os.environ.get("VISCODEX_WHEEL_CACHE")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "viscodex" / "wheels"


class ImageRecipe(BaseModel):
    """Everything that decides the image's content. Change a field and the tag changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    repository: str = "viscodex-sandbox"
    suite: str = "bookworm"
    mirror: str = "http://deb.debian.org/debian"
    packages: tuple[str, ...] = DEFAULT_PACKAGES
    """Debian packages of the base stage."""
    package_set: str = DEFAULT_SET
    """The Python package set (``sandbox/package_sets/NAME.lock``)."""
    extra_requirements: str = Field("", repr=False)
    """A user's requirements file (its text), installed on top of the set, constrained by its pins."""
    registry_base: str | None = None
    """e.g. ``debian:bookworm``: build the base with `docker build` from a registry instead."""
    web_runtimes: tuple[tuple[str, str, str, str], ...] = WEB_RUNTIMES
    web_fonts: tuple[tuple[str, str], ...] = WEB_FONT_NPM
    """(family, Fontsource package version) of the web fonts served to pages (``WEB_FONT_NPM``)."""
    npm_registry: str = "https://registry.npmjs.org"

    def python_set(self) -> PackageSet:
        return load_set(self.package_set).with_extra(self.extra_requirements)

    def base_hash(self) -> str:
        data = {
            "suite": self.suite,
            "packages": sorted(self.packages),
            "registry_base": self.registry_base,
            "arch": platform.machine(),
        }
        return _digest(data)

    def python_hash(self) -> str:
        return _digest({"base": self.base_hash(), "set": self.python_set().digest(), "layer": PYTHON_TEMPLATE})

    def recipe_hash(self) -> str:
        return _digest(
            {
                "python": self.python_hash(),
                "layer": LAYER_TEMPLATE,
                "runtimes": [list(r) for r in self.web_runtimes],
                "web_fonts": [list(f) for f in self.web_fonts],
            }
        )

    @property
    def base_tag(self) -> str:
        return f"{self.repository}-base:{self.base_hash()}"

    @property
    def python_tag(self) -> str:
        return f"{self.repository}-python:{self.package_set}-{self.python_hash()}"

    @property
    def tag(self) -> str:
        return f"{self.repository}:{self.package_set}-{self.recipe_hash()}"

    def python_dockerfile(self) -> str:
        return PYTHON_TEMPLATE.format(base=self.base_tag, pip_install=PIP_INSTALL)

    def layer_dockerfile(self) -> str:
        return LAYER_TEMPLATE.format(
            python=self.python_tag, recipe_hash=self.recipe_hash(), package_set=self.package_set
        )

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
    """Return the tag of the sandbox image, building the stages that are missing. Idempotent.

    ``force`` rebuilds every stage (the wheel cache is still used: the lock pins their hashes).
    """
    recipe = recipe or ImageRecipe()
    recipe.python_set()  # an unknown set fails here, before anything is built
    client = client or docker_client()
    if not force and image_exists(client, recipe.tag):
        progress(f"image {recipe.tag} is up to date")
        return recipe.tag
    if force or not image_exists(client, recipe.base_tag):
        _build_base(client, recipe, progress)
    else:
        progress(f"base image {recipe.base_tag} is up to date")
    if force or not image_exists(client, recipe.python_tag):
        _build_python(client, recipe, progress)
    else:
        progress(f"python stage {recipe.python_tag} is up to date")
    _build_layer(client, recipe, progress)
    progress(f"built {recipe.tag}")
    return recipe.tag


def image_versions(client: docker.DockerClient, tag: str) -> ImageVersions:
    """The versions recorded in an image's labels when it was built (empty for an older image)."""
    try:
        labels = client.images.get(tag).labels
    except docker.errors.DockerException:
        return ImageVersions()
    return ImageVersions.from_labels(labels)


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


def _pip_download(args: list[str], dest: Path, progress: Progress) -> None:
    """``pip download`` of wheels for the image's Python (whatever Python the host runs): first from
    the wheel cache alone, offline; from the index only for what the cache lacks."""
    arch = platform.machine()
    platforms = [f"manylinux_2_{v}_{arch}" for v in (36, 34, 31, 28, 24, 17)]
    platforms += [f"manylinux2014_{arch}", f"manylinux1_{arch}", "any"]
    py = IMAGE_PYTHON.replace(".", "")
    cache = wheel_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:"]
    cmd += ["--python-version", IMAGE_PYTHON, "--implementation", "cp"]
    cmd += ["--abi", f"cp{py}", "--abi", "abi3", "--abi", "none"]
    for plat in platforms:
        cmd += ["--platform", plat]
    cmd += ["-d", str(dest), "--find-links", str(cache), *args]
    offline = subprocess.run([*cmd, "--no-index"], capture_output=True, text=True, check=False)
    if offline.returncode != 0:
        progress(f"downloading wheels into {cache}")
        _run_streaming(cmd, progress)
    for wheel in dest.glob("*.whl"):
        if not (cache / wheel.name).exists():
            shutil.copy2(wheel, cache / wheel.name)


def _download_wheels(pkgset: PackageSet, dest: Path, progress: Progress) -> dict[str, bytes]:
    """The set's wheels (hash-checked against the lock) and its requirement files, as build files."""
    requirements = {
        "lock.txt": pkgset.lock,
        "constraints.txt": pkgset.constraints(),
        "extra.txt": pkgset.extra,
    }
    for name, text in requirements.items():
        (dest / name).write_text(text, encoding="utf-8")
    wheels = dest / "wheels"
    wheels.mkdir()
    progress(f"wheels for package set {pkgset.name!r} ({len(pkgset.pins)} pinned distributions)")
    _pip_download(["--no-deps", "--require-hashes", "-r", str(dest / "lock.txt")], wheels, progress)
    if pkgset.extra.strip():
        progress("wheels for the extra requirements")
        extra = ["-r", str(dest / "extra.txt"), "-c", str(dest / "constraints.txt")]
        _pip_download(extra, wheels, progress)
    files = {f"requirements/{name}": text.encode() for name, text in requirements.items()}
    files.update({f"wheels/{p.name}": p.read_bytes() for p in sorted(wheels.glob("*.whl"))})
    return files


def _npm_tarball(recipe: ImageRecipe, package: str, version: str, progress: Progress) -> bytes:
    """A package's tarball from the npm registry (no npm needed), kept in ``npm_cache_dir()``."""
    cached = npm_cache_dir() / f"{package.replace('/', '+')}-{version}.tgz"
    if cached.is_file():
        return cached.read_bytes()
    url = f"{recipe.npm_registry}/{package}/-/{package.split('/')[-1]}-{version}.tgz"
    progress(f"downloading {package}@{version}")
    try:
        response = httpx.get(url, timeout=120, follow_redirects=True)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise SandboxError(f"cannot get {package}@{version} from {url}: {exc}") from None
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(f"{cached.name}.{os.getpid()}.part")
    partial.write_bytes(response.content)
    partial.replace(cached)  # whole or absent: a build cut off mid-download leaves no broken tarball
    return response.content


def _download_runtimes(recipe: ImageRecipe, progress: Progress) -> dict[str, bytes]:
    """Each runtime's one file, from its npm tarball."""
    files: dict[str, bytes] = {}
    for name, package, version, member in recipe.web_runtimes:
        data = _npm_tarball(recipe, package, version, progress)
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                extracted = tar.extractfile(member)
                if extracted is None:
                    raise SandboxError(f"{member} is not a file in {package}@{version}")
                files[f"runtimes/{name}"] = extracted.read()
        except (tarfile.TarError, KeyError) as exc:
            raise SandboxError(f"cannot read {member} from {package}@{version}: {exc}") from None
    return files


def _download_web_fonts(recipe: ImageRecipe, progress: Progress) -> dict[str, bytes]:
    """``webfonts/<slug>-latin-<weight>-<style>.woff2`` of each family (Fontsource's own file names), from
    its npm tarball; the downloads run side by side (a hundred small packages)."""
    if recipe.web_fonts:
        progress(f"web fonts: {len(recipe.web_fonts)} Fontsource packages (cached in {npm_cache_dir()})")

    def faces(family: str, version: str) -> dict[str, bytes]:
        slug = font_slug(family)
        data = _npm_tarball(recipe, f"@fontsource/{slug}", version, progress)
        prefix = f"package/files/{slug}-{WEB_FONT_SUBSET}-"
        out: dict[str, bytes] = {}
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                for member in tar.getmembers():
                    rest = member.name.removeprefix(prefix)
                    weight, _, style = rest.removesuffix(".woff2").partition("-")
                    if rest != member.name and rest.endswith(".woff2") and weight.isdigit() and style in FONT_STYLES:
                        extracted = tar.extractfile(member)
                        if extracted is not None:
                            out[f"webfonts/{member.name.removeprefix('package/files/')}"] = extracted.read()
        except tarfile.TarError as exc:
            raise SandboxError(f"cannot read @fontsource/{slug}@{version}: {exc}") from None
        if not out:
            raise SandboxError(f"@fontsource/{slug}@{version} has no {WEB_FONT_SUBSET} .woff2 faces")
        return out

    files: dict[str, bytes] = {}
    with ThreadPoolExecutor(max_workers=8) as pool:
        for found in pool.map(lambda fv: faces(*fv), recipe.web_fonts):
            files.update(found)
    return files


FONT_STYLES = ("normal", "italic")


def _build_python(client: docker.DockerClient, recipe: ImageRecipe, progress: Progress) -> None:
    with tempfile.TemporaryDirectory(prefix="viscodex-wheels-") as tmp:
        files = _download_wheels(recipe.python_set(), Path(tmp), progress)
    size_mb = sum(len(v) for v in files.values()) / 1e6
    progress(f"building python stage {recipe.python_tag} ({size_mb:.0f} MB of wheels)")
    _docker_build(client, recipe.python_dockerfile(), files, recipe.python_tag, progress)


def _probe_versions(client: docker.DockerClient, tag: str) -> str:
    """Measure what the python stage really has (not what the lock says it should)."""
    try:
        out = client.containers.run(
            tag, ["python3", "-I", "-c", PROBE], remove=True, network_disabled=True, stderr=True
        )
        data = json.loads(out.decode("utf-8", "replace").strip().splitlines()[-1])
        return json.dumps(ImageVersions.model_validate(data).model_dump(exclude={"package_set"}), sort_keys=True)
    except (docker.errors.DockerException, ValueError, IndexError) as exc:
        raise SandboxError(f"cannot read the package versions of {tag}: {exc}") from exc


def _build_layer(client: docker.DockerClient, recipe: ImageRecipe, progress: Progress) -> None:
    versions = _probe_versions(client, recipe.python_tag)
    files = {**_download_runtimes(recipe, progress), **_download_web_fonts(recipe, progress)}
    if not recipe.web_fonts:
        files["webfonts/.none"] = b""  # the layer's COPY needs the folder
    progress(f"building layer {recipe.tag}")
    _docker_build(client, recipe.layer_dockerfile(), files, recipe.tag, progress, labels={LABEL_VERSIONS: versions})


def _docker_build(
    client: docker.DockerClient,
    dockerfile: str,
    files: dict[str, bytes],
    tag: str,
    progress: Progress,
    labels: dict[str, str] | None = None,
) -> None:
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in {"Dockerfile": dockerfile.encode(), **files}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    for line in _build_log(client, context, tag, labels or {}):
        progress(line)


def _build_log(client: docker.DockerClient, context: io.BytesIO, tag: str, labels: dict[str, str]) -> Iterator[str]:
    stream = client.api.build(
        fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True, decode=True, labels=labels
    )
    for chunk in stream:
        if "error" in chunk:
            raise SandboxError(f"docker build of {tag} failed: {chunk['error'].strip()}")
        text = str(chunk.get("stream", "")).strip()
        if text:
            yield text
