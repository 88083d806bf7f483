"""Every sandbox limit, attacked by a program that tries to break it, against the real Docker daemon.

Each attack must end with a clear result, the daemon must stay healthy, and no container may remain.
"""

from __future__ import annotations

import http.server
import ipaddress
import os
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import pytest
from conftest import LOAD_MARGIN_S

from viscodex.sandbox import Limits, Sandbox

pytestmark = pytest.mark.docker


def test_no_dns(sandbox: Sandbox) -> None:
    result = sandbox.run(
        "import socket\n"
        "try:\n"
        "    socket.getaddrinfo('deb.debian.org', 80)\n"
        "    print('resolved')\n"
        "except OSError as exc:\n"
        "    print('blocked', type(exc).__name__)\n"
    )
    assert result.stdout.startswith("blocked"), result


def test_only_loopback_interface(sandbox: Sandbox) -> None:
    result = sandbox.run("import socket\nprint(sorted(n for _, n in socket.if_nameindex()))")
    assert result.stdout.strip() == "['lo']", result


def test_no_raw_socket(sandbox: Sandbox) -> None:
    result = sandbox.run(
        "import socket\n"
        "try:\n"
        "    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)\n"
        "    print('raw socket opened')\n"
        "except PermissionError:\n"
        "    print('denied')\n"
    )
    assert result.stdout.strip() == "denied", result


@pytest.fixture
def host_http_server() -> Iterator[int]:
    """An HTTP server on all host interfaces: the sandbox must not reach it."""
    server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def test_no_http_to_host(sandbox: Sandbox, host_http_server: int, docker_client: docker.DockerClient) -> None:
    ipam = docker_client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    gateway = ipam.get("Gateway") or str(next(ipaddress.ip_network(ipam["Subnet"]).hosts()))
    code = (
        "import socket\n"
        f"for host in ['{gateway}', '127.0.0.1', '10.0.2.2']:\n"
        "    try:\n"
        f"        socket.create_connection((host, {host_http_server}), timeout=2)\n"
        "        print('connected', host)\n"
        "    except OSError as exc:\n"
        "        print('blocked', host)\n"
    )
    result = sandbox.run(code)
    assert "connected" not in result.stdout, result
    assert result.stdout.count("blocked") == 3


def test_fork_bomb_is_contained(sandbox: Sandbox, docker_client: docker.DockerClient) -> None:
    code = (
        "import os, time\n"
        "n = 0\n"
        "while True:\n"
        "    try:\n"
        "        os.fork()\n"
        "        n += 1\n"
        "    except OSError:\n"
        "        time.sleep(0.01)\n"
    )
    start = time.monotonic()
    result = sandbox.run(code, timeout_s=3)
    assert result.timed_out and result.exit_code is None, result
    assert time.monotonic() - start < 30 + LOAD_MARGIN_S
    assert docker_client.ping()
    assert sandbox.run("print('alive')").stdout == "alive\n"


def test_pids_limit_stops_forking(sandbox: Sandbox) -> None:
    code = (
        "import os, time\n"
        "pids = []\n"
        "try:\n"
        "    for _ in range(1000):\n"
        "        pid = os.fork()\n"
        "        if pid == 0:\n"
        "            time.sleep(30)\n"
        "            os._exit(0)\n"
        "        pids.append(pid)\n"
        "except OSError as exc:\n"
        "    print('stopped at', len(pids), type(exc).__name__)\n"
    )
    result = sandbox.run(code, timeout_s=5)
    assert "stopped at" in result.stdout, result
    assert int(result.stdout.split()[2]) < 128


def test_memory_bomb_is_oom_killed(sandbox: Sandbox) -> None:
    code = "blocks = []\nwhile True:\n    blocks.append(bytearray(16 << 20))\n"
    result = sandbox.run(code, timeout_s=20)
    assert result.oom_killed, result
    assert result.exit_code == -9
    assert not result.timed_out


