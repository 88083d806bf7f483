"""training/data/loaders.py: every layout round-trips to the same Records, every bad-record kind is
rejected with its reason, and loading streams (a record comes out before its file is finished)."""

from __future__ import annotations

import json
import os
import threading
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image

from viscodex.training.data import (
    IMAGE_PLACEHOLDER,
    LAYOUTS,
    REJECT_KINDS,
    DataError,
    Message,
    Record,
    Rejected,
    load_records,
)


def png(path: Path, color: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (16, 12)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


def canonical(root: Path) -> list[Record]:
    """Two records: one image and a system prompt; two images over two user turns."""
    a = png(root / "images" / "a.png")
    b = png(root / "images" / "b.png", (10, 200, 10))
    return [
        Record(
            id="r1",
            messages=(
                Message("system", "You write matplotlib code."),
                Message("user", f"{IMAGE_PLACEHOLDER}Reproduce this chart."),
                Message("assistant", "```python\nimport matplotlib.pyplot as plt\nplt.bar([1], [2])\n```"),
            ),
            images=(a,),
            category="chart",
        ),
        Record(
            id="r2",
            messages=(
                Message("user", f"Compare {IMAGE_PLACEHOLDER} with"),
                Message("assistant", "They differ."),
                Message("user", f"{IMAGE_PLACEHOLDER} now write it"),
                Message("assistant", "```html\n<p>hi</p>\n```"),
            ),
            images=(a, b),
            category="html",
        ),
    ]


def essence(records: Sequence[Record | Rejected], *, category: bool = True) -> list[tuple[object, ...]]:
    """What must survive a layout: id, turns, image files (resolved) and category."""
    out: list[tuple[object, ...]] = []
    for r in records:
        assert isinstance(r, Record), r
        out.append((r.id, r.messages, tuple(p.resolve() for p in r.images), r.category if category else None))
    return out


def rel(path: Path, base: Path) -> str:
    return path.relative_to(base).as_posix()


GPT_ROLES = {"user": "human", "assistant": "gpt", "system": "system"}


def test_the_layout_registry_names_every_layout() -> None:
    assert set(LAYOUTS) == {"mcd", "llava", "swift", "sharegpt", "folder", "hub"}
    assert "missing_image" in REJECT_KINDS and "broken_json" in REJECT_KINDS


def test_mcd_release_json_array(tmp_path: Path) -> None:
    records = canonical(tmp_path)
    rows = [
        {
            "id": r.id,
            "category": r.category,
            "images": [rel(p, tmp_path) for p in r.images],
            "conversations": [{"from": GPT_ROLES[m.role], "value": m.content} for m in r.messages],
        }
        for r in records
    ]
    (tmp_path / "mcd_598k.json").write_text(json.dumps(rows, indent=1))
    loaded = list(load_records(tmp_path / "mcd_598k.json"))
    assert essence(loaded) == essence(list(records))
    assert all(r.source == str(tmp_path / "mcd_598k.json") for r in loaded if isinstance(r, Record))


def test_synth_output_folder_loads(tmp_path: Path) -> None:
    """data synth writes DIR/records.jsonl with images relative to DIR and a meta object."""
    records = canonical(tmp_path)
    with (tmp_path / "records.jsonl").open("w") as f:
        for r in records:
            row = {
                "id": r.id,
                "category": r.category,
                "images": [rel(p, tmp_path) for p in r.images],
                "messages": [{"role": m.role, "content": m.content} for m in r.messages],
                "meta": {"seed": 3, "renderer": "matplotlib"},
            }
            f.write(json.dumps(row) + "\n")
    loaded = list(load_records(tmp_path))
    assert essence(loaded) == essence(list(records))
    first = loaded[0]
    assert isinstance(first, Record) and first.meta == {"seed": "3", "renderer": "matplotlib"}


def test_sharegpt_json_with_system_column_as_llamafactory_reads_it(tmp_path: Path) -> None:
    records = canonical(tmp_path)
    rows = []
    for r in records:
        system = [m.content for m in r.messages if m.role == "system"]
        rows.append(
            {
                "id": r.id,
                "conversations": [
                    {"from": GPT_ROLES[m.role], "value": m.content} for m in r.messages if m.role != "system"
                ],
                **({"system": system[0]} if system else {}),
                "images": [rel(p, tmp_path) for p in r.images],
            }
        )
    (tmp_path / "data.json").write_text(json.dumps(rows))
    assert essence(list(load_records(tmp_path / "data.json")), category=False) == essence(list(records), category=False)


def test_llava_json_single_image_and_placeholder_added(tmp_path: Path) -> None:
    image = png(tmp_path / "coco" / "1.jpg")
    rows = [
        {
            "id": 7,
            "image": "coco/1.jpg",
            "conversations": [
                {"from": "human", "value": "<image>\nWhat is this?"},
                {"from": "gpt", "value": "A square."},
            ],
        },
        {
            "id": "no-placeholder",
            "image": "coco/1.jpg",
            "conversations": [{"from": "human", "value": "Describe."}, {"from": "gpt", "value": "Red."}],
        },
    ]
    (tmp_path / "llava.json").write_text(json.dumps(rows))
    loaded = list(load_records(tmp_path / "llava.json"))
    assert essence(loaded, category=False) == [
        ("7", (Message("user", "<image>\nWhat is this?"), Message("assistant", "A square.")), (image.resolve(),), None),
        # no placeholder: the image goes at the start of the first user turn, as LLaMA-Factory reads it
        (
            "no-placeholder",
            (Message("user", "<image>Describe."), Message("assistant", "Red.")),
            (image.resolve(),),
            None,
        ),
    ]


def test_swift_jsonl_messages_and_images(tmp_path: Path) -> None:
    records = canonical(tmp_path)
    sub = tmp_path / "swift"
    sub.mkdir()
    with (sub / "train.jsonl").open("w") as f:
        for r in records:
            f.write(
                json.dumps(
                    {
                        "id": r.id,
                        "messages": [{"role": m.role, "content": m.content} for m in r.messages],
                        "images": [str(p) for p in r.images],  # ms-swift wants absolute paths (cwd-relative)
                    }
                )
                + "\n"
            )
    loaded = list(load_records(sub, layout="swift"))
    assert essence(loaded, category=False) == essence(list(records), category=False)


def test_swift_sharegpt_pairs(tmp_path: Path) -> None:
    """ms-swift's own sharegpt form: system column, conversation of human/assistant exchanges."""
    records = canonical(tmp_path)
    rows = []
    for r in records:
        turns = [m for m in r.messages if m.role != "system"]
        system = [m.content for m in r.messages if m.role == "system"]
        pairs = [{"human": q.content, "assistant": a.content} for q, a in zip(turns[::2], turns[1::2], strict=True)]
        rows.append(
            {
                "id": r.id,
                **({"system": system[0]} if system else {}),
                "conversation": pairs,
                "images": [str(p) for p in r.images],
            }
        )
    (tmp_path / "swift_sharegpt.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    loaded = list(load_records(tmp_path / "swift_sharegpt.jsonl"))
    assert essence(loaded, category=False) == essence(list(records), category=False)


def test_llamafactory_folder_with_custom_columns_and_tags(tmp_path: Path) -> None:
    records = canonical(tmp_path)
    rows = [
        {
            "msgs": [
                {"who": {"user": "U", "assistant": "A", "system": "S"}[m.role], "text": m.content} for m in r.messages
            ],
            "pics": [rel(p, tmp_path) for p in r.images],
            "id": r.id,
        }
        for r in records
    ]
    (tmp_path / "mine.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    info = {
        "mine": {
            "file_name": "mine.jsonl",
            "formatting": "sharegpt",
            "columns": {"messages": "msgs", "images": "pics"},
            "tags": {
                "role_tag": "who",
                "content_tag": "text",
                "user_tag": "U",
                "assistant_tag": "A",
                "system_tag": "S",
            },
        }
    }
    (tmp_path / "dataset_info.json").write_text(json.dumps(info))
    assert essence(list(load_records(tmp_path)), category=False) == essence(list(records), category=False)


def test_folder_of_triples(tmp_path: Path) -> None:
    root = tmp_path / "triples"
    bar = png(root / "charts" / "bar.png")
    (root / "charts" / "bar.py").write_text("import matplotlib\n\n")
    (root / "charts" / "bar.txt").write_text("Make the bar chart.\n")
    page = png(root / "page.jpg")
    (root / "page.html").write_text("<p>x</p>")
    (root / "README.txt").write_text("not a record")
    png(root / "orphan.png")
    (root / "lonely.css").write_text("p{}")
    loaded = list(load_records(root))
    records = [r for r in loaded if isinstance(r, Record)]
    assert essence(records) == [
        (
            "page",
            (
                Message("user", "<image>Write the html code that reproduces this image."),
                Message("assistant", "```html\n<p>x</p>\n```"),
            ),
            (page.resolve(),),
            None,
        ),
        (
            "charts/bar",
            (Message("user", "<image>Make the bar chart."), Message("assistant", "```python\nimport matplotlib\n```")),
            (bar.resolve(),),
            "charts",
        ),
    ]
    rejected = sorted((r.id, r.kind) for r in loaded if isinstance(r, Rejected))
    assert rejected == [("lonely", "missing_image"), ("orphan", "missing_code")]


def _save_hub(tmp_path: Path) -> tuple[object, list[bytes]]:
    datasets = pytest.importorskip("datasets")
    blobs = []
    for color in ((1, 2, 3), (200, 100, 0)):
        path = png(tmp_path / "src" / f"{color[0]}.png", color)
        blobs.append(path.read_bytes())
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "messages": datasets.List({"role": datasets.Value("string"), "content": datasets.Value("string")}),
            "images": datasets.List(datasets.Image()),
        }
    )
    ds = datasets.Dataset.from_dict(
        {
            "id": ["h0", "h1"],
            "messages": [
                [{"role": "user", "content": "<image>chart?"}, {"role": "assistant", "content": "```python\nx=1\n```"}],
                [{"role": "user", "content": "two <image><image>"}, {"role": "assistant", "content": "ok"}],
            ],
            "images": [
                [{"bytes": blobs[0], "path": None}],
                [{"bytes": blobs[0], "path": None}, {"bytes": blobs[1], "path": None}],
            ],
        },
        features=features,
    )
    return ds, blobs


