"""One hardened container running the shim, attached before start, used for one job or, recycled, for
several jobs with a proven reset between them (``pool.py`` decides which).

The host talks to the shim over the container's attached stdin/stdout: a ``ready`` line once the role's
preload is done, then one job line in and one result line out (and, when recycling, one ``reset`` line
with what the shim checked). Attaching before start means nothing the
shim writes can be missed, and a warm run costs one write and one read instead of a `docker exec`.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import threading
import time
from typing import Any, Literal

import docker
import docker.errors
from docker.types import Ulimit

from .errors import RunCancelled, SandboxError
from .limits import Limits
from .owners import current_owner
from .results import PageFonts
from .shim import payload

Role = Literal["exec", "chart", "html"]
LABEL_ROLE = "org.viscodex.role"
STDOUT = 1
MAX_REPLY_BYTES = 256 << 20


def shim_source() -> str:
    return payload()


class Deadline(Exception):
    """The host-side deadline passed: the shim did not answer in time."""


def container_spec(
    image: str,
    role: Role,
    limits: Limits,
    labels: dict[str, str] | None = None,
    *,
    recycle: bool = False,
    fonts: PageFonts = "system",
) -> dict[str, Any]:
    """The keyword arguments for ``containers.create``: the whole security policy in one place.

    ``recycle`` and ``fonts`` change nothing of the policy: the first tells the shim to reset after each
    job instead of exiting, the second which fonts its browser sees (``PageFonts``)."""
    tmpfs_opts = "rw,nosuid,nodev,mode=1777"
    return {
        "image": image,
        "command": [
            "python3",
            "-I",
            "-c",
            shim_source(),
            role,
            *(["recycle"] if recycle else []),
            *([f"fonts={fonts}"] if fonts != "system" else []),
        ],
        "user": limits.user,
        "working_dir": "/work",
        "network_mode": "bridge" if limits.network else "none",
        "read_only": True,
        "tmpfs": {
            "/work": f"{tmpfs_opts},exec,size={limits.work_mb}m",
            "/tmp": f"{tmpfs_opts},noexec,size={limits.tmp_mb}m",
        },
        "mem_limit": f"{limits.memory_mb}m",
        "memswap_limit": f"{limits.memory_mb}m",
        "nano_cpus": int(limits.cpus * 1e9),
        "pids_limit": limits.pids,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "ulimits": [
            Ulimit(name="nofile", soft=limits.nofile, hard=limits.nofile),
            Ulimit(name="core", soft=0, hard=0),
        ],
        "ipc_mode": "private",
        "hostname": "sandbox",
        "labels": {**current_owner().labels(), LABEL_ROLE: role, **(labels or {})},
        "stdin_open": True,
        "detach": True,
        "environment": {"HOME": "/tmp", "MPLCONFIGDIR": "/tmp/.mpl"},
    }


class _FrameReader:
    """Reads Docker's multiplexed attach stream with a deadline and a cancel check.

    docker-py's own frame helpers block without a timeout, which would let a stuck container hang the
    caller; this one waits in ``select`` slices so deadlines and cancellation always win.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = bytearray()
        self._lines: dict[int, bytearray] = {}

    def _fill(self, deadline: float, cancel: threading.Event | None) -> None:
        while True:
            if cancel is not None and cancel.is_set():
                raise RunCancelled()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Deadline()
            readable, _, _ = select.select([self._sock], [], [], min(remaining, 0.05))
            if readable:
                chunk = self._sock.recv(1 << 20)
                if not chunk:
                    raise SandboxError("the sandbox container ended without answering")
                self._buf += chunk
                return

    def _read_exact(self, n: int, deadline: float, cancel: threading.Event | None) -> bytes:
        while len(self._buf) < n:
            self._fill(deadline, cancel)
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def read_line(self, deadline: float, cancel: threading.Event | None = None) -> bytes:
        """The next complete line the shim wrote on stdout (stderr frames are kept for diagnosis)."""
        out = self._lines.setdefault(STDOUT, bytearray())
        while b"\n" not in out:
            stream, size = struct.unpack(">BxxxL", self._read_exact(8, deadline, cancel))
            payload = self._read_exact(size, deadline, cancel)
            self._lines.setdefault(stream, bytearray()).extend(payload)
            if len(out) > MAX_REPLY_BYTES:
                raise SandboxError("the sandbox reply is larger than any valid result")
        line, _, rest = bytes(out).partition(b"\n")
        self._lines[STDOUT] = bytearray(rest)
        return line

    def stderr_tail(self) -> str:
        return bytes(self._lines.get(2, b""))[-2000:].decode("utf-8", "replace")