def test_memory_limit_is_configurable(sandbox: Sandbox) -> None:
    code = "x = bytearray(300 << 20)\nprint('ok')\n"
    assert sandbox.run(code, memory_mb=128).oom_killed
    assert sandbox.run(code, memory_mb=512).stdout == "ok\n"


@pytest.mark.parametrize("where", ["/work", "/tmp"])
def test_tmpfs_fill_stops_at_cap(sandbox: Sandbox, where: str) -> None:
    code = (
        "import os\n"
        "written = 0\n"
        "try:\n"
        f"    with open('{where}/fill', 'wb') as fh:\n"
        "        while True:\n"
        "            fh.write(b'x' * (1 << 20))\n"
        "            fh.flush()\n"
        "            written += 1\n"
        "except OSError as exc:\n"
        "    print(written, exc.strerror)\n"
    )
    result = sandbox.run(code)
    written, _, reason = result.stdout.strip().partition(" ")
    assert reason == "No space left on device", result
    assert int(written) <= 64


@pytest.mark.parametrize("path", ["/usr/local/evil", "/etc/passwd", "/evil", "/home/evil"])
def test_root_filesystem_is_read_only(sandbox: Sandbox, path: str) -> None:
    code = (
        "try:\n"
        f"    open('{path}', 'a').write('x')\n"
        "    print('wrote')\n"
        "except OSError as exc:\n"
        "    print(exc.strerror)\n"
    )
    result = sandbox.run(code)
    assert result.stdout.strip() in {"Read-only file system", "Permission denied"}, result


def test_infinite_loop_times_out(sandbox: Sandbox) -> None:
    result = sandbox.run("while True:\n    pass\n", timeout_s=1.5)
    assert result.timed_out and result.exit_code is None
    assert 1.4 < result.duration_s < 5 + LOAD_MARGIN_S


def test_sleep_past_timeout(sandbox: Sandbox) -> None:
    result = sandbox.run("import time\nprint('start', flush=True)\ntime.sleep(60)\n", timeout_s=1)
    assert result.timed_out
    assert result.stdout == "start\n"


def test_ignoring_sigterm_does_not_help(sandbox: Sandbox) -> None:
    code = (
        "import os, signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"  # escape the process group too
        "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "    time.sleep(120)\n"
        "time.sleep(120)\n"
    )
    start = time.monotonic()
    result = sandbox.run(code, timeout_s=1)
    assert result.timed_out
    assert time.monotonic() - start < 10 + LOAD_MARGIN_S


def test_output_flood_is_cut_and_flagged(sandbox: Sandbox) -> None:
    result = sandbox.run("import sys\nwhile True:\n    sys.stdout.write('x' * 4096)\n", timeout_s=2)
    assert result.truncated and result.timed_out
    assert len(result.stdout) == 1 << 20


def test_finite_flood_keeps_exit_code(sandbox: Sandbox) -> None:
    code = "import sys\nsys.stderr.write('e' * (3 << 20))\nprint('done')\n"
    result = sandbox.run(code, limits=Limits(output_bytes=4096))
    assert result.exit_code == 0 and result.truncated
    assert len(result.stderr) == 4096 and result.stdout == "done\n"


def test_no_privilege_escalation(sandbox: Sandbox) -> None:
    code = (
        "import os\n"
        "status = dict(l.split(':\\t', 1) for l in open('/proc/self/status').read().splitlines()"
        " if ':\\t' in l)\n"
        "print(os.getuid(), os.getgid(), status['CapEff'].strip(), status['CapBnd'].strip(),"
        " status['NoNewPrivs'].strip())\n"
        "for attempt in (lambda: os.setuid(0), lambda: os.setgid(0), lambda: os.chroot('/tmp')):\n"
        "    try:\n"
        "        attempt()\n"
        "        print('escalated')\n"
        "    except PermissionError:\n"
        "        print('denied')\n"
    )
    result = sandbox.run(code)
    lines = result.stdout.splitlines()
    assert lines[0] == "65534 65534 0000000000000000 0000000000000000 1", result
    assert lines[1:] == ["denied"] * 3


