"""Run the OFFICIAL Design2Code visual score on the project's fixtures and print its numbers as JSON: the
expectations of ``tests/test_eval_design2code.py`` were made with

    .venv/bin/python -m viscodex.training.eval.official_design2code \\
        --mirror /work/.mirror/NoviScl+Design2Code/repo --clip /tmp/d2c-tiny-clip

``--mirror`` is a clone (bare is fine) of github.com/NoviScl/Design2Code; ``visual_eval_v3_multi`` and the
files it imports (``metrics/visual_score.py``, ``metrics/ocr_free_utils.py``,
``data_utils/dedup_post_gen.py``) are read from commit 7a575e4c at run time. At that commit the empty-block
branch of ``visual_eval_v3_multi`` is mis-indented and the file does not parse: only that indentation is
fixed. The official code runs in a subprocess of this interpreter with its own extra packages (its pinned
beautifulsoup4 4.12.2, scikit-learn and matplotlib, which it imports, and colormath), installed once with
``pip install --target`` into ``--site`` (default ``~/.cache/viscodex/d2c-official-site``). numpy, Pillow,
OpenCV, SciPy and torch are this interpreter's, the ones ``design2code`` uses, so a difference can only come
from the metric code (the official requirements pin Pillow 10.2.0 and numpy 1.26.1; its own
``np.asscalar`` patch makes it run on numpy 2).

Two things are swapped at its edges, never in the metric:

- its screenshots (``os.system("python3 .../screenshot_single.py --html X --png Y")``) are taken by the
  project's sandbox renderer (``design2code.render``: the same 1280 x 720 window, full page) and handed
  back through a pipe, so both implementations score the same pixels;
- ``clip.load("ViT-B/32")`` returns the open_clip model given by ``--clip`` (default: a tiny random CLIP
  made by ``design2code.save_tiny_clip``) and its preprocessing: the same model gives the same number.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .d2c_fixtures import CASES, FIXTURES

COMMIT = "7a575e4c33f417c4be5c64072b8f5798de0d0f99"
FILES = [
    "Design2Code/__init__.py",
    "Design2Code/metrics/__init__.py",
    "Design2Code/metrics/visual_score.py",
    "Design2Code/metrics/ocr_free_utils.py",
    "Design2Code/data_utils/__init__.py",
    "Design2Code/data_utils/dedup_post_gen.py",
]
PACKAGES = [
    "beautifulsoup4==4.12.2",
    "soupsieve<2.6",
    "scikit-learn",
    "narwhals",
    "joblib",
    "threadpoolctl",
    "matplotlib",
    "contourpy",
    "cycler",
    "fonttools",
    "kiwisolver",
    "pyparsing",
    "python-dateutil",
    "six",
    "colormath==3.0.0",
    "networkx",
]
SITE = Path.home() / ".cache" / "viscodex" / "d2c-official-site"
MARK = "@@d2c-render@@"
DONE = "@@d2c-official@@"

BROKEN_INDENT = """         if len(predict_blocks) == 0:
                print("[Warning] No detected blocks in: ", predict_img_list[k])"""
FIXED_INDENT = """        if len(predict_blocks) == 0:
                print("[Warning] No detected blocks in: ", predict_img_list[k])"""

DRIVER = r"""
import json, os, shutil, sys
import clip_stub
sys.modules["clip"] = clip_stub
import Design2Code.metrics.ocr_free_utils as ocr
import Design2Code.metrics.visual_score as vs

real_system = os.system

def system(command):
    words = command.split()
    if "--html" in words and "--png" in words:
        html, png = words[words.index("--html") + 1], words[words.index("--png") + 1]
        sys.stdout.write("%s %s %s\n" % (MARK, os.path.abspath(html), os.path.abspath(png)))
        sys.stdout.flush()
        if sys.stdin.readline().strip() != "ok":
            raise SystemExit("the renderer went away")
        return 0
    return real_system(command)

ocr.os.system = system  # the same os module object: one patch serves both files
out = {}
for case in json.load(open("cases.json")):
    folder = os.path.abspath(os.path.join("work", case["name"]))
    os.makedirs(os.path.join(folder, "ref"))
    os.makedirs(os.path.join(folder, "pred"))
    shutil.copy(case["reference"], os.path.join(folder, "ref", case["page"] + ".html"))
    shutil.copy(case["answer"], os.path.join(folder, "pred", case["page"] + ".html"))
    (matched, final, parts), = vs.visual_eval_v3_multi(
        [[os.path.join(folder, "pred", case["page"] + ".html")], os.path.join(folder, "ref", case["page"] + ".html")]
    )
    size, text, position, color, clip_score = (float(v) for v in parts)
    out[case["name"]] = {"block": size, "text": text, "position": position, "color": color, "clip": clip_score,
                         "final": float(final)}
sys.stdout.write(DONE + json.dumps(out) + "\n")
""".replace("MARK", repr(MARK)).replace("DONE", repr(DONE))

CLIP_STUB = r"""
import os
import open_clip

def load(name, device="cpu", **kwargs):
    model, _, preprocess = open_clip.create_model_and_transforms("local-dir:" + os.environ["D2C_CLIP"], device=device)
    return model.eval(), preprocess
"""


def ensure_site(site: Path) -> Path:
    """The official code's extra packages, installed once beside (never into) this environment."""
    marker = site / ".complete"
    if not marker.is_file() or marker.read_text().split() != PACKAGES:
        site.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--upgrade",
                "--target",
                str(site),
                "--no-deps",
                *PACKAGES,
            ],
            check=True,
        )
        marker.write_text("\n".join(PACKAGES) + "\n")
    return site


