"""training/data/export.py and `viscodex-train data export`: the files follow LLaMA-Factory's documented
ShareGPT format + dataset_info.json and ms-swift's messages + images JSONL, and re-load through our own
loaders to the same Records."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from viscodex.training.data import IMAGE_PLACEHOLDER, Message, Record, Rejected, export_records, load_records


def png(path: Path, color: tuple[int, int, int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (12, 10), color).save(path)
    return path


@pytest.fixture()
def records(tmp_path: Path) -> list[Record]:
    a = png(tmp_path / "src" / "a.png", (200, 0, 0))
    b = png(tmp_path / "src" / "sub" / "b.png", (0, 200, 0))
    return [
        Record(
            "r1",
            (
                Message("system", "You write matplotlib."),
                Message("user", f"{IMAGE_PLACEHOLDER}Reproduce it."),
                Message("assistant", "```python\nimport matplotlib\n```"),
            ),
            (a,),
            "chart",
        ),
        Record(
            "r2",
            (
                Message("user", f"{IMAGE_PLACEHOLDER} vs {IMAGE_PLACEHOLDER}"),
                Message("assistant", "left"),
                Message("user", "code?"),
                Message("assistant", "```html\n<p>x</p>\n```"),
            ),
            (a, b),
            "html",
        ),
        Record("r3", (Message("user", "text only"), Message("assistant", "fine")), (), None),
    ]


def same(loaded: list[Record | Rejected], expected: list[Record]) -> None:
    """Equal Records: ids, turns, category, and images with the same bytes (copies live elsewhere)."""
    assert all(isinstance(r, Record) for r in loaded), loaded
    got = [r for r in loaded if isinstance(r, Record)]
    assert [(r.id, r.messages, r.category) for r in got] == [(r.id, r.messages, r.category) for r in expected]
    assert [[p.read_bytes() for p in r.images] for r in got] == [[p.read_bytes() for p in r.images] for r in expected]


def test_llamafactory_files_follow_its_documented_format(tmp_path: Path, records: list[Record]) -> None:
    out = tmp_path / "lf"
    report = export_records(records, out, format="llamafactory")
    assert report.written == 3 and report.skipped == {} and report.images_copied == 2
    info = json.loads((out / "dataset_info.json").read_text())
    assert info == {
        "viscodex": {
            "file_name": "viscodex.jsonl",
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "system": "system", "images": "images"},
            "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"},
        }
    }
    rows = [json.loads(line) for line in (out / "viscodex.jsonl").read_text().splitlines()]
    assert rows[0]["system"] == "You write matplotlib." and "system" not in rows[1]
    for row in rows:
        turns = row["conversations"]
        # LLaMA-Factory: human at odd positions, gpt at even ones; one <image> per image
        assert [t["from"] for t in turns] == ["human", "gpt"] * (len(turns) // 2)
        assert set(turns[0]) == {"from", "value"}
        images = row.get("images", [])
        assert sum(t["value"].count("<image>") for t in turns) == len(images)
        # relative to the dataset_dir (LLaMA-Factory's default media_dir), and there
        assert all(not Path(p).is_absolute() and (out / p).is_file() for p in images)
    assert rows[1]["images"][0] == rows[0]["images"][0]  # one copy of a shared image


def test_llamafactory_export_reloads_to_the_same_records(tmp_path: Path, records: list[Record]) -> None:
    out = tmp_path / "lf"
    export_records(records, out, format="llamafactory")
    same(list(load_records(out)), records)  # through dataset_info.json
    same(list(load_records(out / "viscodex.jsonl", layout="sharegpt")), records)


def test_swift_files_follow_its_documented_format_and_reload(tmp_path: Path, records: list[Record]) -> None:
    out = tmp_path / "swift"
    report = export_records(records, out, format="swift", name="train")
    assert report.data == out / "train.jsonl" and report.dataset_info is None
    rows = [json.loads(line) for line in report.data.read_text().splitlines()]
    assert rows[0]["messages"][0] == {"role": "system", "content": "You write matplotlib."}
    for row in rows:
        assert {"messages"} <= set(row) <= {"messages", "images", "id", "category"}
        assert all(set(m) == {"role", "content"} for m in row["messages"])
        # absolute: ms-swift resolves relative paths against the working directory
        assert all(Path(p).is_absolute() and Path(p).is_file() for p in row.get("images", []))
    assert "images" not in rows[2]
    same(list(load_records(report.data, layout="swift")), records)
    same(list(load_records(out)), records)


def test_reference_mode_names_the_original_files(tmp_path: Path, records: list[Record]) -> None:
    out = tmp_path / "ref"
    report = export_records(records, out, format="llamafactory", images="reference")
    assert report.images_copied == 0 and not (out / "images").exists()
    rows = [json.loads(line) for line in report.data.read_text().splitlines()]
    assert rows[1]["images"] == [str(p.resolve()) for p in records[1].images]
    same(list(load_records(out)), records)


def test_unusable_records_are_counted_not_written(tmp_path: Path, records: list[Record]) -> None:
    odd = Record("odd", (Message("user", "a"), Message("user", "b"), Message("assistant", "c")))
    ends_user = Record("tail", (Message("user", "a"), Message("assistant", "b"), Message("user", "c")))
    gone = Record("gone", (Message("user", "<image>"), Message("assistant", "x")), (tmp_path / "nope.png",))
    items: list[Record | Rejected] = [*records, odd, ends_user, gone, Rejected("bad", "broken", kind="broken_json")]
    report = export_records(items, tmp_path / "out", format="swift")
    assert report.written == 3
    assert report.skipped == {"turn_order": 2, "unreadable_image": 1, "broken_json": 1}


def test_other_dataset_info_entries_are_kept(tmp_path: Path, records: list[Record]) -> None:
    out = tmp_path / "lf"
    out.mkdir()
    (out / "dataset_info.json").write_text(json.dumps({"alpaca_en": {"file_name": "alpaca.json"}}))
    export_records(records, out, format="llamafactory", name="mine")
    info = json.loads((out / "dataset_info.json").read_text())
    assert set(info) == {"alpaca_en", "mine"} and info["alpaca_en"] == {"file_name": "alpaca.json"}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "viscodex-train"
    return subprocess.run([str(exe), "data", "export", *args], capture_output=True, text=True, timeout=120)


def test_cli_export_and_its_errors(tmp_path: Path, records: list[Record]) -> None:
    src = tmp_path / "set"
    src.mkdir()
    with (src / "records.jsonl").open("w") as f:
        for r in records:
            row = {
                "id": r.id,
                "category": r.category,
                "images": [str(p) for p in r.images],
                "messages": [{"role": m.role, "content": m.content} for m in r.messages],
            }
            f.write(json.dumps(row) + "\n")
    out = tmp_path / "out"
    done = cli(str(src), "--format", "llamafactory", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "wrote 3 records" in done.stdout
    same(list(load_records(out)), records)
    again = cli(str(src), "--format", "llamafactory", "--out", str(out))
    assert again.returncode == 2 and "--force" in again.stderr and again.stderr.count("\n") == 1
    assert cli(str(src), "--format", "llamafactory", "--out", str(out), "--force").returncode == 0
    bad = cli(str(src), "--format", "axolotl", "--out", str(out))
    assert bad.returncode == 2 and "llamafactory, swift" in bad.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    nothing = cli(str(empty), "--format", "swift", "--out", str(tmp_path / "o2"))
    assert nothing.returncode == 1 and "no record" in nothing.stderr
