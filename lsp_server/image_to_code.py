"""``viscodex/imageToCode`` and ``workspace/executeCommand viscodex.imageToCode``: pictures plus the code
around the cursor in, a verified result and its ``WorkspaceEdit`` out.

The handler only translates: params into a ``SolveRequest`` (with the unsaved buffer's context), the
agent's ``Loop`` on the server's shared model backend and sandbox, its events into ``$/progress``, its
result into an edit. A run is a background task: other requests are answered while it works, and
``$/cancelRequest`` or ``window/workDoneProgress/cancel`` stop it and its container.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.exceptions import JsonRpcException
from pygls.uris import from_fs_path, to_fs_path

from . import edits
from .context import CodeContext, code_context, document_language
from .images import check, gather, inside
from .params import ImageToCodeParams, ImageToCodeResult, InvalidParams, parse_params
from .progress import RunProgress
from .runs import RunFailed, RunOutcome, Unavailable
from .server import VisCodexServer  # at run time: pygls reads the command handler's type hints
from .settings import LspSettings

if TYPE_CHECKING:
    from viscodex.agent import SolveRequest

log = logging.getLogger(__name__)

METHOD = "viscodex/imageToCode"
COMMAND = "viscodex.imageToCode"
LANGUAGE_OF_KIND = {"ui": "html", "chart": "python", "algorithm": "python", "fix": "diff"}
REACT_DOCUMENTS = {"jsx", "tsx"}
"""A UI for one of these is written with the React stack and lands as a component, not a page."""
INLINE_BYTES = 2 << 20
"""Base64 image data up to this size is decoded on the protocol's loop (about a millisecond a MB)."""
UI_DOCUMENTS = {"html", "css", "jsx", "tsx", "vue", "svelte"}
_serial = itertools.count(1)


class RequestFailed(JsonRpcException):
    """The run could not be done (model or sandbox unavailable, a model error); LSP's RequestFailed."""

    CODE = -32803


def choose_kind(kind: str, language: str | None, source: str) -> str:
    """The task for ``auto`` when the document says (as the agent's own rule for a context file): a
    UI file -> ui, a Python file -> chart if it uses matplotlib, else algorithm; otherwise the agent
    asks the model."""
    if kind != "auto":
        return kind
    if language in UI_DOCUMENTS:
        return "ui"
    if language == "python":
        return "chart" if "matplotlib" in source or "seaborn" in source else "algorithm"
    return "auto"


def _run_dir(root: Path, kind: str) -> Path:
    return root / ".viscodex" / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}-lsp{next(_serial)}"


def _document_path(uri: str) -> Path | None:
    path = to_fs_path(uri) if uri.startswith("file:") else None
    return Path(path).resolve() if path else None


async def image_to_code(server: VisCodexServer, raw: object, *, apply_edit: bool) -> dict[str, Any]:
    """Run one request; the result as the protocol spells it. ``apply_edit``: apply the edit through
    ``workspace/applyEdit`` (the command always does; the request when it says ``apply: true``)."""
    params = parse_params(raw)
    settings = server.settings
    folders = server.folders()
    doc_path = _document_path(params.uri)
    root = (server.folder_of(doc_path) if doc_path else None) or (folders[0] if folders else None)
    if root is None:
        raise InvalidParams("open a folder (a workspace) first: runs are kept in its .viscodex/runs")
    handler = asyncio.current_task()

    def stop() -> None:  # window/workDoneProgress/cancel: as $/cancelRequest would
        if handler is not None:
            handler.cancel()

    # The progress token is asked for now, and its round trip overlaps the work below; progress begins
    # before the pictures are decoded (the slow check), so the user sees the run at once.
    creating = asyncio.ensure_future(RunProgress.start(server, params.work_done_token, on_cancel=stop))
    await asyncio.sleep(0)  # let it send the create request before the work below
    try:
        inputs, gathered, context, kind, source, version, language = await _prepare(server, params, root, folders)
    except BaseException:
        creating.add_done_callback(_forget)
        raise
    progress = await creating
    progress.begin("checking the images")
    try:
        image_tokens = await asyncio.to_thread(_image_tokens, settings)
        images = await asyncio.to_thread(check, gathered, inputs, kind, image_tokens)
    except asyncio.CancelledError:
        progress.end("cancelled")
        raise
    except BaseException:
        progress.end("failed: the images cannot be used")
        raise
    request = _solve_request(
        params,
        image_tokens=image_tokens,
        settings_kind=kind,
        images=images,
        context=context,
        inputs=inputs,
        root=root,
        server=server,
        doc_name=doc_path.name if doc_path else params.uri,
    )
    run_dir = inputs.parent
    try:
        result = await _run(server, request, run_dir, progress)
    except asyncio.CancelledError:  # the worker stops the run; its container is removed at once
        progress.end("cancelled")
        log.info("run %s cancelled", run_dir.name)
        raise
    except Unavailable as exc:
        progress.end("failed")
        server.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=f"VisCodex: {exc}"))
        raise RequestFailed(str(exc)) from None
    except JsonRpcException:
        progress.end("failed")
        raise
    except Exception:
        progress.end("failed: an unexpected error (a bug; the log has its traceback)")
        log.exception("run %s failed unexpectedly", run_dir.name)
        raise
    out = _result(server, params, result, source, version, doc_path, root, language, images)
    if apply_edit and out.edit is not None:
        out.applied = await _apply(server, out.edit)
    verdict = "verified" if out.verified else "best effort, not verified"
    progress.end(f"{verdict}: score {out.score:.2f} after {out.iterations} iteration(s)")
    return out.to_json(get_converter())


