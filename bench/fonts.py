"""Which font families Design2Code's pages name, and which of them the sandbox image has (tracker issue 9).

    .venv/bin/python bench/fonts.py --data DIR [--top N]

Reads the reference pages (``DIR/design2code/<id>.html``, written by ``bench/verifier_data.py``) and counts,
for each family named in a ``font-family`` or ``font`` declaration (CSS keywords and generic families left
out), the pages that name it anywhere and the pages that name it first in a declaration (a page's own choice,
as opposed to a later entry of a system font stack such as ``-apple-system, 'Segoe UI', Roboto``). Families
the image installs as web fonts (``sandbox.image.WEB_FONT_PACKAGES``) are marked with their package.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

from viscodex.sandbox.image import WEB_FONT_PACKAGES

GENERIC = frozenset(
    "sans-serif serif monospace cursive fantasy system-ui inherit initial unset revert emoji math "
    "-apple-system blinkmacsystemfont ui-sans-serif ui-serif ui-monospace".split()
)
FAMILY = re.compile(r"font-family\s*:\s*([^;}\"<>]+)", re.I)
SHORTHAND = re.compile(r"(?<![-\w])font\s*:\s*([^;}<>]+)", re.I)


def _names(value: str) -> list[str]:
    out = []
    for raw in value.split(","):
        name = re.sub(r"!\s*important", "", raw, flags=re.I).strip().strip("'\"").strip().lower()
        if name and name not in GENERIC and not name.startswith("var(") and not re.search(r"[:(){}]", name):
            out.append(name)
    return out


def page_families(html: str) -> tuple[set[str], set[str]]:
    """(every family the page names, the families it names first in a declaration), lower case."""
    named: set[str] = set()
    first: set[str] = set()
    values = [m.group(1) for m in FAMILY.finditer(html)]
    for m in SHORTHAND.finditer(html):  # `font: italic 700 16px/1.5 'Open Sans', sans-serif`
        head, *rest = m.group(1).split(",")
        tokens = head.split()
        sized = [i for i, token in enumerate(tokens) if re.search(r"\d", token)]
        if sized:
            values.append(",".join([" ".join(tokens[sized[-1] + 1 :]), *rest]))
    for value in values:
        names = _names(value)
        named.update(names)
        if names:
            first.add(names[0])
    return named, first


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--top", type=int, default=60)
    args = parser.parse_args()
    pages = sorted(p for p in (args.data / "design2code").glob("*.html") if p.stem.isdigit())
    named: Counter[str] = Counter()
    first: Counter[str] = Counter()
    installed = {family.lower(): package for package, families in WEB_FONT_PACKAGES for family in families}
    covered = covered_first = 0
    for page in pages:
        any_of, first_of = page_families(page.read_text(encoding="utf-8", errors="replace"))
        named.update(any_of)
        first.update(first_of)
        covered += bool(any_of & installed.keys())
        covered_first += bool(first_of & installed.keys())
    print(f"{len(pages)} pages; pages naming a family / naming it first; the image's package")
    for family, count in named.most_common(args.top):
        print(f"{count:5d} {first[family]:5d}  {family:32s} {installed.get(family, '')}")
    print(f"pages naming a web font the image has: {covered} ({covered_first} name one first)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
