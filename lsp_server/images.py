"""The request's images as files the agent can read: base64 data decoded into a run's own folder, a
``file:`` URI checked to lie inside the workspace. Every picture passes the agent's own input check
(``check_picture``) before any model or sandbox starts; what fails is an ``InvalidParams`` error that
names the image and what to do."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from pathlib import Path

from pygls.uris import to_fs_path

from .params import ImageParam, InvalidParams

SUFFIXES = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp", "MPO": ".jpg"}


def inside(path: Path, folders: Sequence[Path]) -> bool:
    return any(path == folder or folder in path.parents for folder in folders)


def uri_path(uri: str, folders: Sequence[Path], what: str) -> Path:
    """The file a ``file:`` URI names, resolved, or InvalidParams when it is not a local file inside one
    of the workspace ``folders``."""
    if not uri.startswith("file:"):
        raise InvalidParams(f"{what}: {uri!r:.120} is not a file: URI; send the image as base64 data instead")
    fs = to_fs_path(uri)
    if fs is None:
        raise InvalidParams(f"{what}: cannot read a path from {uri!r:.120}")
    path = Path(fs).resolve()
    if not inside(path, folders):
        where = ", ".join(str(f) for f in folders) or "no folder (open a folder or workspace)"
        raise InvalidParams(
            f"{what}: {path} is outside the workspace ({where}); copy the image into the workspace or send it "
            "as base64 data"
        )
    return path


def _check(source: Path, name: str, kind: str, max_image_tokens: int) -> str:
    """``check_picture`` on ``source``; the suffix its format has, or InvalidParams."""
    from viscodex.agent import check_picture, describe_failure, model_budget

    try:
        decoded = check_picture(source, kind, model_budget(max_image_tokens))
    except Exception as exc:
        described = describe_failure(exc)
        if described is None:
            raise
        raise InvalidParams(f"{name}: {described[0]}") from None
    return SUFFIXES.get(decoded.format or "", ".png")


def gather(images: Sequence[ImageParam], folder: Path, workspace: Sequence[Path], max_bytes: int) -> tuple[Path, ...]:
    """Each image as a file: base64 data decoded into ``folder``, a URI as the file it names. The cheap
    checks (where, how big, valid base64) are made here; :func:`check` decodes the pictures."""
    paths = []
    limit_mb = max_bytes / (1024 * 1024)
    for number, image in enumerate(images, 1):
        name = f"image {number}"
        if image.uri is not None:
            path = uri_path(image.uri, workspace, name)
            if not path.is_file():
                raise InvalidParams(f"{name}: no such file {path}; save the image there or send it as base64 data")
            size = path.stat().st_size
            if size > max_bytes:
                raise InvalidParams(
                    f"{name}: {path.name} is {size / 1048576:.1f} MiB, over the {limit_mb:g} MiB limit; send a "
                    "smaller picture (crop or scale it) or raise the viscodex.max_image_mb setting"
                )
            paths.append(path)
            continue
        data = image.data or ""
        if len(data) // 4 * 3 > max_bytes + 3:  # judged before decoding: a 50 MB string is never decoded
            raise InvalidParams(
                f"{name}: the base64 data is {len(data) / 1048576:.1f} MB, over the {limit_mb:g} MiB limit once "
                "decoded; send a smaller picture (crop or scale it) or raise the viscodex.max_image_mb setting"
            )
        if image.mime is not None and not image.mime.startswith("image/"):
            raise InvalidParams(f"{name}: mime {image.mime!r} is not an image type; send image/png or image/jpeg")
        try:
            raw = base64.b64decode(data.split(",", 1)[1] if data.startswith("data:") else data, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidParams(
                f"{name}: data is not valid base64; send the file's bytes base64-encoded (no line breaks)"
            ) from None
        if not raw:
            raise InvalidParams(f"{name}: data is empty; send the image's bytes base64-encoded")
        path = folder / f"image-{number}"
        path.write_bytes(raw)
        paths.append(path)
    return tuple(paths)


def check(paths: Sequence[Path], folder: Path, kind: str, max_image_tokens: int) -> tuple[Path, ...]:
    """Decode each picture as a run will (the agent's ``check_picture``); InvalidParams names the one that
    fails. A picture sent as data gets its format's suffix. Blocking: call it in a worker thread."""
    checked = []
    for number, path in enumerate(paths, 1):
        label = f"image {number}" if path.parent == folder else f"image {number} ({path.name})"
        suffix = _check(path, label, kind, max_image_tokens)
        if path.parent == folder and path.suffix != suffix:
            path = path.rename(path.with_suffix(suffix))
        checked.append(path)
    return tuple(checked)
