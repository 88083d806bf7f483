"""``viscodex/imageToCode``'s params and result, as the protocol spells them (camelCase on the wire).

Params: ``{images: [{data, mime?} | {uri}], textDocument, position | range, kind?, instruction?, stack?,
apply?}``. Result: ``{code, language, kind, verified, score, iterations, runDir, edit}``. Anything that
does not fit is an ``InvalidParams`` error (-32602) whose message says what to send instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from .settings import to_plain

KINDS = ("auto", "ui", "chart", "algorithm", "fix")
STACKS = ("html", "tailwind", "react")


class InvalidParams(JsonRpcInvalidParams):
    """A request the server cannot run as sent; the message says what to do (code -32602)."""

    def __init__(self, message: str) -> None:
        super().__init__(message=message)


@dataclass(frozen=True)
class ImageParam:
    data: str | None = None
    mime: str | None = None
    uri: str | None = None


@dataclass(frozen=True)
class ImageToCodeParams:
    images: tuple[ImageParam, ...]
    uri: str
    range: types.Range
    """Where the code goes: an empty range (a position) inserts, any other replaces."""
    kind: str = "auto"
    instruction: str = ""
    stack: str | None = None
    apply: bool = False
    work_done_token: str | int | None = None


def _position(raw: Any, where: str) -> types.Position:
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), int) and raw[k] >= 0 for k in ("line", "character")):
        raise InvalidParams(f"{where} must be {{line, character}} with non-negative integers, got {raw!r:.80}")
    return types.Position(line=raw["line"], character=raw["character"])


def parse_params(raw: object) -> ImageToCodeParams:
    """The request's params, checked; InvalidParams says what is wrong and how to send it."""
    data = to_plain(raw)
    if isinstance(data, list) and len(data) == 1:  # executeCommand's single argument
        data = data[0]
    if not isinstance(data, dict):
        raise InvalidParams("viscodex/imageToCode takes one object: {images, textDocument, position | range, ...}")
    images = data.get("images")
    if not isinstance(images, list) or not images:
        raise InvalidParams("images must be a non-empty list of {data: base64, mime?} or {uri: file URI}")
    parsed: list[ImageParam] = []
    for number, image in enumerate(images, 1):
        if not isinstance(image, dict):
            raise InvalidParams(f"images[{number - 1}] must be an object {{data, mime?}} or {{uri}}")
        data_field, uri, mime = image.get("data"), image.get("uri"), image.get("mime")
        if (data_field is None) == (uri is None):
            raise InvalidParams(f"images[{number - 1}] needs exactly one of data (base64) or uri (a file URI)")
        if data_field is not None and not isinstance(data_field, str):
            raise InvalidParams(f"images[{number - 1}].data must be a base64 string")
        if uri is not None and not isinstance(uri, str):
            raise InvalidParams(f"images[{number - 1}].uri must be a string (a file URI)")
        if mime is not None and not isinstance(mime, str):
            raise InvalidParams(f"images[{number - 1}].mime must be a string such as image/png")
        parsed.append(ImageParam(data=data_field, mime=mime, uri=uri))
    document = data.get("textDocument")
    if not isinstance(document, dict) or not isinstance(document.get("uri"), str):
        raise InvalidParams("textDocument must be {uri}: the document the code goes into")
    if "range" in data and data["range"] is not None:
        rng = data["range"]
        if not isinstance(rng, dict):
            raise InvalidParams("range must be {start, end}")
        where = types.Range(
            start=_position(rng.get("start"), "range.start"), end=_position(rng.get("end"), "range.end")
        )
        if (where.end.line, where.end.character) < (where.start.line, where.start.character):
            raise InvalidParams("range.end is before range.start")
    elif "position" in data and data["position"] is not None:
        at = _position(data["position"], "position")
        where = types.Range(start=at, end=at)
    else:
        raise InvalidParams("give position (to insert the code) or range (to replace it)")
    kind = data.get("kind") or "auto"
    if kind not in KINDS:
        raise InvalidParams(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    stack = data.get("stack")
    if stack is not None and stack not in STACKS:
        raise InvalidParams(f"unknown stack {stack!r}; use one of {', '.join(STACKS)}")
    instruction = data.get("instruction") or ""
    if not isinstance(instruction, str):
        raise InvalidParams("instruction must be a string")
    apply = data.get("apply", False)
    if not isinstance(apply, bool):
        raise InvalidParams("apply must be true or false")
    token = data.get("workDoneToken")
    return ImageToCodeParams(
        images=tuple(parsed),
        uri=document["uri"],
        range=where,
        kind=kind,
        instruction=instruction,
        stack=stack,
        apply=apply,
        work_done_token=token if isinstance(token, str | int) else None,
    )


@dataclass
class ImageToCodeResult:
    code: str
    language: str
    kind: str
    verified: bool
    score: float
    iterations: int
    run_dir: str
    edit: types.WorkspaceEdit | None
    applied: bool | None = None
    """With ``apply: true``: whether the client applied the edit."""

    def to_json(self, converter: Any) -> dict[str, Any]:
        result: dict[str, Any] = {
            "code": self.code,
            "language": self.language,
            "kind": self.kind,
            "verified": self.verified,
            "score": self.score,
            "iterations": self.iterations,
            "runDir": self.run_dir,
            "edit": converter.unstructure(self.edit) if self.edit is not None else None,
        }
        if self.applied is not None:
            result["applied"] = self.applied
        return result
