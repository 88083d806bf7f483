"""Prepare the public verifier-fidelity data (tracker issue 9) from the fetched benchmark mirrors.

    .venv/bin/python bench/verifier_data.py --out DIR [--set chartmimic|design2code|all]

Sources (fetched with the ``fetch`` tool, bare git mirrors read with ``git show``):

- ChartMimic direct-mimic ``ori_500`` at commit 7ee16fb (the repository's first commit): the 499
  ground-truth scripts and their PDFs. Each PDF is rasterised at 120 dpi with poppler's ``pdftoppm``
  (Debian ``poppler-utils``), which is what the benchmark's ``pdf2image.convert_from_path(dpi=120)``
  calls under the hood, so the pictures are the benchmark's own.
- Design2Code ``testset_final`` at commit fd772b0 (484 reference pages and screenshots) and the
  ``rick.jpg`` placeholder from f36e45a. The sandbox renders a page without network or files, so the
  placeholder is inlined as a data URI (the screenshot shows it; the reference answer with its one
  asset inlined is still the reference answer).

Each set is split once into a calibration half and a held-out half by a fixed seed (``SEED``), and each
item gets its perturbed answers (``perturb.py``). Writes ``DIR/<set>/manifest.json`` plus the files.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from perturb import CHART_KINDS, chart_perturbation, page_perturbations

SEED = 20261202
"""The one split seed: items sorted by name, shuffled with ``random.Random(SEED)``, first half calibration."""
MIRRORS = Path(os.environ.get("VISCODEX_MIRRORS", "/work/.mirror"))
CHARTMIMIC = ("ChartMimic+ChartMimic", "7ee16fb", "dataset/ori_500")
DESIGN2CODE = ("NoviScl+Design2Code", "fd772b0", "testset_final")
RICK = ("NoviScl+Design2Code", "f36e45a", "testset_final/rick.jpg")
DPI = 120


def _git(repo: str, *args: str) -> bytes:
    path = MIRRORS / repo / "repo"
    if not path.exists():
        raise SystemExit(f"{path} is missing: fetch github:{repo.replace('+', '/')} first")
    return subprocess.run(["git", "--git-dir", str(path), *args], check=True, capture_output=True).stdout


def _files(repo: str, commit: str, folder: str) -> list[str]:
    return _git(repo, "ls-tree", "-r", "--name-only", commit, folder).decode().split()


def split(names: list[str], seed: int = SEED) -> dict[str, str]:
    """name -> "calibration" | "heldout": sorted, shuffled by ``seed``, first half calibration."""
    order = sorted(names)
    random.Random(seed).shuffle(order)
    half = len(order) // 2
    return {name: ("calibration" if i < half else "heldout") for i, name in enumerate(order)}


def rasterise(pdf: bytes, out: Path, dpi: int = DPI) -> None:
    """The PDF's first page as PNG at ``dpi`` (pdftoppm, as pdf2image does)."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.pdf"
        src.write_bytes(pdf)
        subprocess.run(
            ["pdftoppm", "-r", str(dpi), "-png", "-singlefile", "-f", "1", "-l", "1", str(src), str(Path(tmp) / "p")],
            check=True,
            capture_output=True,
        )
        out.write_bytes((Path(tmp) / "p.png").read_bytes())


