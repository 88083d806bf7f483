"""Make N items of one kind into an output folder: in parallel, resumable, deterministic by seed.

Commit protocol (what makes a crash or Ctrl-C safe): an item's files (picture, code, the ChartMimic view)
are written first, each through a temporary file and a rename; then one line is appended to
``records.jsonl`` (or ``failures.jsonl``) and flushed to disk. That line is the commit: on a restart an
item is done exactly when its line is there, a torn last line (a crash mid-write) is cut off, and files
of an item without a line are simply written again (with the same bytes, since programs depend only on
``(seed, kind, index)``). Only the main thread writes the two line files.

A failure of the item's own program (it raised, drew nothing, drew a blank picture) is recorded in
``failures.jsonl`` with its reason and not retried: the program is the same on every run. A failure of
the sandbox itself (a container that broke) is counted in the report but not recorded, so a rerun tries
the item again.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import platform
import threading
import time
from collections import Counter
from collections.abc import Callable, Generator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import viscodex
from viscodex.sandbox import RunCancelled, Sandbox, SandboxError

from ..records import IMAGE_PLACEHOLDER
from .base import KINDS, Program, Rendered, Synthesizer, SynthFailure, SynthKind, SynthLevel, item_id

MODULES: dict[SynthKind, str] = {"chart": "charts", "ui": "ui", "algorithm": "algorithms"}
"""The module of each kind; each holds a ``SYNTHESIZER``."""
assert tuple(MODULES) == KINDS
BASIC_MODULES: dict[SynthKind, str] = {"chart": "basic_charts"}
"""The kinds that have a ``basic`` level, and its module."""


def synthesizer_for(kind: SynthKind, level: SynthLevel = "full") -> Synthesizer:
    """The kind's synthesizer at ``level``, imported on first use; SynthError for a level the kind lacks."""
    if level == "basic" and kind not in BASIC_MODULES:
        raise SynthError(f"--level basic exists for --kind {', '.join(BASIC_MODULES)} only, not {kind}")
    name = BASIC_MODULES[kind] if level == "basic" else MODULES[kind]
    module = importlib.import_module(f".{name}", __package__)
    synth: Synthesizer = module.SYNTHESIZER
    return synth


RECORDS = "records.jsonl"
FAILURES = "failures.jsonl"
REPORT = "report.json"
CHARTMIMIC = "ori_500"
REPORTED_FAILURES = 500
"""The report lists the first failures in full; ``failures.jsonl`` holds them all."""
TRANSIENT = "sandbox error"
"""The one failure reason that is not the program's fault: counted, not recorded, retried on a rerun."""


class SynthError(ValueError):
    """The output folder cannot take this run (another kind or seed is in it); the message says why."""


@dataclass
class SynthReport:
    """What ``report.json`` holds; also returned to the caller."""

    kind: str
    seed: int
    n: int
    out: str
    level: str = "full"
    kept: int = 0
    failed: int = 0
    resumed: int = 0
    """Items found done (kept or failed) when this run started, and not made again."""
    made: int = 0
    """Items this run rendered (kept or failed), the sandbox work it did."""
    sandbox_errors: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    by_type: dict[str, int] = field(default_factory=dict)
    """Kept items per chart type (charts), stack (ui) or problem family (algorithms)."""
    workers: int = 1
    elapsed_s: float = 0.0
    items_per_minute: float = 0.0
    status: str = "running"
    versions: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, ensure_ascii=False) + "\n"


Report = Callable[[str, dict[str, Any]], None]
"""``report(event, data)``: ``start`` (total, done), ``item`` (id, kept, reason)."""


def _quiet(_event: str, _data: dict[str, Any]) -> None:
    pass


TYPE_KEYS = ("chart_type", "stack", "family")