def _forget(creating: asyncio.Future[RunProgress]) -> None:
    """A token asked for by a request that was refused before its run began: drop it."""
    if not creating.cancelled() and creating.exception() is None:
        creating.result().forget()


async def _prepare(
    server: VisCodexServer, params: ImageToCodeParams, root: Path, folders: list[Path]
) -> tuple[Path, tuple[Path, ...], CodeContext, str, str, int | None, str | None]:
    """The request's document context, task, run folder and pictures (their cheap checks)."""
    settings = server.settings
    document = server.workspace.get_text_document(params.uri)
    try:
        source, version = document.source, document.version
        start, end = document.offset_at_position(params.range.start), document.offset_at_position(params.range.end)
    except (OSError, UnicodeDecodeError):  # neither open nor on disk (a new file), or not text (the picture)
        source, version, start, end = "", None, 0, 0
    language = document_language(document.language_id, params.uri)
    context = code_context(source, language, start, end)
    kind = choose_kind(params.kind, language, source)
    if kind == "fix" and not folders:
        raise InvalidParams("kind fix needs a workspace folder: it is the repository the fix is tested in")
    run_dir = _run_dir(root, kind)
    inputs = run_dir / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    payload = sum(len(image.data or "") for image in params.images)
    if payload <= INLINE_BYTES:  # a few milliseconds at most: not worth a thread hop before the first progress
        gathered = gather(params.images, inputs, folders, settings.max_image_bytes)
    else:
        gathered = await asyncio.to_thread(gather, params.images, inputs, folders, settings.max_image_bytes)
    return inputs, gathered, context, kind, source, version, language


def _image_tokens(settings: LspSettings) -> int:
    """The model's pixel budget per image, as the CLI reads it (``VISCODEX_MAX_IMAGE_TOKENS``, the config
    file): the picture check and the run cut pictures for the model alike."""
    from viscodex.agent import describe_failure
    from viscodex.model.settings import ModelSettings

    try:
        return ModelSettings.from_flags(**settings.model_flags()).max_image_tokens
    except Exception as exc:
        described = describe_failure(exc)  # a bad VISCODEX_* variable or config file: say which
        if described is None:
            raise
        raise InvalidParams(described[0]) from None


def _solve_request(
    params: ImageToCodeParams,
    *,
    image_tokens: int,
    settings_kind: str,
    images: tuple[Path, ...],
    context: CodeContext,
    inputs: Path,
    root: Path,
    server: VisCodexServer,
    doc_name: str,
) -> SolveRequest:
    from viscodex.agent import SolveRequest

    settings = server.settings
    context_files: tuple[Path, ...] = ()
    suffix = {"python": ".py", "html": ".html", "javascript": ".js", "jsx": ".jsx", "typescript": ".ts"}
    suffix |= {"tsx": ".tsx", "css": ".css"}
    if context.replaced.strip() and context.language in suffix:
        replaced = inputs / f"replaced{suffix[context.language]}"
        replaced.write_text(context.replaced, encoding="utf-8")
        context_files = (replaced,)  # the agent's kept-code check holds the result to what it replaces
        context = dataclasses.replace(context, replaced="")  # the agent shows the model the file itself
    instruction = "\n\n".join(part for part in (params.instruction, context.prompt(doc_name)) if part)
    return SolveRequest(
        images=images,
        kind=cast(Any, settings_kind),
        instruction=instruction,
        context_files=context_files,
        repo=root if settings_kind == "fix" else None,
        test_cmd=settings.test_cmd,
        stack=cast(Any, params.stack or ("react" if context.language in REACT_DOCUMENTS else settings.stack)),
        max_iters=settings.max_iters,
        candidates=settings.candidates,
        threshold=settings.threshold,
        time_budget_s=settings.time_budget_s,
        timeout_s=settings.timeout,
        max_image_tokens=image_tokens,
    )


