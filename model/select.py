"""Pick the backend: a configured server if it answers, else the model in-process. The choice is logged."""

from __future__ import annotations

import logging

from .chat import ChatBackend
from .embedded_backend import EmbeddedBackend
from .errors import ModelError, ModelUnavailable
from .presets import DEFAULT_PRESET, DEMO_PRESET, PRESETS
from .server_backend import ServerBackend
from .settings import ModelSettings

log = logging.getLogger(__name__)


def _missing_model_message(settings: ModelSettings, server_problem: str | None) -> str:
    path = settings.local_model().path
    lead = f"{server_problem}; and n" if server_problem else "N"
    demo = ""
    if not settings.configured() and settings.demo_fallback:
        demo = f", or the offline demo model with `{PRESETS[DEMO_PRESET].build}`"
    return (
        f"{lead}o local model at {path}. Build the merged VisCodex model there with "
        f"`viscodex-train merge --preset {DEFAULT_PRESET}` (downloads the three base models from the "
        f"Hugging Face hub){demo}, or point at a model: --model-path DIR, or --model-url "
        "http://127.0.0.1:8000/v1 for a server (start one with `viscodex-agent serve --model PATH`)"
    )


async def open_backend(settings: ModelSettings) -> ChatBackend:
    """The backend to use now, checked to answer; ModelUnavailable says how to get one if none can."""
    server_problem: str | None = None
    if settings.backend in ("auto", "server") and settings.model_url:
        server = ServerBackend(settings)
        try:
            detail = await server.check()
        except ModelError as exc:
            if settings.backend == "server":
                raise
            server_problem = str(exc)
            log.warning("model server not usable (%s); trying the embedded backend", exc)
        else:
            log.info("model backend: server (%s)", detail)
            return server
    elif settings.backend == "server":
        raise ModelUnavailable("backend=server needs --model-url (or VISCODEX_MODEL_URL)")
    local = settings.local_model()
    path = local.path
    if not (path / "config.json").is_file():
        raise ModelUnavailable(_missing_model_message(settings, server_problem))
    if local.demo:
        log.warning("%s", local.notice())
    embedded = EmbeddedBackend(settings, path, kinds=local.preset.kinds if local.preset is not None else ())
    detail = await embedded.check()
    log.info("model backend: embedded (%s)", detail)
    return embedded


async def probe(settings: ModelSettings) -> tuple[str, str]:
    """Which backend ``open_backend`` would pick and a one-line detail, without loading weights.

    For `doctor`: a server is asked to answer; a local checkpoint is only checked to be present, because
    loading a 7B model to say "it is there" would take minutes.
    """
    server_problem: str | None = None
    if settings.backend in ("auto", "server") and settings.model_url:
        try:
            return "server", await ServerBackend(settings).check()
        except ModelError as exc:
            if settings.backend == "server":
                raise
            server_problem = str(exc)
    local = settings.local_model()
    if not (local.path / "config.json").is_file():
        raise ModelUnavailable(_missing_model_message(settings, server_problem))
    if local.demo:
        return "embedded", f"{local.notice()} (loaded in-process when used)"
    return "embedded", f"{local.path} (loaded in-process when used)"