def test_setuid_binaries_do_not_grant_root(sandbox: Sandbox) -> None:
    code = (
        "import subprocess\n"
        "out = subprocess.run(['sh', '-c', 'for f in $(find / -xdev -perm -4000 -type f 2>/dev/null);"
        " do $f --version >/dev/null 2>&1; done; id -u'], capture_output=True, text=True)\n"
        "print(out.stdout.strip())\n"
    )
    assert sandbox.run(code, timeout_s=20).stdout.strip() == "65534"


def test_cannot_read_host_files(sandbox: Sandbox, tmp_path: Path) -> None:
    secret = secrets.token_hex(16)
    marker = Path("/tmp") / f"viscodex-host-secret-{secret}"
    marker.write_text(secret)
    try:
        code = (
            "import os\n"
            f"print(os.path.exists('{marker}'), os.path.exists('/var/run/docker.sock'),"
            " os.path.exists('/run/docker.sock'))\n"
            "mounts = open('/proc/mounts').read()\n"
            "print('docker.sock' in mounts, open('/proc/1/cmdline').read().split('\\0')[0])\n"
            f"print(any('{secret}' in open(os.path.join(d, f), errors='ignore').read()"
            " for d, _, fs in os.walk('/tmp') for f in fs))\n"
        )
        result = sandbox.run(code)
        assert result.stdout.splitlines() == ["False False False", "False python3", "False"], result
    finally:
        marker.unlink()


def test_many_runs_in_parallel(fresh_sandbox: Sandbox, docker_client: docker.DockerClient) -> None:
    def one(i: int) -> str:
        return fresh_sandbox.run(f"print({i} * {i})").stdout.strip()

    with ThreadPoolExecutor(max_workers=8) as pool:
        outputs = list(pool.map(one, range(16)))
    assert outputs == [str(i * i) for i in range(16)]
    assert docker_client.ping()


def test_cancel_removes_the_container(fresh_sandbox: Sandbox) -> None:
    from viscodex.sandbox import RunCancelled

    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    start = time.monotonic()
    with pytest.raises(RunCancelled):
        fresh_sandbox.run("import time\ntime.sleep(60)\n", timeout_s=60, cancel=cancel)
    assert time.monotonic() - start < 5 + LOAD_MARGIN_S


async def _cancel_async(sandbox: Sandbox) -> None:
    import asyncio

    task = asyncio.ensure_future(sandbox.arun("import time\ntime.sleep(60)\n", timeout_s=60))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_async_cancel_removes_the_container(fresh_sandbox: Sandbox) -> None:
    import asyncio

    asyncio.run(_cancel_async(fresh_sandbox))


def test_env_does_not_leak_host_secrets(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VISCODEX_TEST_SECRET", "hunter2")
    result = sandbox.run("import os\nprint('VISCODEX_TEST_SECRET' in os.environ)")
    assert result.stdout.strip() == "False"
    assert os.environ["VISCODEX_TEST_SECRET"] == "hunter2"


def test_close_during_a_run_kills_it_and_leaves_nothing(docker_client: docker.DockerClient, sandbox_image: str) -> None:
    from conftest import own_containers

    from viscodex.sandbox import SandboxError

    box = Sandbox(client=docker_client, image=sandbox_image, pool={})
    errors: list[BaseException] = []

    def long_run() -> None:
        try:
            box.run("import time\ntime.sleep(60)\n", timeout_s=60)
        except SandboxError as exc:
            errors.append(exc)

    thread = threading.Thread(target=long_run)
    thread.start()
    deadline = time.monotonic() + 20
    while not own_containers(docker_client, box):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    start = time.monotonic()
    box.close()
    thread.join(timeout=20)
    assert not thread.is_alive() and time.monotonic() - start < 20
    assert len(errors) == 1
    assert own_containers(docker_client, box) == []