def synthesize(
    kind: SynthKind,
    *,
    n: int,
    seed: int,
    out: Path,
    workers: int = 2,
    report: Report = _quiet,
    sandbox: Sandbox | None = None,
    synthesizer: Synthesizer | None = None,
    level: SynthLevel = "full",
) -> SynthReport:
    """Make items ``0 .. n-1`` of ``kind`` into ``out`` (see the package docstring for the layout).

    Items already committed there are skipped. ``sandbox``: one to use (the caller keeps it open); by
    default one is started with a warm pool of ``workers`` containers. ``synthesizer`` replaces the
    kind's own (tests use it to feed programs that fail).
    """
    synth = synthesizer or synthesizer_for(kind, level)
    out.mkdir(parents=True, exist_ok=True)
    check_folder(out, kind, seed, level)
    kept = [_brief(row) for row in _read_lines(out / RECORDS)]
    failed = _read_lines(out / FAILURES)
    done = {row["id"] for row in kept} | {row["id"] for row in failed}
    todo = [i for i in range(n) if item_id(kind, seed, i) not in done]
    summary = SynthReport(kind=kind, seed=seed, n=n, out=str(out), level=level, workers=workers)
    summary.resumed = n - len(todo)
    report("start", {"total": n, "done": summary.resumed})
    started = time.monotonic()
    own = sandbox is None
    box = sandbox if sandbox is not None else Sandbox(pool=dict.fromkeys(synth.roles, workers))
    try:
        summary.versions = _versions(box)
        _write_report(out, summary, kept, failed)
        items = contextlib.closing(_run(synth, box, seed, todo, workers))
        with items as finishing:
            for program, outcome in finishing:
                summary.made += 1
                if isinstance(outcome, Rendered):
                    row = _commit_item(out, program, outcome)
                    kept.append(_brief(row))
                    _append_line(out / RECORDS, row)
                    report("item", {"id": program.id, "kept": True, "reason": None})
                else:
                    failure = {"id": program.id, "index": program.index, "reason": outcome.reason}
                    failure["detail"] = outcome.detail[:500]
                    if outcome.reason == TRANSIENT:
                        summary.sandbox_errors += 1
                    else:
                        failed.append(failure)
                        _append_line(out / FAILURES, failure)
                    report("item", {"id": program.id, "kept": False, "reason": outcome.reason})
        summary.status = "complete" if summary.sandbox_errors == 0 else "incomplete"
        _sort_lines(out / RECORDS, n)
    except BaseException:
        summary.status = "interrupted"
        raise
    finally:
        summary.elapsed_s = round(time.monotonic() - started, 2)
        if summary.made and summary.elapsed_s > 0:
            summary.items_per_minute = round(60 * summary.made / summary.elapsed_s, 2)
        _write_report(out, summary, kept, failed)
        if own:
            box.close()
    return summary


def _run(
    synth: Synthesizer, box: Sandbox, seed: int, todo: list[int], workers: int
) -> Generator[tuple[Program, Rendered | SynthFailure]]:
    """Render the items on ``workers`` threads, at most ``2 * workers`` in flight, yielding each as it
    finishes. When the consumer stops (Ctrl-C in the main thread), the runs still going are cancelled
    (their containers destroyed) and nothing of them is committed."""
    cancel = threading.Event()
    pending = iter(todo)
    running: dict[Future[Rendered], Program] = {}

    def one(program: Program) -> Rendered:
        if cancel.is_set():
            raise RunCancelled("cancelled")
        return synth.render(program, box, cancel)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="viscodex-synth") as pool:
        try:
            while True:
                while len(running) < 2 * workers:
                    index = next(pending, None)
                    if index is None:
                        break
                    try:
                        program = synth.generate(seed, index)
                    except Exception as exc:  # noqa: BLE001 - a generator bug costs its item, not the run
                        empty = Program(synth.kind, seed, index, "", "", "", "")
                        yield empty, SynthFailure("generator error", f"{type(exc).__name__}: {exc}")
                        continue
                    running[pool.submit(one, program)] = program
                if not running:
                    return
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in sorted(finished, key=lambda f: running[f].index):
                    program = running.pop(future)
                    try:
                        yield program, future.result()
                    except SynthFailure as exc:
                        yield program, exc
                    except SandboxError as exc:
                        yield program, SynthFailure(TRANSIENT, str(exc))
                    except RunCancelled:
                        raise
                    except Exception as exc:  # noqa: BLE001 - counted with its reason, never a crash mid-run
                        yield program, SynthFailure("internal error", f"{type(exc).__name__}: {exc}")
        finally:
            cancel.set()
            for future in running:
                future.cancel()


