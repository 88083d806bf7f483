"""training/data/check.py and `viscodex-train data check`: planted broken images, bad code, exact and near
duplicates and over-long records are each found with their kind; clean data passes; token counts equal
what the model's own processor makes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from viscodex.training.data import CHECK_KINDS, Issue, Message, Record, Rejected, check_records, load_records
from viscodex.training.data.check import (
    CheckConfig,
    TokenCounter,
    code_blocks,
    near_duplicates,
    normalise_code,
    perceptual_hash,
    simhash,
)

LONG_CODE = "\n".join(
    [
        "import matplotlib.pyplot as plt",
        "import numpy as np",
        "",
        "fig, ax = plt.subplots(figsize=(8, 5))",
        *(
            f"ax.bar(['a{i}', 'b{i}', 'c{i}'], [{i}, {i + 2}, {i + 4}], color='C{i}', label='series {i}')"
            for i in range(12)
        ),
        "ax.set_title('Quarterly revenue by region')",
        "ax.set_xlabel('Region')",
        "ax.set_ylabel('Revenue (M$)')",
        "ax.legend(loc='upper left', frameon=False)",
        "plt.tight_layout()",
        "plt.savefig('out.png')",
    ]
)


def noise(path: Path, seed: int, size: tuple[int, int] = (96, 64)) -> Path:
    """A picture unlike any other seed's (smooth random blobs, so a perceptual hash has structure)."""
    rng = np.random.default_rng(seed)
    small = (rng.random((6, 8, 3)) * 255).astype("uint8")
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(small).resize(size, Image.Resampling.BICUBIC).save(path)
    return path


def row(rid: str, image: str | None, answer: str, category: str = "chart") -> dict[str, object]:
    return {
        "id": rid,
        "category": category,
        "images": [image] if image else [],
        "messages": [
            {"role": "user", "content": ("<image>" if image else "") + "Write the code."},
            {"role": "assistant", "content": answer},
        ],
    }


def fenced(code: str, language: str = "python") -> str:
    return f"Here it is:\n```{language}\n{code}\n```\n"


