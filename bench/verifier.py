"""Verifier fidelity on public data (tracker issue 9): does a right answer verify, does a wrong one not,
and does the critique name the real difference?

    .venv/bin/python bench/verifier_data.py --out DIR                      # once: data and perturbations
    .venv/bin/python bench/verifier.py --set chartmimic|design2code --data DIR [--split heldout|calibration]
                                       [--limit N] [--ids A,B] [--results FILE] [--right-only]

Runs the agent's own verifier (``ChartTask.verify`` / ``UiTask.verify``: the real sandbox, the same
scoring and critique the loop sends to the model) on each ground truth and each perturbed answer, with
no model (so no chart-type hint from one). ChartMimic scripts run in the ``chartmimic`` package set's
image (matplotlib 3.8.4, what they were written for). Per-item results are appended to ``--results``
(default ``DIR/<set>/results-<split>.jsonl``) as they finish, and items already there are not run
again, so an interrupted run resumes; ``--fresh`` starts over.

Figures printed (targets from the issue):

- ground truths verified (>= 95%);
- perturbed answers scoring below their ground truth (>= 90%) and failing (>= 80%);
- perturbed answers whose first critique line is about the change (>= 70%), judged by ``about``;
- ground truths whose critique is empty (strict), and whose critique is empty or only "agreeable"
  (>= 90%): every line it has states a fact about the two pictures that is true for the pair
  whatever produced it, namely a size difference of the renders, which a person checks by looking
  at the numbers (see ``agreeable``).

A perturbation that changes no pixel (it hid something already hidden, say) is not a wrong answer:
such items are counted and left out of the perturbed figures, as are perturbations the script could
not apply (a chart with one series has no series to remove).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from perturb import chart_record

from viscodex.agent.score.colors import delta_e, parse_hex
from viscodex.agent.score.matching import normalize_text, text_similarity
from viscodex.agent.score.raster import load_rgb
from viscodex.agent.tasks.base import Verification
from viscodex.agent.tasks.chart import ChartTask
from viscodex.agent.tasks.ui import DESIGN2CODE_FONTS, DESIGN2CODE_WINDOW_HEIGHT, UiTask
from viscodex.agent.tasks.visual_common import load_target
from viscodex.sandbox import Sandbox, SandboxPolicy

QUOTE = re.compile(r"'([^']*)'|\"([^\"]*)\"")
HEX = re.compile(r"#[0-9a-fA-F]{6}\b")
COLOUR_NEAR = 12.0
"""A hex in a critique line names a colour when it is within this ΔE00 of it."""


def quotes(line: str) -> list[str]:
    return [a or b for a, b in QUOTE.findall(line)]


def _names_text(line: str, texts: Iterable[str]) -> bool:
    """The line quotes one of ``texts`` (or enough of it: OCR reads a part, the critique shortens)."""
    for q in quotes(line):
        nq = normalize_text(q.rstrip("…")).casefold()
        if len(nq) < 3:
            continue
        for t in texts:
            nt = normalize_text(t).casefold()
            if not nt:
                continue
            if text_similarity(nq, nt, case=False) >= 0.6 or (len(nq) >= 6 and (nq in nt or nt in nq)):
                return True
    return False


def _names_colour(line: str, colours: Iterable[str | None]) -> bool:
    for h in HEX.findall(line):
        for c in colours:
            if c and delta_e(parse_hex(h), parse_hex(c)) < COLOUR_NEAR:
                return True
    return False


def about(line: str, kind: str, change: dict[str, Any]) -> bool:
    """Whether a critique line is about the change made (automatic, deliberately literal):

    - type: the line is the chart-type line and names the type drawn;
    - text: it quotes the old or the new text;
    - color: it names the old or new colour (a hex within ΔE00 12), or quotes the recoloured text;
    - remove: it quotes the removed text, names the removed series' label or colour, or is the
      series-count line.
    """
    if kind == "type":
        return line.startswith("Chart type") and str(change.get("new", "")) in line
    if kind == "text":
        return _names_text(line, [str(change.get("old", "")), str(change.get("new", ""))])
    if kind == "color":
        if _names_colour(line, [change.get("old"), change.get("new")]):
            return True
        return "text" in change and _names_text(line, [str(change["text"])]) and "olour" in line
    if kind == "remove":
        texts = [str(change.get(k, "")) for k in ("text", "node_text", "label") if change.get(k)]
        return _names_text(line, texts) or _names_colour(line, [change.get("color")]) or line.startswith("Series count")
    return False


AGREEABLE = re.compile(r"^The render is \d+x\d+ px, the target \d+x\d+ px$")


def agreeable(line: str) -> bool:
    """A critique line about a right answer that a person would agree with whatever the judge's noise:
    a difference of picture sizes (a fact of the two files, measured exactly). Anything else said
    about a right answer (a text missing, misplaced or mis-coloured, a colour or count off) claims a
    difference between a picture and its own source, so it is counted as false."""
    return bool(AGREEABLE.match(line))


def _same_pixels(a: bytes | None, b: bytes | None) -> bool:
    if a is None or b is None:
        return a is b
    if a == b:
        return True
    ra, rb = load_rgb(a), load_rgb(b)
    return ra.shape == rb.shape and bool(np.array_equal(ra, rb))


def _summary(v: Verification) -> dict[str, Any]:
    return {
        "score": round(v.score, 4),
        "passed": v.passed,
        "components": {k: round(x, 4) for k, x in v.components.items()},
        "critique": v.critique,
    }


def run_item(item: dict[str, Any], root: Path, kind: str, sandbox: Sandbox, right_only: bool = False) -> dict[str, Any]:
    started = time.monotonic()
    target = load_target(root / item["target"], "chart" if kind == "chartmimic" else "ui")
    task: ChartTask | UiTask = (
        ChartTask(target=target)
        if kind == "chartmimic"
        # Design2Code's pictures: full-page screenshots of a 1280 x 720 window, DejaVu fonts (agent/tasks/ui.py)
        else UiTask(targets=(target,), window_height=DESIGN2CODE_WINDOW_HEIGHT, fonts=DESIGN2CODE_FONTS)
    )
    gt = task.verify((root / item["answer"]).read_text(encoding="utf-8"), sandbox)
    out: dict[str, Any] = {"id": item["id"], "gt": _summary(gt), "perturbed": []}
    for p in [] if right_only else item["perturbed"]:
        v = task.verify((root / p["answer"]).read_text(encoding="utf-8"), sandbox)
        if kind == "chartmimic":
            change = chart_record(v.run.stdout if v.run is not None else "") or {"applied": False, "why": "no record"}
        else:
            change = {"applied": True, **p["change"]}
        entry = {"kind": p["kind"], "change": change, **_summary(v)}
        entry["noop"] = bool(change.get("applied")) and _same_pixels(v.render, gt.render)
        first = v.critique[0] if v.critique else ""
        entry["first_about"] = bool(first) and about(first, p["kind"], change)
        entry["any_about"] = any(about(line, p["kind"], change) for line in v.critique)
        out["perturbed"].append(entry)
    out["seconds"] = round(time.monotonic() - started, 2)
    return out


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}% ({part}/{whole})" if whole else "n/a (0 items)"


def report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    gts = [r["gt"] for r in rows]
    perturbed = [(r, p) for r in rows for p in r["perturbed"] if p["change"].get("applied") and not p.get("noop")]
    skipped = sum(1 for r in rows for p in r["perturbed"] if not p["change"].get("applied") or p.get("noop"))
    m = len(perturbed)
    figures = {
        "items": n,
        "gt_verified": pct(sum(g["passed"] for g in gts), n),
        "perturbed_below_gt": pct(sum(p["score"] < r["gt"]["score"] for r, p in perturbed), m),
        "perturbed_failing": pct(sum(not p["passed"] for _, p in perturbed), m),
        "first_line_about_change": pct(sum(p["first_about"] for _, p in perturbed), m),
        "gt_critique_empty": pct(sum(not g["critique"] for g in gts), n),
        "gt_critique_agreeable": pct(sum(all(agreeable(line) for line in g["critique"]) for g in gts), n),
        "perturbed_left_out": skipped,
        "gt_score_median": round(statistics.median([g["score"] for g in gts]), 4) if gts else None,
    }
    kinds = sorted({p["kind"] for _, p in perturbed})
    figures["by_kind"] = {
        k: {
            "n": sum(p["kind"] == k for _, p in perturbed),
            "below": pct(
                sum(p["score"] < r["gt"]["score"] for r, p in perturbed if p["kind"] == k),
                sum(p["kind"] == k for _, p in perturbed),
            ),
            "failing": pct(
                sum(not p["passed"] for _, p in perturbed if p["kind"] == k), sum(p["kind"] == k for _, p in perturbed)
            ),
            "first_about": pct(
                sum(p["first_about"] for _, p in perturbed if p["kind"] == k), sum(p["kind"] == k for _, p in perturbed)
            ),
        }
        for k in kinds
    }
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=["chartmimic", "design2code"], required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--split", choices=["heldout", "calibration"], default="heldout")
    parser.add_argument("--limit", type=int, default=None, help="only the first N items of the split")
    parser.add_argument("--ids", default=None, help="only these items of the split (comma-separated ids)")
    parser.add_argument("--results", type=Path, default=None)
    parser.add_argument("--fresh", action="store_true", help="ignore results already in --results")
    parser.add_argument("--report-only", action="store_true", help="summarise --results without running")
    parser.add_argument(
        "--right-only",
        action="store_true",
        help="score the ground truths alone (no perturbed answers): the right-answer figures in a fifth of the time",
    )
    args = parser.parse_args()
    root = args.data / args.set
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    # In a seeded shuffled order, so that --limit N takes a mixed sample of chart types and pages.
    items = [i for i in manifest["items"] if i["split"] == args.split]
    random.Random(manifest["seed"]).shuffle(items)
    items = items[: args.limit]
    if args.ids:
        wanted = set(args.ids.split(","))
        items = [i for i in items if i["id"] in wanted]
    results = args.results or root / f"results-{args.split}.jsonl"
    done: dict[str, dict[str, Any]] = {}
    if results.exists() and not args.fresh:
        for line in results.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                done[row["id"]] = row
    elif args.fresh and results.exists():
        results.unlink()
    todo = [i for i in items if i["id"] not in done]
    if todo and not args.report_only:
        policy = SandboxPolicy(package_set="chartmimic") if args.set == "chartmimic" else SandboxPolicy()
        role = "chart" if args.set == "chartmimic" else "html"
        with Sandbox(policy=policy, pool={role: 1}) as sandbox, results.open("a", encoding="utf-8") as fh:
            for n, item in enumerate(todo, 1):
                try:
                    row = run_item(item, root, args.set, sandbox, args.right_only)
                except Exception as exc:  # one broken item must not end a long run
                    print(f"{item['id']}: {type(exc).__name__}: {exc}", file=sys.stderr)
                    continue
                done[row["id"]] = row
                fh.write(json.dumps(row) + "\n")
                fh.flush()
                print(
                    f"[{n}/{len(todo)}] {row['id']} gt {row['gt']['score']:.3f} "
                    f"{'ok' if row['gt']['passed'] else 'FAIL'} ({row['seconds']:.1f} s)",
                    file=sys.stderr,
                )
    rows = [done[i["id"]] for i in items if i["id"] in done]
    figures = report(rows)
    print(f"set {args.set}, split {args.split}, {figures['items']} items ({results})")
    for key, value in figures.items():
        if key != "by_kind":
            print(f"  {key}: {value}")
    for kind, fig in figures["by_kind"].items():
        print(f"  {kind}: {fig}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