def official_numbers(mirror: Path, clip_dir: Path, site: Path = SITE) -> dict[str, dict[str, float]]:
    """The official scores of every fixture case (``d2c_fixtures.CASES``), on its 0-1 scale."""
    cases = {name: (case.page, FIXTURES / f"{case.page}.html", case.path) for name, case in CASES.items()}
    return official_on_pairs(mirror, clip_dir, cases, site)


def official_on_pairs(
    mirror: Path,
    clip_dir: Path,
    cases: dict[str, tuple[str, Path, Path]],
    site: Path = SITE,
    store: Path | None = None,
) -> dict[str, dict[str, float]]:
    """The official scores of ``name: (page id, reference HTML file, answer HTML file)``; with ``store``,
    every render it was given is also kept there by ``d2c_fixtures.render_key`` of the page."""
    from viscodex.sandbox import Sandbox

    from .d2c_fixtures import render_key
    from .design2code import render

    ensure_site(site)
    with tempfile.TemporaryDirectory(prefix="d2c-official-") as tmp:
        root = Path(tmp)
        for path in FILES:
            text = subprocess.run(
                ["git", "--git-dir", str(mirror), "show", f"{COMMIT}:{path}"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            if path.endswith("visual_score.py"):
                if BROKEN_INDENT not in text:
                    raise RuntimeError("visual_score.py is not the expected commit: the indentation fix does not apply")
                text = text.replace(BROKEN_INDENT, FIXED_INDENT, 1).replace(
                    "            elif len(original_blocks) == 0:", "        elif len(original_blocks) == 0:", 1
                )
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text, encoding="utf-8")
        (root / "clip_stub.py").write_text(CLIP_STUB)
        (root / "driver.py").write_text(DRIVER)
        listed = [
            {"name": name, "page": page, "reference": str(reference), "answer": str(answer)}
            for name, (page, reference, answer) in cases.items()
        ]
        (root / "cases.json").write_text(json.dumps(listed))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(root)]), D2C_CLIP=str(clip_dir))
        with Sandbox(pool={"html": 1}) as sandbox:
            proc = subprocess.Popen(
                [sys.executable, "driver.py"],
                cwd=root,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert proc.stdin is not None and proc.stdout is not None
            numbers: dict[str, dict[str, float]] | None = None
            for line in proc.stdout:
                if line.startswith(MARK):
                    _, html_path, png_path = line.split()
                    html = Path(html_path).read_text(encoding="utf-8")
                    png = render(sandbox, html)
                    Path(png_path).write_bytes(png)
                    if store is not None:
                        store.mkdir(parents=True, exist_ok=True)
                        (store / f"{render_key(html)}.png").write_bytes(png)
                    proc.stdin.write("ok\n")
                    proc.stdin.flush()
                elif line.startswith(DONE):
                    numbers = json.loads(line[len(DONE) :])
                else:
                    print(line, end="", file=sys.stderr)
            proc.wait()
        if numbers is None:
            raise RuntimeError(f"the official code stopped (exit {proc.returncode}) without its numbers")
        return numbers


def compare_real_pages(
    mirror: Path, clip_dir: Path, pages: Path, ids: list[str], site: Path = SITE
) -> dict[str, dict[str, float]]:
    """Each real page's perfect answer and its project-made perturbations (``<id>.text|color|remove.html``
    where present) scored by the official code and by ours on the same renders; per case both numbers and
    the largest absolute difference."""
    from .d2c_fixtures import stored_renderer
    from .design2code import clip_model, page_blocks, preprocess_answer, scores

    cases: dict[str, tuple[str, Path, Path]] = {}
    for page in ids:
        for kind in ("", ".text", ".color", ".remove"):
            answer = pages / f"{page}{kind}.html"
            if answer.is_file():
                cases[f"{page}{kind or '.perfect'}"] = (page, pages / f"{page}.html", answer)
    with tempfile.TemporaryDirectory(prefix="d2c-renders-") as store_dir:
        store = Path(store_dir)
        official = official_on_pairs(mirror, clip_dir, cases, site, store)
        from viscodex.sandbox import Sandbox

        from .design2code import render

        clip = clip_model(str(clip_dir))
        out = {}
        with Sandbox(pool={"html": 1}) as sandbox:
            renderer = stored_renderer(lambda html: render(sandbox, html), store)
            for name, (_, reference, answer) in cases.items():
                ref = page_blocks(reference.read_text(encoding="utf-8"), renderer)
                mine = page_blocks(preprocess_answer(answer.read_text(encoding="utf-8")), renderer)
                ours = scores(mine, ref, clip)
                gap = max(abs(ours[k] - official[name][k]) for k in ours)
                out[name] = {**{f"official_{k}": v for k, v in official[name].items()}, **ours, "max_gap": gap}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirror", type=Path, required=True, help="git dir of NoviScl/Design2Code")
    parser.add_argument("--clip", type=Path, help="open_clip folder (default: a tiny random CLIP, seed 0)")
    parser.add_argument("--site", type=Path, default=SITE, help="where the official code's packages go")
    parser.add_argument("--pages", type=Path, help="instead of the fixtures: a folder of real pages (and answers)")
    parser.add_argument("--ids", default="", help="with --pages: comma-separated page ids to compare on")
    args = parser.parse_args()
    clip_dir = args.clip
    if clip_dir is None or not (clip_dir / "open_clip_config.json").is_file():
        from .design2code import save_tiny_clip

        clip_dir = save_tiny_clip(clip_dir or Path(tempfile.mkdtemp(prefix="d2c-clip-")))
    if args.pages is not None:
        ids = [i for i in args.ids.split(",") if i]
        result = compare_real_pages(args.mirror, clip_dir, args.pages, ids, args.site)
    else:
        result = official_numbers(args.mirror, clip_dir, args.site)
    json.dump(result, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
