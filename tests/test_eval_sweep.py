"""`viscodex-train merge-sweep --eval`: merge per lam, score each merge through the embedded backend, the
sweep table and the best merge. Tiny random models (training/tiny.py): their answers are nonsense, so the
end-to-end test asserts on files, ids and counts, and the choice of the best is tested on set summaries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import console
from safetensors import safe_open

from viscodex.training.eval import sweep


def _point(tmp_path: Path, lam: float, **metrics: float | None) -> sweep.SweepPoint:
    folder = sweep.merge_folder(tmp_path, lam)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.safetensors").write_bytes(b"x")
    return sweep.SweepPoint(lam, folder, {"items": 3, "metrics": metrics})


def test_the_best_lam_has_the_highest_headline_and_the_rest_can_be_pruned(tmp_path: Path) -> None:
    points = [
        _point(tmp_path, 0.7, text=50.0, layout=60.0, type=70.0, color=40.0),
        _point(tmp_path, 0.85, text=55.0, layout=60.0, type=70.0, color=45.0),  # mean 57.5: best
        _point(tmp_path, 0.9, text=90.0, layout=None, type=90.0, color=90.0),  # not fully scored: not ranked
    ]
    table = sweep.write_sweep(tmp_path, "chartmimic", points)
    assert table["best"]["lam"] == 0.85
    assert [p["headline"] for p in table["points"]] == [55.0, 57.5, None]
    assert (tmp_path / "best").resolve() == points[1].merge.resolve()
    assert "| 0.85 (best) | 55.00 | 60.00 | 70.00 | 45.00 | 57.50 |" in (tmp_path / "sweep.md").read_text()
    sweep.write_sweep(tmp_path, "chartmimic", points, prune=True)
    assert [p.merge.is_dir() for p in points] == [False, True, False]


def test_ties_go_to_the_first_lam_and_mmcode_ranks_by_pass_at_1(tmp_path: Path) -> None:
    points = [_point(tmp_path, 0.5, **{"pass@1": 20.0}), _point(tmp_path, 0.6, **{"pass@1": 20.0})]
    assert sweep.best_point("mmcode", points) is points[0]
    assert sweep.best_point("mmcode", [_point(tmp_path, 0.4, **{"pass@1": None})]) is None


@pytest.mark.slow
def test_sweep_merges_scores_each_lam_and_keeps_the_best(
    tiny_models: dict[str, Path], tmp_path: Path, sandbox_image: str
) -> None:
    data = tmp_path / "mmcode.jsonl"
    io_spec = json.dumps({"inputs": ["2 3\n"], "outputs": ["5\n"]})
    data.write_text(
        "".join(
            json.dumps({"problem_id": f"p{i}", "question": f"Add the numbers ({i}).", "input_output": io_spec}) + "\n"
            for i in range(3)
        )
    )
    out = tmp_path / "sweep"
    args = [
        *("merge-sweep", "--lams", "0.5,1.0", "--out", str(out)),
        *("--vlm", str(tiny_models["vlm"]), "--code", str(tiny_models["code"]), "--base", str(tiny_models["base"])),
        *("--eval", "mmcode", "--data", str(data), "--limit", "2", "--max-tokens", "12", "--workers", "1"),
    ]
    proc = console("viscodex-train", *args, timeout=900)
    assert proc.returncode == 0, proc.stderr
    table = json.loads((out / "sweep.json").read_text())
    assert [p["lam"] for p in table["points"]] == [0.5, 1.0]
    for lam in ("0.50", "1.00"):
        rows = [json.loads(line) for line in (out / "eval" / f"lam-{lam}" / "items.jsonl").read_text().splitlines()]
        assert [r["id"] for r in rows] == ["p0", "p1"] and all(r["n"] == 1 for r in rows)
        # the embedded backend answered each item with the merged model: the answers were kept
        assert sorted(p.name for p in (out / "eval" / f"lam-{lam}" / "answers").iterdir()) == ["p0.md", "p1.md"]
    # the two merges are different checkpoints (lam scales the code model's task vector)
    tensors = []
    for lam in ("0.50", "1.00"):
        files = sorted((out / f"lam-{lam}").glob("*.safetensors"))
        with safe_open(str(files[0]), "pt") as f:
            name = next(n for n in f.keys() if "layers.0.mlp" in n)
            tensors.append(f.get_tensor(name))
    assert not tensors[0].equal(tensors[1])
    # nonsense fails every test: both score 0 and the tie goes to the first lam
    assert all(p["metrics"]["pass@1"] == 0.0 for p in table["points"])
    assert table["best"]["lam"] == 0.5 and (out / "best").resolve() == (out / "lam-0.50").resolve()
    assert "| 0.50 (best) |" in proc.stdout
    # run again: merges and scored items are kept, nothing is redone
    again = console("viscodex-train", *args, timeout=600)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already merged, kept") == 2


def test_eval_without_data_is_a_usage_error(tmp_path: Path) -> None:
    proc = console("viscodex-train", "merge-sweep", "--lams", "0.7", "--out", str(tmp_path), "--eval", "mmcode")
    assert proc.returncode == 2 and "--eval needs --data" in proc.stderr and "Traceback" not in proc.stderr
