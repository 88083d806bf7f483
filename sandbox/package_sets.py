"""Python package sets for the sandbox image, as data: one hash-pinned lock file per named set.

A set is ``package_sets/NAME.lock`` (compiled from ``NAME.in`` by ``scripts/lock_package_sets.py``), so
the same lock always installs the same wheels and gives the same image tag. ``default`` is today's data
stack; other sets pin what a benchmark scores with (``chartmimic``: its matplotlib 3.8.4 environment).
A user's requirements go on top of a set, constrained by its pins, so they cannot move them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .errors import SandboxError

SETS_DIR = Path(__file__).with_name("package_sets")
DEFAULT_SET = "default"
OLDEST_SET = "chartmimic"
"""The set with the oldest matplotlib the sandbox supports; the chart tracer is tested on it too."""

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def canonical_name(name: str) -> str:
    """PEP 503 normalisation: ``Matplotlib_Venn`` and ``matplotlib-venn`` are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class PackageSet:
    """A named, locked set of Python distributions for the image, plus optional requirements on top."""

    name: str
    lock: str
    """The lock file's text: ``name==version`` lines with ``--hash`` options (pip's format)."""
    description: str = ""
    extra: str = ""
    """A user's requirements file, installed on top with the lock's pins as constraints."""

    @property
    def pins(self) -> dict[str, str]:
        """Distribution (canonical name) -> the exact version the lock installs."""
        return {canonical_name(n): v for n, v in _PIN.findall(self.lock)}

    def constraints(self) -> str:
        """The pins as a pip constraints file (constraints may not carry hashes)."""
        return "".join(f"{name}=={version}\n" for name, version in sorted(self.pins.items()))

    def digest(self) -> str:
        """Changes exactly when what the set installs changes (comments and order of extras aside)."""
        return hashlib.sha256(f"{self.lock}\0{_normalised(self.extra)}".encode()).hexdigest()[:16]

    def with_extra(self, requirements: str) -> PackageSet:
        return PackageSet(self.name, self.lock, self.description, requirements)


def _normalised(requirements: str) -> str:
    lines = (line.split("#", 1)[0].strip() for line in requirements.splitlines())
    return "\n".join(sorted(line for line in lines if line))


def available_sets() -> tuple[str, ...]:
    """The names of the sets shipped with VisCodex, default first."""
    names = sorted(p.stem for p in SETS_DIR.glob("*.lock"))
    return tuple(sorted(names, key=lambda n: n != DEFAULT_SET))


@cache
def load_set(name: str = DEFAULT_SET) -> PackageSet:
    """The set called ``name``; a SandboxError naming the sets there are when it does not exist."""
    if not _NAME.match(name) or not (SETS_DIR / f"{name}.lock").is_file():
        raise SandboxError(f"no package set {name!r}; the sets are: {', '.join(available_sets())}")
    lock = (SETS_DIR / f"{name}.lock").read_text(encoding="utf-8")
    source = SETS_DIR / f"{name}.in"
    description = ""
    if source.is_file():
        comments = [ln[1:].strip() for ln in source.read_text(encoding="utf-8").splitlines() if ln.startswith("#")]
        description = " ".join(c for c in comments if not c.startswith("Regenerate"))
    return PackageSet(name, lock, description)
