"""Read training data in any layout we know as a stream of `Record`s (or `Rejected`, with the reason).

The layouts, in one registry (``LAYOUTS``), detected from the path and the first record or named:

- ``mcd``: the VisCodex MCD release (``mcd_598k.json``, one JSON array; unzip ``mcd_images.zip`` beside
  it, since its image paths are relative to the file) and ``data synth`` output (``DIR/records.jsonl``):
  records with ``images``, ``messages`` (or ``conversations``) and ``category``.
- ``llava``: LLaVA's JSON: ``id``, ``image`` (one path) and ``conversations`` of ``from``/``value``.
- ``sharegpt``: ShareGPT as LLaMA-Factory reads it: ``conversations`` (``from``/``value``, human/gpt) or
  ``messages`` (``role``/``content``), an optional ``system`` column, ``images``; a folder holding
  LLaMA-Factory's ``dataset_info.json`` is read through that file's ``columns`` and ``tags``. Also
  ms-swift's sharegpt form: ``conversation`` of ``{"human": ..., "assistant": ...}`` exchanges.
- ``swift``: ms-swift's standard JSONL: ``messages`` (``role``/``content``, system inside) and ``images``.
- ``folder``: a plain folder of triples (see ``read_folder``).
- ``hub``: a Hugging Face dataset through ``datasets``: ``hub:NAME`` (streamed), a folder written by
  ``save_to_disk`` or a ``.parquet`` file / folder of them; images stored in the dataset are written
  once to an image cache, because a `Record` holds paths.

Everything streams: JSONL line by line, JSON arrays through ijson (the 598k-record MCD file is one array),
hub datasets through an iterable dataset over Arrow. Image paths are relative to the file that names
them (LLaMA-Factory and ms-swift resolve them against a configured folder or the working directory; the
file's own folder is the one that travels with it). Only existence is checked here; decoding is
``data check``'s work, to keep a training run's data loader cheap.

A record that cannot be used is yielded as `Rejected` with a kind from ``REJECT_KINDS``, never raised;
only a source that cannot be read at all (no such path, a layout that cannot be told, the hub unreachable)
raises `DataError`, before the first record.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

from viscodex.sandbox import LANGUAGE_SPECS

from .records import IMAGE_PLACEHOLDER, Message, Record, Rejected, Role

__all__ = [
    "IMAGE_SUFFIXES",
    "LAYOUTS",
    "REJECT_KINDS",
    "DataError",
    "Layout",
    "load_records",
]

REJECT_KINDS: Final[dict[str, str]] = {
    "broken_json": "a JSONL line or JSON array item that does not parse",
    "bad_field": "a field missing or of the wrong type, or a role we do not train on",
    "no_assistant": "no assistant turn with text",
    "image_count": f"the {IMAGE_PLACEHOLDER} placeholders and the images differ in number",
    "missing_image": "an image file that does not exist",
    "missing_code": "a folder image without its code file",
}
"""Why a loader rejects a record: ``Rejected.kind`` is one of these keys (``data check`` adds its own)."""

IMAGE_SUFFIXES: Final = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")
"""Images of the folder layout, by suffix (lower case)."""

_ROLES: Final[dict[str, Role]] = {
    "system": "system",
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "gpt": "assistant",
    "model": "assistant",
    "bot": "assistant",
}
"""Role names of the layouts (ShareGPT's human/gpt, the OpenAI names) -> ours."""

_DEFAULT_CACHE: Final = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "viscodex" / "data-images"


class DataError(ValueError):
    """A source that cannot be read at all; the message is one line that says what to do."""


class _Reject(Exception):
    """Internal: a row is unusable; turned into a `Rejected` by the reader that saw it."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


# --- rows (dicts from JSON, JSONL or a hub dataset) -> Records -----------------------------------------


@dataclass(frozen=True)
class Keys:
    """Where a row keeps its parts. The defaults accept every JSON layout; LLaMA-Factory's
    ``dataset_info.json`` can rename them (``columns``, ``tags``)."""

    messages: tuple[str, ...] = ("messages", "conversations")
    images: tuple[str, ...] = ("images", "image")
    system: str = "system"
    role_tags: tuple[str, ...] = ("role", "from")
    content_tags: tuple[str, ...] = ("content", "value")
    roles: Mapping[str, Role] | None = None
    """Extra role names (LLaMA-Factory's user_tag/assistant_tag/system_tag), on top of ``_ROLES``."""


@dataclass(frozen=True)
class _Context:
    base: Path
    """Folder that relative image paths are resolved against."""
    source: str
    image_cache: Path


def row_to_record(row: object, fallback_id: str, ctx: _Context, keys: Keys) -> Record | Rejected:
    """One row as a `Record`, or `Rejected` with the reason; never raises on any row."""
    row_id = fallback_id
    try:
        if not isinstance(row, dict):
            raise _Reject("bad_field", f"a record is a JSON object, not {type(row).__name__}")
        if isinstance(row.get("id"), str | int) and not isinstance(row.get("id"), bool):
            row_id = str(row["id"])
        messages = _messages(row, keys)
        images = _images(row, keys, ctx)
        messages = _place_images(messages, len(images))
        if not any(m.role == "assistant" and m.content.strip() for m in messages):
            raise _Reject("no_assistant", "no assistant turn with text")
        missing = [str(p) for p in images if not p.is_file()]
        if missing:
            raise _Reject("missing_image", f"image not found: {missing[0]}" + _more(len(missing)))
        category = row.get("category")
        if category is not None and not isinstance(category, str):
            raise _Reject("bad_field", f"category is {type(category).__name__}, not a string")
        return Record(
            id=row_id,
            messages=messages,
            images=images,
            category=category,
            source=ctx.source,
            meta=_meta(row.get("meta")),
        )
    except _Reject as exc:
        return Rejected(id=row_id, reason=exc.reason, source=ctx.source, kind=exc.kind)


def _more(n: int) -> str:
    return f" (and {n - 1} more)" if n > 1 else ""


def _messages(row: dict[str, Any], keys: Keys) -> tuple[Message, ...]:
    key = next((k for k in keys.messages if k in row), None)
    if key is None:
        raise _Reject("bad_field", f"no {' or '.join(keys.messages)} field")
    turns = row[key]
    if not isinstance(turns, list) or not turns:
        raise _Reject("bad_field", f"{key} is not a non-empty list")
    messages: list[Message] = []
    system = row.get(keys.system)
    if system is not None:
        if not isinstance(system, str):
            raise _Reject("bad_field", f"{keys.system} is {type(system).__name__}, not a string")
        if system.strip():
            messages.append(Message("system", system))
    roles = {**_ROLES, **(keys.roles or {})}
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise _Reject("bad_field", f"{key}[{i}] is {type(turn).__name__}, not an object")
        role_tag = next((t for t in keys.role_tags if t in turn), None)
        content_tag = next((t for t in keys.content_tags if t in turn), None)
        if role_tag is None and content_tag is None and "human" in turn:
            # ms-swift's sharegpt form: one {"human": ..., "assistant": ...} object per exchange
            messages.append(Message("user", _content(turn["human"], f"{key}[{i}].human")))
            if turn.get("assistant") is not None:
                messages.append(Message("assistant", _content(turn["assistant"], f"{key}[{i}].assistant")))
            continue
        if role_tag is None or content_tag is None:
            raise _Reject("bad_field", f"{key}[{i}] has no {'/'.join(keys.role_tags)} or no content")
        name = turn[role_tag]
        role = roles.get(name) if isinstance(name, str) else None
        if role is None:
            raise _Reject("bad_field", f"{key}[{i}] has role {name!r}; known: user, assistant, system")
        messages.append(Message(role, _content(turn[content_tag], f"{key}[{i}]")))
    return tuple(messages)


def _content(value: object, where: str) -> str:
    """A turn's text: a string, or a list of OpenAI-style parts (text parts joined, image parts as the
    placeholder) as hub datasets in the transformers chat format write it."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts: list[str] = []
        for part in value:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif kind in ("image", "image_url"):
                parts.append(IMAGE_PLACEHOLDER)
            else:
                raise _Reject("bad_field", f"{where} has a content part that is neither text nor image")
        return "".join(parts)
    raise _Reject("bad_field", f"{where} content is {type(value).__name__}, not a string")


def _images(row: dict[str, Any], keys: Keys, ctx: _Context) -> tuple[Path, ...]:
    key = next((k for k in keys.images if row.get(k) is not None), None)
    if key is None:
        return ()
    value = row[key]
    items = value if isinstance(value, list) else [value]
    return tuple(_image_path(item, f"{key}", ctx) for item in items)


def _image_path(item: object, where: str, ctx: _Context) -> Path:
    """A path (relative to the file that names it), or a hub dataset's image ({"path", "bytes"}): bytes are
    written once to the image cache under their hash, so the record can name a file."""
    if isinstance(item, dict):
        data = item.get("bytes")
        if isinstance(data, bytes | bytearray) and data:
            return _cached(bytes(data), ctx.image_cache)
        item = item.get("path")
    if isinstance(item, str) and item:
        path = Path(item).expanduser()
        return path if path.is_absolute() else ctx.base / path
    raise _Reject("bad_field", f"{where} holds {type(item).__name__}, not an image path")


def _cached(data: bytes, cache: Path) -> Path:
    digest = hashlib.sha256(data).hexdigest()[:32]
    suffix = ".png" if data[:8] == b"\x89PNG\r\n\x1a\n" else ".jpg" if data[:3] == b"\xff\xd8\xff" else ".img"
    path = cache / digest[:2] / f"{digest}{suffix}"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return path


def _place_images(messages: tuple[Message, ...], n_images: int) -> tuple[Message, ...]:
    """Check the placeholders against the images. A record with images and no placeholder gets them at the
    start of its first user turn (LLaMA-Factory's and ms-swift's reading), so every `Record` marks its
    images explicitly and the trainer never guesses."""
    count = sum(m.content.count(IMAGE_PLACEHOLDER) for m in messages)
    if count == n_images:
        return messages
    if count == 0:
        first_user = next((i for i, m in enumerate(messages) if m.role == "user"), None)
        if first_user is not None:
            lead = messages[first_user]
            placed = Message("user", IMAGE_PLACEHOLDER * n_images + lead.content)
            return (*messages[:first_user], placed, *messages[first_user + 1 :])
    raise _Reject("image_count", f"{count} {IMAGE_PLACEHOLDER} placeholder(s) for {n_images} image(s)")


def _meta(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): v if isinstance(v, str) else json.dumps(v, sort_keys=True) for k, v in value.items()}


# --- files ---------------------------------------------------------------------------------------------


def _jsonl_rows(path: Path) -> Iterator[tuple[str, object]]:
    """(fallback id, row or _Reject) per non-blank line; a line that does not parse is a _Reject."""
    with path.open("rb") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield f"{path.name}:{number}", json.loads(line)
            except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
                yield f"{path.name}:{number}", _Reject("broken_json", f"line {number} is not JSON: {exc}")


def _json_array_rows(path: Path) -> Iterator[tuple[str, object]]:
    """Items of a top-level JSON array, streamed with ijson (a 598k-record file never sits in memory).
    After a parse error the rest of the array cannot be found: one _Reject, then the end."""
    import ijson  # type: ignore[import-untyped]

    with path.open("rb") as f:
        head = f.peek(4096).lstrip()  # peek, not read + seek: the file may be a pipe
        if not head:
            return
        if not head.startswith(b"["):
            raise DataError(f"{path} is not a JSON array of records (a .json file holds one array)")
        done = 0
        try:
            for item in ijson.items(_ReadSome(f), "item", use_float=True):
                yield f"{path.name}#{done}", item
                done += 1
        except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError) as exc:
            reason = f"the JSON array breaks after {done} item(s): {' '.join(str(exc).split())[:200]}"
            yield f"{path.name}#{done}", _Reject("broken_json", reason)


class _ReadSome:
    """A file whose ``read(n)`` returns what is there (one system call) instead of waiting for n bytes, so
    ijson yields each item as soon as it has arrived from a pipe (``zcat mcd_598k.json.gz``)."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f

    def read(self, n: int = -1) -> bytes:
        return self._f.read1(n)  # type: ignore[attr-defined,no-any-return]


def _file_rows(path: Path) -> Iterator[tuple[str, object]]:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return _jsonl_rows(path)
    if suffix == ".json":
        return _json_array_rows(path)
    raise DataError(f"cannot read {path}: a data file ends in .json or .jsonl")


def _read_rows(rows: Iterable[tuple[str, object]], ctx: _Context, keys: Keys) -> Iterator[Record | Rejected]:
    for fallback, row in rows:
        if isinstance(row, _Reject):
            yield Rejected(id=fallback, reason=row.reason, source=ctx.source, kind=row.kind)
        else:
            yield row_to_record(row, fallback, ctx, keys)


# --- the layouts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """One way training data is laid out. Row layouts (``sniff`` set) share the row parser and differ in
    which keys they take; the others read a folder or a dataset their own way."""

    name: str
    summary: str
    keys: Keys | None = None
    """For row layouts: where rows keep messages and images."""
    sniff: Callable[[dict[str, Any]], bool] | None = None
    """For row layouts: does a first row look like this layout (tried in ``LAYOUTS`` order)."""


def _has_turns(row: dict[str, Any], key: str) -> bool:
    value = row.get(key)
    return isinstance(value, list)


LAYOUTS: Final[dict[str, Layout]] = {
    layout.name: layout
    for layout in (
        Layout(
            "mcd",
            "VisCodex MCD release / data synth: images, messages or conversations, category",
            Keys(messages=("messages", "conversations"), images=("images",)),
            lambda row: "category" in row and (_has_turns(row, "messages") or _has_turns(row, "conversations")),
        ),
        Layout(
            "llava",
            "LLaVA JSON: id, image (one path), conversations of from/value",
            Keys(messages=("conversations",), images=("image", "images")),
            lambda row: _has_turns(row, "conversations") and isinstance(row.get("image"), str),
        ),
        Layout(
            "swift",
            "ms-swift JSONL: messages of role/content (system inside), images",
            Keys(messages=("messages",), images=("images",)),
            lambda row: _has_turns(row, "messages"),
        ),
        Layout(
            "sharegpt",
            "ShareGPT as LLaMA-Factory reads it (conversations of from/value, or messages) and as ms-swift "
            "does (conversation of human/assistant pairs); system, images",
            Keys(messages=("conversations", "conversation", "messages"), images=("images", "image")),
            lambda row: _has_turns(row, "conversations") or _has_turns(row, "conversation"),
        ),
        Layout("folder", "a folder of (image, code, instruction) triples: NAME.png, NAME.py|.html|..., NAME.txt"),
        Layout("hub", "a Hugging Face dataset: hub:NAME, a save_to_disk folder or parquet files"),
    )
}
"""Every layout the loaders read, by name, in detection order."""

ROW_LAYOUTS: Final = tuple(name for name, layout in LAYOUTS.items() if layout.sniff is not None)


def load_records(
    path: str | Path,
    *,
    layout: str | None = None,
    split: str = "train",
    image_cache: Path | None = None,
) -> Iterator[Record | Rejected]:
    """Stream the records at ``path`` in ``layout`` (detected when None; one of ``LAYOUTS``).

    ``path`` is a data file (.json array or .jsonl), a folder (``records.jsonl`` from ``data synth``, a
    LLaMA-Factory export with ``dataset_info.json``, a ``save_to_disk`` dataset, parquet files, JSON/JSONL
    files, or else a folder of triples), or ``hub:NAME`` for a dataset on the hub (``split`` picks its
    split). Hub images stored as bytes are written to ``image_cache`` (default
    ``~/.cache/viscodex/data-images``). Raises `DataError` at once (before the generator is iterated)
    when the source cannot be read at all (for a pipe, whose records can be read only once, when its
    first record shows that); bad records come out as `Rejected`.
    """
    if layout is not None and layout not in LAYOUTS:
        raise DataError(f"unknown layout {layout!r}; known: {', '.join(LAYOUTS)}")
    cache = image_cache or _DEFAULT_CACHE
    text = str(path)
    if text.startswith("hub:") or (layout == "hub" and not Path(text).exists()):
        return _hub(text.removeprefix("hub:"), split, cache, remote=True)
    target = Path(text).expanduser()
    if not target.exists():
        raise DataError(f"{target} does not exist (a data file, a folder, or hub:NAME for a hub dataset)")
    if layout == "hub" or (layout is None and _is_hub_local(target)):
        return _hub(str(target), split, cache, remote=False)
    if layout == "folder":
        if not target.is_dir():
            raise DataError(f"the folder layout reads a folder; {target} is a file")
        return read_folder(target)
    files, keys = _data_files(target) if target.is_dir() else ([target], None)
    if not files:
        if layout is not None:
            raise DataError(f"{target} holds no .json or .jsonl files for the {layout} layout")
        return read_folder(target)
    for file in files:
        if file.suffix.lower() not in (".json", ".jsonl"):
            raise DataError(f"cannot read {file}: a data file ends in .json or .jsonl (or name --layout hub)")
    return _read_files([(file, keys or _keys_for(file, layout)) for file in files], layout, cache)


def _keys_for(file: Path, layout: str | None) -> Keys | None:
    """The keys of a file's layout, decided now so a layout that cannot be told is a `DataError` before
    the first record: the named one, else the first records of a regular file are looked at (a pipe can
    be read only once: it is told as it streams)."""
    if layout is not None:
        if layout not in ROW_LAYOUTS:
            raise DataError(f"{file} is a data file; the {layout} layout reads something else")
        return LAYOUTS[layout].keys
    if not file.is_file():
        return None
    rows = _file_rows(file)
    try:
        _, chosen = _detect(rows, file, None)
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()
    return LAYOUTS[chosen].keys


def _read_files(plan: list[tuple[Path, Keys | None]], layout: str | None, cache: Path) -> Iterator[Record | Rejected]:
    for file, keys in plan:
        ctx = _Context(base=file.parent, source=str(file), image_cache=cache)
        rows = _file_rows(file)
        if keys is None:
            rows, chosen = _detect(rows, file, layout)
            keys = LAYOUTS[chosen].keys
        assert keys is not None
        yield from _read_rows(rows, ctx, keys)


def _detect(rows: Iterator[tuple[str, object]], file: Path, layout: str | None) -> tuple[Iterator[Any], str]:
    """The named row layout, or the first whose ``sniff`` takes the first object row (rows before it are
    kept and yielded too)."""
    if layout is not None:
        if layout not in ROW_LAYOUTS:
            raise DataError(f"{file} is a data file; the {layout} layout reads something else")
        return rows, layout
    seen: list[tuple[str, object]] = []
    for item in rows:
        seen.append(item)
        row = item[1]
        if isinstance(row, dict):
            for name in ROW_LAYOUTS:
                sniff = LAYOUTS[name].sniff
                assert sniff is not None
                if sniff(row):
                    return itertools.chain(seen, rows), name
            keys = ", ".join(sorted(map(str, row))[:12])
            raise DataError(
                f"cannot tell the layout of {file}: its first record has keys {keys}; "
                f"name one of {', '.join(ROW_LAYOUTS)}"
            )
        if len(seen) >= 1000:
            break
    if not seen:
        return iter(()), "sharegpt"  # an empty file: no records, whatever the layout
    return itertools.chain(seen, rows), "sharegpt"  # nothing but broken rows: each is rejected


def _data_files(folder: Path) -> tuple[list[Path], Keys | None]:
    """The data files of a folder: data synth's records.jsonl; the files a LLaMA-Factory
    dataset_info.json names (with its columns and tags); else its .json/.jsonl files."""
    synth = folder / "records.jsonl"
    if synth.is_file():
        return [synth], None
    info = folder / "dataset_info.json"
    if info.is_file():
        return _llamafactory(folder, info)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".json", ".jsonl") and p.is_file())
    return files, None


def _llamafactory(folder: Path, info: Path) -> tuple[list[Path], Keys | None]:
    try:
        entries = json.loads(info.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {info}: {exc}") from None
    if not isinstance(entries, dict) or not entries:
        raise DataError(f"{info} holds no dataset entries")
    files: list[Path] = []
    keys: Keys | None = None
    for name, entry in entries.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("file_name"), str):
            raise DataError(f"{info}: entry {name!r} has no file_name")
        if entry.get("formatting", "alpaca") != "sharegpt":
            raise DataError(f"{info}: entry {name!r} is {entry.get('formatting', 'alpaca')}; we read sharegpt")
        columns = entry.get("columns") or {}
        tags = entry.get("tags") or {}
        roles: dict[str, Role] = {}
        for tag, role in (("user_tag", "user"), ("assistant_tag", "assistant"), ("system_tag", "system")):
            if isinstance(tags.get(tag), str):
                roles[tags[tag]] = role  # type: ignore[assignment]
        entry_keys = Keys(
            messages=(columns.get("messages", "conversations"),),
            images=(columns["images"],) if "images" in columns else (),
            system=columns.get("system", "system"),
            role_tags=(tags.get("role_tag", "from"),),
            content_tags=(tags.get("content_tag", "value"),),
            roles=roles,
        )
        if keys is not None and entry_keys != keys:
            raise DataError(f"{info}: entries with different columns or tags; load each file on its own")
        keys = entry_keys
        files.append(folder / entry["file_name"])
    return files, keys


# --- the folder of triples -----------------------------------------------------------------------------

_CODE_SUFFIXES: Final[dict[str, str]] = {
    suffix: name for name, spec in LANGUAGE_SPECS.items() for suffix in spec.suffixes if spec.grammar is not None
}
"""Code files of the folder layout, by suffix -> language (the sandbox's language table)."""


def folder_instruction(language: str) -> str:
    """The user turn of a triple without NAME.txt."""
    return f"Write the {language} code that reproduces this image."


def read_folder(folder: Path) -> Iterator[Record | Rejected]:
    """A folder of triples, walked in sorted order: ``NAME.png`` (or .jpg, .jpeg, .webp, .gif, .bmp), its
    code ``NAME.py`` (or any suffix of the language table: .html, .js, .css, ...) and, optionally, the
    instruction ``NAME.txt`` (else ``folder_instruction``). The record's id is the relative path without
    suffix, its category the first subfolder (``charts/bar1.png`` -> ``charts``), its user turn
    ``<image>`` + the instruction and its assistant turn the code in a fence tagged with the language.
    An image without code is rejected (``missing_code``), code without an image too (``missing_image``).
    One folder's names are listed at a time."""
    source = f"folder:{folder}"
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        base = Path(root)
        stems: dict[str, dict[str, str]] = {}
        for name in sorted(names):
            stem, suffix = os.path.splitext(name)
            suffix = suffix.lower()
            if name.startswith(".") or not stem:
                continue
            kind = (
                "image"
                if suffix in IMAGE_SUFFIXES
                else "code"
                if suffix in _CODE_SUFFIXES
                else "text"
                if suffix == ".txt"
                else None
            )
            if kind is not None:
                stems.setdefault(stem, {}).setdefault(kind, name)
        for stem, parts in sorted(stems.items()):
            rel = (base / stem).relative_to(folder).as_posix()
            if "image" not in parts and "code" not in parts:
                continue  # a lone .txt is not a record (a README, notes)
            if "code" not in parts:
                yield Rejected(rel, f"no code file beside {parts['image']}", source, "missing_code")
                continue
            if "image" not in parts:
                yield Rejected(rel, f"no image beside {parts['code']}", source, "missing_image")
                continue
            yield _triple(folder, base, rel, parts, source)


def _triple(folder: Path, base: Path, rel: str, parts: dict[str, str], source: str) -> Record | Rejected:
    language = _CODE_SUFFIXES[os.path.splitext(parts["code"])[1].lower()]
    try:
        code = (base / parts["code"]).read_text(encoding="utf-8")
        text = parts.get("text")
        instruction = (base / text).read_text(encoding="utf-8").strip() if text else folder_instruction(language)
    except (OSError, UnicodeDecodeError) as exc:
        return Rejected(rel, f"cannot read {exc}", source, "bad_field")
    rel_parts = Path(rel).parts
    return Record(
        id=rel,
        messages=(
            Message("user", IMAGE_PLACEHOLDER + instruction),
            Message("assistant", f"```{language}\n{code.rstrip()}\n```"),
        ),
        images=(base / parts["image"],),
        category=rel_parts[0] if len(rel_parts) > 1 else None,
        source=source,
    )


# --- hub datasets --------------------------------------------------------------------------------------


def _is_hub_local(path: Path) -> bool:
    """A folder written by ``datasets``' save_to_disk, or parquet data."""
    if path.is_file():
        return path.suffix.lower() == ".parquet"
    if (path / "state.json").is_file() or (path / "dataset_dict.json").is_file():
        return True
    return not (path / "records.jsonl").is_file() and any(path.glob("*.parquet"))


def _hub(name: str, split: str, cache: Path, *, remote: bool) -> Iterator[Record | Rejected]:
    """A dataset through ``datasets``, streamed with images left undecoded (bytes go to the cache)."""
    try:
        import datasets  # type: ignore[import-untyped]
    except ImportError:
        raise DataError("reading a hub dataset needs `datasets`: pip install 'viscodex[train]'") from None
    try:
        if remote:
            stream: Any = datasets.load_dataset(name, split=split, streaming=True)
        elif Path(name).is_file() or not _is_saved(Path(name)):
            files = [name] if Path(name).is_file() else sorted(str(p) for p in Path(name).glob("*.parquet"))
            stream = datasets.load_dataset("parquet", data_files=files, split="train", streaming=True)
        else:
            loaded = datasets.load_from_disk(name)
            if isinstance(loaded, datasets.DatasetDict):
                if split not in loaded:
                    raise DataError(f"{name} has no split {split!r}; it has {', '.join(loaded)}")
                loaded = loaded[split]
            stream = loaded.to_iterable_dataset()
        stream = stream.decode(False)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - datasets raises many kinds (offline, missing, bad files)
        offline = " (offline: HF_HUB_OFFLINE is set)" if remote and os.environ.get("HF_HUB_OFFLINE") else ""
        raise DataError(f"cannot open dataset {name}{offline}: {' '.join(str(exc).split())[:300]}") from None
    base = Path(name) if not remote and Path(name).is_dir() else Path(name).parent if not remote else Path.cwd()
    ctx = _Context(base=base, source=f"hub:{name}", image_cache=cache)
    keys = LAYOUTS["sharegpt"].keys
    assert keys is not None
    return _read_rows(((f"{name}:{i}", row) for i, row in enumerate(stream)), ctx, keys)


def _is_saved(path: Path) -> bool:
    return (path / "state.json").is_file() or (path / "dataset_dict.json").is_file()