def prepare_chartmimic(root: Path) -> None:
    repo, commit, folder = CHARTMIMIC
    files = _files(repo, commit, folder)
    names = sorted(
        {Path(f).stem for f in files if f.endswith(".py")} & {Path(f).stem for f in files if f.endswith(".pdf")}
    )
    halves = split(names)
    out = root / "chartmimic"
    out.mkdir(parents=True, exist_ok=True)
    items = []
    for n, name in enumerate(names):
        script = _git(repo, "show", f"{commit}:{folder}/{name}.py").decode("utf-8")
        png = out / f"{name}.png"
        if not png.exists():
            rasterise(_git(repo, "show", f"{commit}:{folder}/{name}.pdf"), png)
        (out / f"{name}.py").write_text(script, encoding="utf-8")
        perturbed = []
        for kind in CHART_KINDS:
            path = out / f"{name}.{kind}.py"
            path.write_text(script + chart_perturbation(kind, seed=f"{name}:{kind}"), encoding="utf-8")
            perturbed.append({"kind": kind, "answer": path.name})
        items.append(
            {"id": name, "split": halves[name], "target": png.name, "answer": f"{name}.py", "perturbed": perturbed}
        )
        if n % 50 == 0:
            print(f"chartmimic: {n}/{len(names)}", file=sys.stderr)
    _manifest(out, "chartmimic", f"ChartMimic/ChartMimic@{commit}:{folder}", items)


RICK_REF = re.compile(r"""(["'(])\s*(?:\./)?rick\.jpg\s*(["')])""")
IMG_SRC = re.compile(r"""(<meta[^>]*Content-Security-Policy[^>]*>)""", re.I)


def allow_inlined_images(html: str) -> str:
    """A page whose Content-Security-Policy limits images to its own origin (``img-src 'self'``) showed
    ``rick.jpg``, a file beside it, in the benchmark's picture; inlined as a data URI, the same policy
    blocks it (Design2Code 62 rendered broken-image icons where the picture has the placeholder). The
    inlined placeholder is allowed as the file was: ``data:`` added to that page's ``img-src``."""

    def widen(m: re.Match[str]) -> str:
        return re.sub(r"(img-src[^;\"']*'self')", r"\1 data:", m.group(1), flags=re.I)

    return IMG_SRC.sub(widen, html)


def prepare_design2code(root: Path) -> None:
    repo, commit, folder = DESIGN2CODE
    files = _files(repo, commit, folder)
    names = sorted(
        {Path(f).stem for f in files if f.endswith(".html")} & {Path(f).stem for f in files if f.endswith(".png")}
    )
    halves = split(names)
    rick = "data:image/jpeg;base64," + base64.b64encode(_git(RICK[0], "show", f"{RICK[1]}:{RICK[2]}")).decode()
    out = root / "design2code"
    out.mkdir(parents=True, exist_ok=True)
    items = []
    for name in names:
        html = _git(repo, "show", f"{commit}:{folder}/{name}.html").decode("utf-8", "replace")
        html = allow_inlined_images(RICK_REF.sub(lambda m: f"{m.group(1)}{rick}{m.group(2)}", html))
        (out / f"{name}.html").write_text(html, encoding="utf-8")
        (out / f"{name}.png").write_bytes(_git(repo, "show", f"{commit}:{folder}/{name}.png"))
        perturbed = []
        for p in page_perturbations(html, seed=name):
            path = out / f"{name}.{p.kind}.html"
            path.write_text(p.html, encoding="utf-8")
            perturbed.append({"kind": p.kind, "answer": path.name, "change": p.change})
        items.append(
            {
                "id": name,
                "split": halves[name],
                "target": f"{name}.png",
                "answer": f"{name}.html",
                "perturbed": perturbed,
            }
        )
    _manifest(out, "design2code", f"NoviScl/Design2Code@{commit}:{folder} (+ rick.jpg @{RICK[1]})", items)


def _manifest(out: Path, name: str, source: str, items: list[dict[str, object]]) -> None:
    manifest = {"set": name, "source": source, "seed": SEED, "items": items}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    halves = [i["split"] for i in items]
    print(
        f"{name}: {len(items)} items ({halves.count('calibration')} calibration, {halves.count('heldout')} held out)"
        f" in {out}",
        file=sys.stderr,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--set", choices=["chartmimic", "design2code", "all"], default="all")
    args = parser.parse_args()
    if args.set in ("chartmimic", "all"):
        prepare_chartmimic(args.out)
    if args.set in ("design2code", "all"):
        prepare_design2code(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