@pytest.mark.parametrize("kind", ["save_to_disk", "parquet"])
def test_hub_dataset_saved_locally(tmp_path: Path, kind: str) -> None:
    ds, blobs = _save_hub(tmp_path)
    if kind == "save_to_disk":
        target = tmp_path / "saved"
        ds.save_to_disk(str(target))  # type: ignore[attr-defined]
    else:
        target = tmp_path / "pq"
        target.mkdir()
        ds.to_parquet(str(target / "train-00000.parquet"))  # type: ignore[attr-defined]
    cache = tmp_path / "cache"
    loaded = list(load_records(target, image_cache=cache))
    assert [r.id for r in loaded] == ["h0", "h1"]
    assert all(isinstance(r, Record) for r in loaded)
    h1 = loaded[1]
    assert isinstance(h1, Record)
    assert [p.read_bytes() for p in h1.images] == blobs
    assert all(p.is_relative_to(cache) for p in h1.images)
    assert h1.messages == (Message("user", "two <image><image>"), Message("assistant", "ok"))
    # the same bytes are one cached file
    h0 = loaded[0]
    assert isinstance(h0, Record) and h0.images[0] == h1.images[0]


def test_hub_name_offline_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(DataError) as err:
        load_records("hub:nobody/no-such-dataset-xyz")
    assert "\n" not in str(err.value) and "no-such-dataset-xyz" in str(err.value)