@pytest.fixture()
def planted(tmp_path: Path) -> Path:
    """records.jsonl with one record per problem, each after a clean original where it repeats one."""
    d = tmp_path / "set"
    noise(d / "images" / "clean0.png", 0)
    noise(d / "images" / "clean1.png", 1)
    noise(d / "images" / "clean2.png", 2)
    noise(d / "images" / "clean3.png", 3)
    noise(d / "images" / "clean4.png", 4)
    noise(d / "images" / "clean5.png", 5)
    noise(d / "images" / "clean6.png", 6)
    # the same pixels in another file; the same picture re-encoded as JPEG and resized
    (d / "images" / "copy0.png").write_bytes((d / "images" / "clean0.png").read_bytes())
    with Image.open(d / "images" / "clean1.png") as im:
        im.convert("RGB").resize((120, 80)).save(d / "images" / "near1.jpg", quality=85)
    # a truncated PNG, a text file named .png, a picture too wide to train on
    good = (d / "images" / "clean2.png").read_bytes()
    (d / "images" / "truncated.png").write_bytes(good[: len(good) // 2])
    (d / "images" / "text.png").write_text("not a picture")
    Image.new("L", (20_000, 2)).save(d / "images" / "wide.png")
    rows = [
        row("clean0", "images/clean0.png", fenced(LONG_CODE)),
        row("clean1", "images/clean1.png", fenced("<div class='card'><p>Hello</p></div>", "html"), "html"),
        row("clean2", "images/clean2.png", fenced("def solve(n):\n    return n * 2\n")),
        row("qa", "images/clean3.png", "Use a flexbox; no code needed.", "qa"),
        row("dup_image", "images/copy0.png", fenced("print('other code')\n")),
        row("near_image", "images/near1.jpg", fenced("x = [1, 2, 3]\nprint(sum(x))\n")),
        row("truncated", "images/truncated.png", fenced("a = 1\n")),
        row("not_image", "images/text.png", fenced("b = 2\n")),
        row("huge", "images/wide.png", fenced("c = 3\n")),
        row("bad_python", "images/clean4.png", fenced("def f(:\n    return\n")),
        row("bad_js", "images/clean5.png", fenced("function f( { return 1 }", "javascript"), "qa"),
        row("empty_code", "images/clean6.png", fenced("")),
        # the same code as clean2 once comments and blank lines are gone
        row("dup_code", None, fenced("# doubled\ndef solve(n):\n\n    return n * 2   # twice\n")),
        # clean0's code with one number changed
        row("near_code", None, fenced(LONG_CODE.replace("figsize=(8, 5)", "figsize=(9, 5)"))),
        row("missing", "images/gone.png", fenced("d = 4\n")),
    ]
    d.mkdir(exist_ok=True)
    (d / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + "{broken\n")
    return d


EXPECTED = {
    "dup_image": "duplicate_image",
    "near_image": "near_duplicate_image",
    "truncated": "broken_image",
    "not_image": "broken_image",
    "huge": "huge_image",
    "bad_python": "unparseable_code",
    "bad_js": "unparseable_code",
    "empty_code": "empty_code",
    "dup_code": "duplicate_code",
    "near_code": "near_duplicate_code",
    "missing": "missing_image",
    "records.jsonl:16": "broken_json",
}


@pytest.mark.parametrize("workers", [1, 3])
def test_check_finds_every_planted_problem_and_nothing_else(planted: Path, workers: int) -> None:
    found: list[Issue] = []
    report = check_records(load_records(planted), source=str(planted), on_issue=found.append, workers=workers)
    by_id: dict[str, set[str]] = {}
    for issue in found:
        by_id.setdefault(issue.id, set()).add(issue.kind)
    assert by_id == {rid: {kind} for rid, kind in EXPECTED.items()}
    assert report.total == 16
    assert report.clean == 4  # clean0, clean1, clean2, qa
    assert sum(report.counts.values()) == len(EXPECTED)
    assert all(kind in CHECK_KINDS for kind in report.counts)
    near = next(i for i in found if i.kind == "near_duplicate_image")
    assert "clean1" in near.detail
    dup = next(i for i in found if i.kind == "duplicate_code")
    assert "clean2" in dup.detail
    assert not report.ok


def test_clean_data_is_ok(tmp_path: Path) -> None:
    rows = [row(f"r{i}", f"images/{i}.png", fenced(f"value_{i} = {i}\nprint(value_{i} * {i + 1})\n")) for i in range(6)]
    for i in range(6):
        noise(tmp_path / "images" / f"{i}.png", 100 + i)
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = check_records(load_records(tmp_path))
    assert report.ok and report.clean == report.total == 6 and report.images == 6


def test_perceptual_hash_survives_reencoding_and_separates_pictures(tmp_path: Path) -> None:
    a = Image.open(noise(tmp_path / "a.png", 1)).convert("RGB")
    b = Image.open(noise(tmp_path / "b.png", 2)).convert("RGB")
    a.resize((150, 100)).save(tmp_path / "a2.jpg", quality=70)
    a2 = Image.open(tmp_path / "a2.jpg")
    same = bin(perceptual_hash(a) ^ perceptual_hash(a2)).count("1")
    other = bin(perceptual_hash(a) ^ perceptual_hash(b)).count("1")
    assert same <= 4 < 16 <= other


def test_near_duplicates_equal_brute_force() -> None:
    rng = np.random.default_rng(7)
    base = rng.integers(0, 2**63, size=300, dtype=np.int64).astype(np.uint64)
    hashes = base.copy()
    # plant neighbours: copies of earlier hashes with 1..6 bits flipped
    for i in range(150, 300):
        source = base[int(rng.integers(0, 150))]
        flips = rng.choice(64, size=int(rng.integers(1, 7)), replace=False)
        hashes[i] = source ^ np.uint64(sum(1 << int(f) for f in flips))
    valid = np.ones(len(hashes), dtype=bool)
    valid[5] = False
    for bits in (0, 2, 4):
        got = near_duplicates(hashes, valid, bits)
        expected = {}
        for i in range(len(hashes)):
            for j in range(i):
                if valid[i] and valid[j] and bin(int(hashes[i]) ^ int(hashes[j])).count("1") <= bits:
                    expected[i] = j
                    break
        assert got == expected
        if bits == 4:
            assert len(expected) > 50


def test_code_normalisation_and_simhash() -> None:
    assert normalise_code("# c\nx  =  1   # one\n\n\ny = 2\n", "python") == "x = 1\ny = 2"
    assert normalise_code("<!-- note --><p>a</p>\n\n", "html") == "<p>a</p>"
    near = bin(simhash(LONG_CODE) ^ simhash(LONG_CODE.replace("(8, 5)", "(9, 5)"))).count("1")
    far = bin(simhash(LONG_CODE) ^ simhash("def solve(n):\n    return n * 2\n")).count("1")
    assert near <= 3 < 16 <= far


def test_code_blocks_take_fence_language_else_category() -> None:
    record = Record(
        "x",
        (
            Message("user", "q"),
            Message("assistant", "```js\nlet a = 1\n```\n```\nplt.plot()\n```\n```rust\nfn main(){}\n```"),
        ),
        category="chart",
    )
    assert [(b.language, b.code) for b in code_blocks(record)] == [
        ("javascript", "let a = 1"),
        ("python", "plt.plot()"),
        (None, "fn main(){}"),
    ]
    unfenced = Record("y", (Message("user", "q"), Message("assistant", "<html><body></body></html>")), category="html")
    assert [b.language for b in code_blocks(unfenced)] == ["html"]


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from viscodex.training.tiny import build_tiny_models

    return build_tiny_models(tmp_path_factory.mktemp("tiny") / "m").vlm


def test_token_counts_equal_the_models_processor(tiny_vlm: Path, tmp_path: Path) -> None:
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(str(tiny_vlm))  # type: ignore[no-untyped-call]
    counter = TokenCounter(tiny_vlm)
    assert counter.limit == 32768  # the tiny config's max_position_embeddings
    images = [Image.new("RGB", size, (9, 9, 9)) for size in ((100, 60), (300, 41), (28, 28))]
    record = Record(
        "t",
        (
            Message("system", "sys"),
            Message("user", "<image>first <image>"),
            Message("assistant", "```python\nx = 1\n```"),
            Message("user", "and <image>"),
            Message("assistant", "ok"),
        ),
        images=tuple(tmp_path / f"{i}.png" for i in range(3)),
    )
    conversation = [
        {"role": "system", "content": [{"type": "text", "text": "sys"}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "first "}, {"type": "image"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "```python\nx = 1\n```"}]},
        {"role": "user", "content": [{"type": "text", "text": "and "}, {"type": "image"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
    ]
    text = processor.apply_chat_template(conversation, tokenize=False)
    ids = processor(text=[text], images=images, return_tensors="np")["input_ids"]
    assert counter.count([record], [[im.size for im in images]]) == [ids.shape[1]]


def test_too_long_against_max_tokens(tiny_vlm: Path, tmp_path: Path) -> None:
    noise(tmp_path / "images" / "a.png", 1, (280, 280))
    noise(tmp_path / "images" / "b.png", 2)
    rows = [row("long", "images/a.png", fenced("x = 1\n" * 30)), row("short", "images/b.png", fenced("y = 2\n"))]
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    counter = TokenCounter(tiny_vlm, max_tokens=150)
    report = check_records(load_records(tmp_path), CheckConfig(max_tokens=150), tokens=counter)
    assert report.counts == {"too_long": 1}
    assert report.examples["too_long"][0].id == "long"
    assert report.tokens is not None and report.tokens.counted == 2 and report.tokens.over == 1
    assert report.tokens.max > 150


def test_rejected_records_count_by_their_kind() -> None:
    items: list[Record | Rejected] = [
        Rejected("a", "gone", kind="missing_image"),
        Rejected("b", "?", kind=""),
        Record("c", (Message("user", "q"), Message("assistant", "a"))),
    ]
    report = check_records(items)
    assert report.counts == {"missing_image": 1, "bad_field": 1} and report.clean == 1


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "viscodex-train"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_report_json_issues_file_and_exit_codes(planted: Path, tiny_vlm: Path, tmp_path: Path) -> None:
    issues = tmp_path / "issues.jsonl"
    result = run_cli("data", "check", str(planted), "--json", "--issues", str(issues), "--model", str(tiny_vlm))
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["total"] == 16 and report["clean"] == 4
    assert report["counts"]["broken_image"] == 2 and report["tokens"]["limit"] == 32768
    lines = [json.loads(line) for line in issues.read_text().splitlines()]
    assert {(i["id"], i["kind"]) for i in lines} == set(EXPECTED.items())

    clean = tmp_path / "clean"
    noise(clean / "images" / "0.png", 0)
    (clean / "records.jsonl").write_text(json.dumps(row("r0", "images/0.png", fenced("x = 1\n"))) + "\n")
    ok = run_cli("data", "check", str(clean))
    assert ok.returncode == 0, ok.stderr
    assert "1 records, 1 clean" in ok.stdout and "tokens: not counted" in ok.stdout

    missing = run_cli("data", "check", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "does not exist" in missing.stderr
    no_model = run_cli("data", "check", str(clean), "--model", str(tmp_path / "nomodel"))
    assert no_model.returncode == 2 and "Traceback" not in no_model.stderr


def test_cli_config_is_validated_and_applied(planted: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("near_image_bits: 40\n")
    refused = run_cli("data", "check", str(planted), "--config", str(bad))
    assert refused.returncode == 2 and "near_image_bits" in refused.stderr and refused.stderr.count("\n") == 1
    tight = tmp_path / "tight.yaml"
    tight.write_text("max_image_side: 64\nexamples: 0\n")  # the 96x64 pictures are now too large
    result = run_cli("data", "check", str(planted), "--config", str(tight), "--json", "--workers", "1")
    report = json.loads(result.stdout)
    assert report["counts"]["huge_image"] > 1 and report["examples"]["huge_image"] == []