def _commit_item(out: Path, program: Program, rendered: Rendered) -> dict[str, Any]:
    """Write the item's files (atomically, each) and return its record line."""
    image = f"images/{program.id}.png"
    _write_atomic(out / image, rendered.png)
    _write_atomic(out / "code" / f"{program.id}.{program.ext}", program.code.encode("utf-8"))
    if program.kind == "chart":
        from .charts import chartmimic_script

        script = chartmimic_script(program.code, program.id)
        _write_atomic(out / CHARTMIMIC / f"{program.id}.py", script.encode("utf-8"))
        _write_atomic(out / CHARTMIMIC / f"{program.id}.png", rendered.png)
    answer = f"```{program.language}\n{program.code.rstrip()}\n```"
    return {
        "id": program.id,
        "category": program.kind,
        "images": [image],
        "messages": [
            {"role": "user", "content": f"{IMAGE_PLACEHOLDER}\n{program.instruction}"},
            {"role": "assistant", "content": answer},
        ],
        "meta": {**program.meta, **rendered.meta, "kind": program.kind, "seed": program.seed, "index": program.index},
    }


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _append_line(path: Path, row: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _read_lines(path: Path) -> list[dict[str, Any]]:
    """The committed lines of a line file; a torn last line (no newline: the write was cut) is removed."""
    if not path.is_file():
        return []
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
        path.write_bytes(data)
    rows = []
    for line in data.decode("utf-8").splitlines():
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and isinstance(row.get("id"), str):
                rows.append(row)
    return rows


def _sort_lines(path: Path, n: int) -> None:
    """Rewrite ``records.jsonl`` in item order, so a finished folder's bytes do not depend on the order
    in which workers finished."""
    rows = _read_lines(path)
    rows.sort(key=lambda row: int(row.get("meta", {}).get("index", n)))
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    _write_atomic(path, text.encode("utf-8"))


def check_folder(out: Path, kind: str, seed: int, level: str = "full") -> None:
    """SynthError if ``out`` holds items of another kind, seed or level (they would mix in one records
    file)."""
    path = out / REPORT
    if not path.is_file():
        return
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    before = (previous.get("kind"), previous.get("seed"), previous.get("level", "full"))
    if before != (kind, seed, level):
        raise SynthError(
            f"{out} holds --kind {before[0]} --seed {before[1]} --level {before[2]}; "
            f"use another --out for --kind {kind} --seed {seed} --level {level}"
        )


def _versions(box: Sandbox) -> dict[str, Any]:
    image = box.versions
    wanted = ("matplotlib", "numpy", "pillow")
    return {
        "viscodex": viscodex.__version__,
        "python": platform.python_version(),
        "sandbox_image": box.image,
        "sandbox_python": image.python,
        "sandbox_node": image.node,
        "sandbox_packages": {name: image.packages[name] for name in wanted if name in image.packages},
    }


def _brief(row: dict[str, Any]) -> dict[str, str]:
    """What the report needs of a kept record (its id and type), so a long run holds no full records."""
    meta = row.get("meta", {})
    return {"id": row["id"], "type": next((str(meta[k]) for k in TYPE_KEYS if k in meta), "?")}


def _write_report(out: Path, summary: SynthReport, kept: list[dict[str, str]], failed: list[dict[str, Any]]) -> None:
    summary.kept = len(kept)
    summary.failed = len(failed)
    summary.reasons = dict(Counter(row["reason"] for row in failed))
    summary.failures = failed[:REPORTED_FAILURES]
    summary.by_type = dict(sorted(Counter(row["type"] for row in kept).items()))
    _write_atomic(out / REPORT, summary.to_json().encode("utf-8"))