def test_every_bad_record_kind_is_rejected_with_its_reason(tmp_path: Path) -> None:
    png(tmp_path / "ok.png")
    good = {"role": "assistant", "content": "fine"}
    lines = [
        json.dumps(
            {"id": "missing", "images": ["nope.png"], "messages": [{"role": "user", "content": "<image>x"}, good]}
        ),
        json.dumps(
            {"id": "count", "images": ["ok.png"], "messages": [{"role": "user", "content": "<image><image>"}, good]}
        ),
        json.dumps({"id": "noasst", "messages": [{"role": "user", "content": "hi"}]}),
        json.dumps(
            {"id": "emptyasst", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": " "}]}
        ),
        json.dumps({"id": "type", "messages": [{"role": "user", "content": 3}, good]}),
        json.dumps({"id": "role", "messages": [{"role": "tool", "content": "x"}, good]}),
        json.dumps({"id": "imgtype", "images": [5], "messages": [{"role": "user", "content": "<image>"}, good]}),
        json.dumps({"id": "cat", "category": 4, "messages": [{"role": "user", "content": "q"}, good]}),
        json.dumps([1, 2]),
        '{"id": "broken", "messages": [',
        json.dumps({"id": "fine", "images": ["ok.png"], "messages": [{"role": "user", "content": "<image>q"}, good]}),
    ]
    (tmp_path / "bad.jsonl").write_text("\n".join(lines) + "\n\n")
    out = list(load_records(tmp_path / "bad.jsonl", layout="swift"))
    kinds = {r.id: r.kind for r in out if isinstance(r, Rejected)}
    assert kinds == {
        "missing": "missing_image",
        "count": "image_count",
        "noasst": "no_assistant",
        "emptyasst": "no_assistant",
        "type": "bad_field",
        "role": "bad_field",
        "imgtype": "bad_field",
        "cat": "bad_field",
        "bad.jsonl:9": "bad_field",
        "bad.jsonl:10": "broken_json",
    }
    assert [r.id for r in out if isinstance(r, Record)] == ["fine"]
    reasons = {r.id: r.reason for r in out if isinstance(r, Rejected)}
    assert "nope.png" in reasons["missing"] and "2 <image> placeholder(s) for 1 image(s)" in reasons["count"]
    assert "'tool'" in reasons["role"] and "line 10" in reasons["bad.jsonl:10"]
    assert all(r.kind in REJECT_KINDS for r in out if isinstance(r, Rejected))


def test_a_broken_json_array_rejects_the_rest_and_keeps_the_start(tmp_path: Path) -> None:
    row = {"id": "a", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    (tmp_path / "cut.json").write_text("[" + json.dumps(row) + ', {"id": ')
    out = list(load_records(tmp_path / "cut.json", layout="swift"))
    assert isinstance(out[0], Record) and out[0].id == "a"
    assert len(out) == 2 and isinstance(out[1], Rejected) and out[1].kind == "broken_json"


def test_unreadable_sources_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_records(tmp_path / "nothing")
    with pytest.raises(DataError, match="unknown layout"):
        load_records(tmp_path, layout="csv")
    # at the call, not mid-stream: a caller (the trainer) catches DataError around load_records
    (tmp_path / "obj.json").write_text('{"a": 1}')
    with pytest.raises(DataError, match="not a JSON array"):
        load_records(tmp_path / "obj.json")
    (tmp_path / "odd.jsonl").write_text(json.dumps({"text": "x"}) + "\n")
    with pytest.raises(DataError, match="cannot tell the layout"):
        load_records(tmp_path / "odd.jsonl")
    with pytest.raises(DataError, match="reads a folder"):
        load_records(tmp_path / "odd.jsonl", layout="folder")
    (tmp_path / "pics").mkdir()
    with pytest.raises(DataError, match="files for the mcd layout"):
        load_records(tmp_path / "pics", layout="mcd")


ROW = {
    "id": "x",
    "category": "qa",
    "messages": [{"role": "user", "content": "question " * 20}, {"role": "assistant", "content": "answer " * 20}],
}


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_records_come_out_before_the_file_is_finished(tmp_path: Path, suffix: str) -> None:
    """A pipe: the writer sends one record and waits; the loader must yield it before the rest exists."""
    fifo = tmp_path / f"stream{suffix}"
    os.mkfifo(fifo)
    first_seen = threading.Event()
    failures: list[str] = []

    def write() -> None:
        with fifo.open("w") as f:
            row = json.dumps(ROW)
            f.write(("[" + row + ",") if suffix == ".json" else row + "\n")
            f.flush()
            if not first_seen.wait(20):
                failures.append("the loader did not yield before the file was finished")
            f.write((row + "]") if suffix == ".json" else row + "\n")

    writer = threading.Thread(target=write)
    writer.start()
    try:
        records = load_records(fifo, layout="mcd")
        first = next(records)
        first_seen.set()
        assert isinstance(first, Record) and first.id == "x"
        assert [type(r) for r in records] == [Record]
    finally:
        first_seen.set()
        writer.join(30)
    assert not failures


def test_a_big_json_array_streams_in_little_memory(tmp_path: Path) -> None:
    """An ~8 MB MCD-style array: the loader's peak Python allocation stays a small part of the file."""
    path = tmp_path / "big.json"
    row = json.dumps(ROW)
    n = 16_000
    with path.open("w") as f:
        f.write("[" + ",".join([row] * n) + "]")
    size = path.stat().st_size
    assert size > 6e6
    tracemalloc.start()
    try:
        count = sum(1 for r in load_records(path) if isinstance(r, Record))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == n
    assert peak < size / 10, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB file"
