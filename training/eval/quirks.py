"""The official evaluators' quirks that change scores, reproduced by default so our numbers compare with
published ones, each one switchable off (``viscodex-train eval --no-quirk NAME``, or ``--no-quirks`` for
all of them). The run's summary lists the ones that were on.

Quirks that are *not* reproduced (they make a score depend on the order in which one process evaluated the
items, or on a crash) are documented where the metric is: ``chartmimic`` (the type evaluator's carried-over
numbers) and ``chartmimic_color`` (set order before the >10 colour filter, the gold-without-colours crash).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Quirk:
    name: str
    bench: str
    official: str
    """What the official code does."""
    without: str
    """What happens with the quirk switched off."""


QUIRKS: tuple[Quirk, ...] = (
    Quirk(
        "savefig-cut",
        "chartmimic",
        "code_checker.py deletes the generated script from its first `plt.savefig(` (and from its first "
        "`plt.show(`) to the END of the script (a DOTALL regular expression), so anything drawn after saving, "
        "or a second figure, is lost",
        "only the savefig/show statements themselves are removed; the rest of the script still runs",
    ),
    Quirk(
        "ticks-last-char",
        "chartmimic",
        "the text evaluator removes the ticks before the first `plt.savefig`; in a script without one, "
        "str.find gives -1 and the removal is inserted before the script's last character",
        "without a savefig the removal goes after the script",
    ),
    Quirk(
        "loose-output",
        "mmcode",
        "testing_utils.py accepts a Standard-IO output that differs from the expected one when every line "
        "parses as a float and np.allclose agrees, when the sets of whitespace-separated tokens are equal "
        "(order ignored), or when those tokens rounded to 3 decimals are",
        "only the stripped text, the lines, or the lines without blank ones must be equal",
    ),
    Quirk(
        "no-verdict-passes",
        "mmcode",
        "a test whose comparison raises appends no verdict, and a problem with no verdict at all (no tests) "
        "passes (np.all of an empty array is True)",
        "such a test fails, and so does a sample without any verdict",
    ),
)
BY_NAME = {quirk.name: quirk for quirk in QUIRKS}


def defaults(bench: str) -> frozenset[str]:
    """The quirks on by default for ``bench``: all of its own."""
    return frozenset(q.name for q in QUIRKS if q.bench == bench)


def resolve(bench: str, off: Iterable[str], all_off: bool = False) -> frozenset[str]:
    """The quirks that stay on; ValueError (one line) for a name that is not a quirk of ``bench``."""
    own = defaults(bench)
    off = list(off)
    for name in off:
        if name not in own:
            known = ", ".join(sorted(own)) or "none"
            raise ValueError(f"unknown quirk {name!r} for {bench}; its quirks: {known}")
    return frozenset() if all_off else own - set(off)


def notes(bench: str, on: frozenset[str]) -> list[str]:
    """One line per quirk of ``bench``: on (as published) or off."""
    lines = []
    for quirk in QUIRKS:
        if quirk.bench == bench:
            state = "on (as the official code)" if quirk.name in on else f"off: {quirk.without}"
            lines.append(f"Quirk {quirk.name} {state}; officially {quirk.official}.")
    return lines
