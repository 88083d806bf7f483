"""Start and end: logs go to stderr and, once the client is there, to ``window/logMessage`` (never to
stdout, which carries the protocol); ``shutdown`` and ``exit`` close the model backend and the sandbox,
so no container outlives the server."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from .server import VisCodexServer

LEVELS = {
    logging.ERROR: types.MessageType.Error,
    logging.WARNING: types.MessageType.Warning,
    logging.INFO: types.MessageType.Info,
}


class ClientLogHandler(logging.Handler):
    """Sends ``viscodex`` log records to the client as ``window/logMessage`` (thread-safe)."""

    def __init__(self, server: VisCodexServer, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(logging.INFO)
        self.server = server
        self.loop = loop

    def emit(self, record: logging.LogRecord) -> None:
        try:
            kind = next((t for level, t in LEVELS.items() if record.levelno >= level), types.MessageType.Log)
            params = types.LogMessageParams(type=kind, message=self.format(record))
            self.loop.call_soon_threadsafe(self.server.window_log_message, params)
        except RuntimeError:  # the event loop is gone (at exit): a log line must never break anything
            self.handleError(record)


def register(server: VisCodexServer) -> None:
    handler: ClientLogHandler | None = None

    @server.feature(types.INITIALIZED)
    async def initialized(ls: VisCodexServer, params: types.InitializedParams) -> None:
        nonlocal handler
        handler = ClientLogHandler(ls, asyncio.get_running_loop())
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        logger = logging.getLogger("viscodex")
        logger.addHandler(handler)
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
            # stderr keeps the level the user chose (VISCODEX_LOG_LEVEL); only the client hears INFO
            for root_handler in logging.getLogger().handlers:
                if root_handler.level == logging.NOTSET:
                    root_handler.setLevel(logging.getLogger().level)
        from . import configuration

        await configuration.pull(ls)

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: VisCodexServer, *args: object) -> None:
        await ls.runner.close()

    @server.feature(types.EXIT)
    def exit_(ls: VisCodexServer, *args: object) -> None:
        if handler is not None:
            logging.getLogger("viscodex").removeHandler(handler)
        ls.runner.close_sync()
