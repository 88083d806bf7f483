"""What the sandbox image has installed, and what a failed run's error says about it.

The versions are measured in the image when it is built (``PROBE`` runs there, after the packages are
installed) and kept in a label, so reading them costs a Docker API call, not a container. A program that
fails on an import or an API its libraries lack gets a note naming the version the sandbox has: the
model (or the user) then knows to write for that version instead of guessing.
"""

from __future__ import annotations

import json
import re

from pydantic import BaseModel, ConfigDict, ValidationError

from .package_sets import canonical_name

LABEL_VERSIONS = "org.viscodex.versions"
LABEL_PACKAGE_SET = "org.viscodex.package-set"

PROBE = r"""
import importlib.metadata as md, json, platform, re, subprocess
canon = lambda n: re.sub(r"[-_.]+", "-", n).lower()
packages = {canon(d.metadata["Name"]): d.version for d in md.distributions() if d.metadata["Name"]}
modules = {m: canon(ds[0]) for m, ds in md.packages_distributions().items() if ds and not m.startswith("_")}
try:
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
except OSError:
    node = ""
print(json.dumps({"python": platform.python_version(), "node": node.lstrip("v"),
                  "packages": packages, "modules": modules}))
"""
"""Run with the image's python3 at build time; prints one ``ImageVersions`` JSON object."""

HEADLINE = ("matplotlib", "numpy", "pandas", "seaborn", "scipy", "plotly")
"""The packages named first when versions are summarised (chart code lives on them)."""


class ImageVersions(BaseModel):
    """The interpreter, Node and every Python distribution in a sandbox image."""

    model_config = ConfigDict(frozen=True)

    package_set: str = ""
    python: str = ""
    node: str = ""
    packages: dict[str, str] = {}
    """Distribution (canonical name) -> version."""
    modules: dict[str, str] = {}
    """Top-level import name -> distribution, e.g. ``PIL`` -> ``pillow``."""

    @classmethod
    def from_labels(cls, labels: dict[str, str] | None) -> ImageVersions:
        """Read from an image's labels; empty when the image predates the label or it is unreadable."""
        labels = labels or {}
        try:
            data = json.loads(labels.get(LABEL_VERSIONS) or "{}")
            return cls.model_validate({**data, "package_set": labels.get(LABEL_PACKAGE_SET, "")})
        except (ValueError, ValidationError):
            return cls(package_set=labels.get(LABEL_PACKAGE_SET, ""))

    def describe(self, names: tuple[str, ...] = HEADLINE) -> str:
        """``matplotlib 3.10.1, numpy 2.2.0, ...`` for the headline packages the image has."""
        return ", ".join(f"{n} {self.packages[n]}" for n in names if n in self.packages)

    def summary(self) -> dict[str, object]:
        """The JSON shape `sandbox run --json` and `doctor` report: set, interpreters, packages."""
        return {"package_set": self.package_set, "python": self.python, "node": self.node, "packages": self.packages}

    def distribution_of(self, module: str) -> str | None:
        top = module.split(".", 1)[0]
        if top in self.modules:
            return self.modules[top]
        canonical = canonical_name(top)
        return canonical if canonical in self.packages else None


_LAST_ERROR = re.compile(r"^(\w+(?:\.\w+)*(?:Error|Exception)): (.*)$", re.MULTILINE)
_NO_MODULE = re.compile(r"No module named '([\w.]+)'")
_FROM_MODULE = re.compile(r"cannot import name '(\w+)' from '([\w.]+)'")
_MODULE_ATTR = re.compile(r"module '([\w.]+)' has no attribute")
_FRAME = re.compile(r'File "[^"]*/(?:site|dist)-packages/([A-Za-z_]\w*)[/.]')


def version_hint(stderr: str, versions: ImageVersions) -> str | None:
    """A one-line note for a program that failed on a missing module or an API its library version
    lacks (ImportError, unexpected keyword, missing attribute), naming the version the sandbox has."""
    errors = _LAST_ERROR.findall(stderr)
    if not errors or not versions.packages:
        return None
    kind, message = errors[-1]
    kind = kind.rsplit(".", 1)[-1]
    where = f"package set '{versions.package_set}'" if versions.package_set else "the sandbox image"
    if kind == "ModuleNotFoundError" and (missing := _NO_MODULE.search(message)):
        module = missing.group(1)
        dist = versions.distribution_of(module)
        if dist is None:
            return (
                f"viscodex: the sandbox has no package that provides '{module.split('.')[0]}' ({where}); "
                "add it with `viscodex-agent sandbox build --packages FILE` or write the code without it"
            )
        return f"viscodex: the sandbox has {dist} {versions.packages[dist]} ({where}), which has no '{module}'"
    dist = None
    if kind == "ImportError" and (found := _FROM_MODULE.search(message)):
        dist = versions.distribution_of(found.group(2))
    elif kind == "AttributeError" and (found := _MODULE_ATTR.search(message)):
        dist = versions.distribution_of(found.group(1))
    if dist is None and (
        kind in {"AttributeError", "ImportError"} or (kind == "TypeError" and "unexpected keyword" in message)
    ):
        frames = _FRAME.findall(stderr)
        dist = versions.distribution_of(frames[-1]) if frames else None
        if dist is None and kind != "ImportError":
            # The error rose in the program's own frame (e.g. ``ax.grouped_bar`` on an old matplotlib):
            # name the libraries it most likely called.
            headline = versions.describe()
            return f"viscodex: the sandbox has {headline} ({where})" if headline else None
    if dist is None:
        return None
    return f"viscodex: the sandbox has {dist} {versions.packages[dist]} ({where})"
