"""Who owns a sandbox container, and reaping the containers of processes that died.

Several VisCodex processes (a language server, a CLI run, an evaluation) share one Docker daemon. Each
container is labelled with its owner's host, pid and process start time; a container is an orphan only
when its owner ran on this host and that exact process (pid *and* start time, so a reused pid does not
count) is gone. Live owners' containers are never touched.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import docker
import docker.errors

LABEL = "org.viscodex.sandbox"
LABEL_HOST = "org.viscodex.owner.host"
LABEL_PID = "org.viscodex.owner.pid"
LABEL_START = "org.viscodex.owner.start"
LABEL_INSTANCE = "org.viscodex.instance"


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    start: str

    def labels(self) -> dict[str, str]:
        return {
            LABEL: "1",
            LABEL_HOST: self.host,
            LABEL_PID: str(self.pid),
            LABEL_START: self.start,
        }

    @classmethod
    def from_labels(cls, labels: dict[str, str]) -> Owner | None:
        try:
            return cls(labels[LABEL_HOST], int(labels[LABEL_PID]), labels[LABEL_START])
        except (KeyError, ValueError):
            return None


def process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), or None if no such process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return None
    # Field 22; the command name (field 2) may contain spaces, so split after its closing paren.
    return stat.rsplit(")", 1)[1].split()[19]


def current_owner() -> Owner:
    pid = os.getpid()
    return Owner(socket.gethostname(), pid, process_start(pid) or "0")


def is_orphan(owner: Owner | None, here: str | None = None) -> bool:
    """True only when we can prove the owner process is gone."""
    if owner is None or owner.host != (here or socket.gethostname()):
        return False
    return process_start(owner.pid) != owner.start


def reap_orphans(client: docker.DockerClient) -> list[str]:
    """Remove containers whose owner process died; return their ids. Safe to call any time.

    Uses the list endpoint's summaries (labels included) rather than ``containers.list``, which
    inspects each container and fails when another process removes one in between.
    """
    removed = []
    for summary in client.api.containers(all=True, filters={"label": LABEL}):
        if is_orphan(Owner.from_labels(summary.get("Labels") or {})):
            try:
                client.api.remove_container(summary["Id"], force=True)
                removed.append(summary["Id"])
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                if exc.status_code != 409:  # 409: its removal is already in progress
                    raise
    return removed
