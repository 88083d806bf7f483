"""Settings, from ``initializationOptions``, then ``workspace/configuration`` (section ``viscodex``) and
each ``workspace/didChangeConfiguration``; a bad value is refused with a ``window/showMessage`` naming
it, and the settings before it stay."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from .settings import SECTION, merged, to_plain

if TYPE_CHECKING:
    from .server import VisCodexServer

log = logging.getLogger(__name__)


def apply(server: VisCodexServer, raw: object, source: str) -> None:
    """Merge ``raw`` into the server's settings; a bad value is reported, not applied."""
    try:
        server.settings = merged(server.settings, raw)
    except ValueError as exc:
        message = f"{exc} in {source}; keeping the previous settings"
        log.warning("%s", message)
        server.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=message))


async def pull(server: VisCodexServer) -> None:
    """Ask the client for the ``viscodex`` section, when it can answer ``workspace/configuration``."""
    workspace = server.client_capabilities.workspace
    if workspace is None or not workspace.configuration:
        return
    try:
        answer = await server.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
        )
    except JsonRpcException as exc:  # a client that fails to answer keeps the settings it gave at initialize
        log.info("workspace/configuration failed: %s", exc)
        return
    if answer and answer[0] is not None:
        apply(server, answer[0], "workspace/configuration")


def register(server: VisCodexServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: VisCodexServer, params: types.InitializeParams) -> None:
        options = to_plain(params.initialization_options)
        if isinstance(options, dict):
            ls.can_pick_image = bool(options.get("canPickImage") or options.get("can_pick_image"))
            apply(ls, options, "initializationOptions")
        experimental = to_plain(params.capabilities.experimental)
        if isinstance(experimental, dict) and isinstance(experimental.get(SECTION), dict):
            ls.can_pick_image = ls.can_pick_image or bool(experimental[SECTION].get("pickImage"))

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: VisCodexServer, params: types.DidChangeConfigurationParams) -> None:
        settings = to_plain(params.settings)
        if isinstance(settings, dict) and settings:
            apply(ls, settings, "workspace/didChangeConfiguration")
        else:  # the client only says something changed: ask it what
            await pull(ls)