async def _run(server: VisCodexServer, request: SolveRequest, run_dir: Path, progress: RunProgress) -> RunOutcome:
    """The agent's loop in the server's run worker (see ``runs``), within one of the run slots."""

    def queued(position: int) -> None:
        limit = server.settings.max_concurrent_runs
        progress.report(f"queued: {position} waiting for {limit} running run(s) to finish")

    async with server.runner.slot(lambda: server.settings, queued):
        progress.report("starting the model and the sandbox")
        try:
            return await server.runner.solve(server.settings, request, run_dir, progress.on_event, progress.report)
        except RunFailed as exc:
            if exc.code == 2:
                raise InvalidParams(str(exc)) from None
            if exc.code == 3:
                raise Unavailable(str(exc)) from None
            raise RequestFailed(str(exc)) from None


def _result(
    server: VisCodexServer,
    params: ImageToCodeParams,
    result: RunOutcome,
    source: str,
    version: int | None,
    doc_path: Path | None,
    root: Path,
    language: str | None,
    images: tuple[Path, ...],
) -> ImageToCodeResult:
    code = result.code
    code_language = LANGUAGE_OF_KIND.get(result.kind, "text")
    edit: types.WorkspaceEdit | None = None
    if code.strip():
        if result.kind == "fix":

            def source_of(path: Path) -> tuple[str, int | None] | None:
                uri = from_fs_path(str(path)) or path.as_uri()
                opened = server.workspace.text_documents.get(uri)
                return (opened.source, opened.version) if opened is not None else None

            try:
                edit = edits.diff_edit(code, root, source_of)
            except (ValueError, OSError) as exc:
                log.warning("the verified diff does not fit the workspace any more: %s", exc)
        elif result.kind == "ui" and language in REACT_DOCUMENTS and (component := edits.react_component(code)):
            code, code_language = component, language  # the verified page's component, without its mounting
            edit = edits.fragment_edit(params.uri, version, params.range, code)
        elif code_language == language:
            text = edits.html_fragment(code, source) if language == "html" else code
            edit = edits.fragment_edit(params.uri, version, params.range, text)
        else:
            edit = edits.whole_file_edit(_new_file(params, doc_path, root, images, code_language), code)
    return ImageToCodeResult(
        code=code,
        language=code_language,
        kind=result.kind,
        verified=result.verified,
        score=result.score,
        iterations=result.iterations,
        run_dir=str(result.run_dir),
        edit=edit,
    )


def _new_file(
    params: ImageToCodeParams, doc_path: Path | None, root: Path, images: tuple[Path, ...], language: str
) -> Path:
    """Where a whole-file result goes: next to the image (named after it) when the image is a file of
    the workspace, else next to the document if it is in the workspace, else in the workspace folder."""
    first = images[0]
    if params.images[0].uri is not None and inside(first, [root]):
        return edits.free_path(first.parent, first.stem, edits.SUFFIX.get(language, ".txt"))
    folder = doc_path.parent if doc_path is not None and inside(doc_path, [root]) else root
    stem = doc_path.stem if doc_path is not None else "viscodex"
    return edits.free_path(folder, stem, edits.SUFFIX.get(language, ".txt"))


async def _apply(server: VisCodexServer, edit: types.WorkspaceEdit) -> bool:
    """Apply the edit through the client; a created file is then opened (``window/showDocument``)."""
    answer = await server.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label="VisCodex"))
    if not answer.applied:
        log.info("the client did not apply the edit: %s", answer.failure_reason or "no reason given")
        return False
    created = [c.uri for c in edit.document_changes or [] if isinstance(c, types.CreateFile)]
    window = server.client_capabilities.window
    if created and window is not None and window.show_document is not None:
        try:
            await server.window_show_document_async(types.ShowDocumentParams(uri=created[0], take_focus=True))
        except JsonRpcException as exc:  # the file was created; not opening it is no failure
            log.info("window/showDocument failed: %s", exc)
    return True


def register(server: VisCodexServer) -> None:
    @server.feature(METHOD)
    async def image_to_code_request(ls: VisCodexServer, params: Any) -> dict[str, Any]:
        """``viscodex/imageToCode``: the edit comes back; applied too when ``apply`` is true."""
        parsed_apply = bool(getattr(params, "apply", False) is True)
        return await image_to_code(ls, params, apply_edit=parsed_apply)

    @server.command(COMMAND)
    async def image_to_code_command(ls: VisCodexServer, *args: Any) -> dict[str, Any]:
        """``viscodex.imageToCode`` with the request's object as its one argument; always applies."""
        return await image_to_code(ls, list(args), apply_edit=True)