class WarmContainer:
    """A started container whose shim has finished its preload and waits for one job."""

    def __init__(
        self,
        client: docker.DockerClient,
        image: str,
        role: Role,
        limits: Limits,
        labels: dict[str, str] | None = None,
        *,
        recycle: bool = False,
        fonts: PageFonts = "system",
    ) -> None:
        self.role = role
        self.limits = limits
        self.recycle = recycle
        self.runs = 0
        """Jobs this container has been given."""
        self._client = client
        self._attach: Any = None
        self._host_pid: int | None = None
        self.container = client.containers.create(
            **container_spec(image, role, limits, labels, recycle=recycle, fonts=fonts)
        )
        try:
            self._attach = client.api.attach_socket(
                self.container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            )
            self._reader = _FrameReader(self._attach._sock)
            self.container.start()
        except BaseException:
            self.destroy()
            raise
        self.preload_s: float | None = None

    @property
    def id(self) -> str:
        return str(self.container.id)

    def wait_ready(self, timeout_s: float, cancel: threading.Event | None = None) -> None:
        try:
            reply = self._reply(time.monotonic() + timeout_s, cancel)
        except Deadline:
            raise SandboxError(f"sandbox container ({self.role}) was not ready within {timeout_s:.0f} s") from None
        if not reply.get("ready"):
            raise SandboxError(f"sandbox container ({self.role}) failed to start: {reply.get('error')}")
        self.preload_s = reply.get("preload_s")

    def run(self, job: dict[str, Any], grace_s: float, cancel: threading.Event | None) -> dict[str, Any]:
        """Send the job and wait for its result; the shim enforces ``timeout_s``, we add ``grace_s``."""
        self.runs += 1
        self._attach._sock.sendall(json.dumps(job).encode() + b"\n")
        reply = self._reply(time.monotonic() + float(job["timeout_s"]) + grace_s, cancel)
        if "error" in reply:
            raise SandboxError(f"sandbox shim error: {reply['error']}")
        return reply

    def await_reset(self, timeout_s: float = 10.0) -> dict[str, Any]:
        """The shim's account of its reset after the last job (see ``shim.supervisor.reset``)."""
        reply = self._reply(time.monotonic() + timeout_s, None)
        proof = reply.get("reset")
        if not isinstance(proof, dict):
            raise SandboxError(f"expected the sandbox's reset report, got {str(reply)[:200]}")
        return proof

    def host_processes(self) -> list[int] | None:
        """The host pids of every process in this container's cgroup, read by the host itself (so no
        process of the container can hide from it); None when the daemon's cgroups are out of sight
        (a remote daemon, a VM)."""
        try:
            if self._host_pid is None:
                self.container.reload()
                self._host_pid = int(self.container.attrs["State"]["Pid"])
            return cgroup_processes(self._host_pid)
        except (docker.errors.APIError, KeyError, ValueError, OSError):
            return None

    @property
    def host_pid(self) -> int | None:
        return self._host_pid

    def _reply(self, deadline: float, cancel: threading.Event | None) -> dict[str, Any]:
        try:
            line = self._reader.read_line(deadline, cancel)
        except SandboxError as exc:
            raise SandboxError(f"{exc}; container stderr: {self._reader.stderr_tail()!r}") from None
        try:
            reply = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SandboxError(f"malformed reply from the sandbox shim: {line[:200]!r}") from exc
        if not isinstance(reply, dict):
            raise SandboxError(f"malformed reply from the sandbox shim: {line[:200]!r}")
        return reply

    def kill(self) -> None:
        """Remove the container but leave the socket to the thread reading it: it sees EOF and stops."""
        try:
            self.container.remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if "already in progress" not in str(exc):
                raise
            self._wait_gone()

    def _wait_gone(self, timeout_s: float = 5.0) -> None:
        """Another thread's removal is under way: give it a few seconds to finish, so that "killed"
        normally means gone (``close`` promises no container is left). Bounded, so Ctrl-C stays prompt
        on a loaded daemon; the other thread's removal completes either way."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                self.container.reload()
            except docker.errors.NotFound:
                return
            time.sleep(0.05)

    def destroy(self) -> None:
        """Kill and remove the container. Idempotent; never raises for an already-gone container."""
        if self._attach is not None:
            try:
                self._attach._sock.close()
                self._attach.close()
            except OSError:
                pass
            self._attach = None
        self.kill()


def cgroup_processes(pid: int) -> list[int] | None:
    """Every process in the cgroup of host process ``pid`` (cgroup v2, or v1's pids controller)."""
    try:
        with open(f"/proc/{pid}/cgroup", encoding="ascii") as fh:
            lines = [line.strip().split(":", 2) for line in fh if line.count(":") >= 2]
    except OSError:
        return None
    candidates = []
    for _, controllers, path in lines:
        if controllers == "":
            candidates.append(f"/sys/fs/cgroup{path}/cgroup.procs")
        elif "pids" in controllers.split(","):
            candidates.insert(0, f"/sys/fs/cgroup/{controllers}{path}/cgroup.procs")
    for candidate in candidates:
        try:
            with open(candidate, encoding="ascii") as fh:
                return [int(x) for x in fh.read().split()]
        except OSError:
            continue
    return None
