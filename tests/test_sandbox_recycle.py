"""Recycled containers: nothing of run k reaches run k+1, on every path a container is reused by.

Each test runs k and k+1 in the same container (a pool of size 0 keeps exactly the one container it
recycles, and every test checks the pool started only one) and looks in run k+1 for what run k left: files
in the work dir, /tmp and /dev/shm, System V and POSIX IPC objects, detached background processes, a
changed environment, a kernel keyring entry. With the shim's reset turned off, each of them fails.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from conftest import own_containers

from viscodex.sandbox import Sandbox, SandboxPolicy, Viewport

pytestmark = pytest.mark.docker


@pytest.fixture
def one_container(docker_client: docker.DockerClient, sandbox_image: str) -> Iterator[Sandbox]:
    """A sandbox whose pools keep no spare: sequential runs of a role share one recycled container."""
    with Sandbox(client=docker_client, image=sandbox_image, pool={"exec": 0, "chart": 0, "html": 0}) as box:
        yield box
    assert own_containers(docker_client, box) == []


def pool(box: Sandbox, role: str) -> dict[str, Any]:
    """The pool of ``role``, once it has no reset in flight."""
    deadline = time.monotonic() + 30
    while True:
        found: dict[str, Any] = next(p for p in box.pool_stats()["pools"] if p["role"] == role)
        if not found["resetting"] or time.monotonic() > deadline:
            return found
        time.sleep(0.01)


def run_twice(box: Sandbox, first: str, second: str, **kwargs: Any) -> str:
    """Run ``first`` then ``second`` in one container; the second's stdout."""
    done = box.run(first, **kwargs)
    assert done.exit_code == 0, done
    pool(box, "exec")  # let the reset finish, so the second run surely gets this container back
    after = box.run(second, **kwargs)
    assert after.exit_code == 0, after
    stats = pool(box, "exec")
    assert stats["started"] == 1 and stats["recycled"] == 1, stats
    return after.stdout


@pytest.mark.parametrize("where", ["/work", "/tmp", "/dev/shm"])
def test_files_do_not_survive(one_container: Sandbox, where: str) -> None:
    secret = secrets.token_hex(8)
    first = (
        "import os\n"
        f"os.makedirs('{where}/d/e', exist_ok=True)\n"
        f"open('{where}/d/e/{secret}', 'w').write('{secret}')\n"
        f"open('{where}/.hidden-{secret}', 'w').write('{secret}')\n"
        f"os.chmod('{where}/d', 0)\n"  # a directory its owner made unreadable
    )
    second = (
        "import os\n"
        f"print(sorted(os.listdir('{where}')))\n"
        f"print(any('{secret}' in n for _, ds, fs in os.walk('/') for n in ds + fs))\n"
    )
    out = run_twice(one_container, first, second).splitlines()
    expected = {"/work": "['main.py']", "/tmp": "['.mpl']", "/dev/shm": "[]"}[where]
    assert out == [expected, "False"], out


def test_detached_background_process_does_not_survive(one_container: Sandbox) -> None:
    marker = f"viscodex-{secrets.token_hex(6)}"
    first = (
        "import os, subprocess, time\n"
        # a daemon in a new session that ignores SIGTERM and SIGHUP, its stdio closed
        f"subprocess.Popen(['sh', '-c', \"trap '' TERM HUP; exec -a {marker} sleep 300\"],"
        " start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,"
        " stderr=subprocess.DEVNULL)\n"
        # and a double-forked one that keeps writing to /dev/shm
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        os.closerange(0, 3)\n"
        "        while True:\n"
        f"            open('/dev/shm/{marker}', 'w').write('alive')\n"
        "            time.sleep(0.01)\n"
        "    os._exit(0)\n"
        "time.sleep(0.2)\n"
    )
    second = (
        "import os, time\n"
        "time.sleep(0.1)\n"
        "me = {os.getpid(), os.getppid()}\n"
        "others = [int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) not in me and p != '1']\n"
        f"cmdlines = [open(f'/proc/{{p}}/cmdline', 'rb').read() for p in others]\n"
        f"print(others, any(b'{marker}' in c for c in cmdlines), os.listdir('/dev/shm'))\n"
    )
    out = run_twice(one_container, first, second)
    assert out.strip() == "[] False []", out


def test_changed_environment_does_not_survive(one_container: Sandbox) -> None:
    secret = secrets.token_hex(8)
    site = "/tmp/.local/lib/python3.11/site-packages"  # HOME is /tmp: Python's user site directory
    first = (
        "import os\n"
        f"os.environ['VISCODEX_LEAK'] = '{secret}'\n"
        f"os.putenv('PYTHONSTARTUP', '/tmp/{secret}.py')\n"
        f"os.makedirs('{site}', exist_ok=True)\n"
        f"open('{site}/usercustomize.py', 'w').write(\"import os; os.environ['VISCODEX_LEAK'] = '{secret}'\")\n"
        f"open('/tmp/.profile', 'w').write('export VISCODEX_LEAK={secret}')\n"
        "print('set')\n"
    )
    second = (
        "import os, subprocess\n"
        "print(os.environ.get('VISCODEX_LEAK'), os.environ.get('PYTHONSTARTUP'))\n"
        "print(subprocess.run(['sh', '-lc', 'echo ${VISCODEX_LEAK:-unset}'], capture_output=True, text=True).stdout)\n"
    )
    out = run_twice(one_container, first, second).split()
    assert out == ["None", "None", "unset"], out


IPC = "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.mq_open.restype = ctypes.c_int\nKEY = {key}\n"


def test_ipc_objects_do_not_survive(one_container: Sandbox) -> None:
    key = int.from_bytes(secrets.token_bytes(3), "big") + 1
    first = IPC.format(key=key) + (
        "assert libc.shmget(KEY, 4096, 0o1600) >= 0, 'shmget'\n"  # IPC_CREAT | 0600
        "assert libc.semget(KEY, 1, 0o1600) >= 0, 'semget'\n"
        "assert libc.msgget(KEY, 0o1600) >= 0, 'msgget'\n"
        f"assert libc.mq_open(b'/q{key}', os.O_CREAT | os.O_RDWR, 0o600, None) >= 0, 'mq_open'\n"
        "print(open('/proc/sysvipc/shm').read().count('\\n'))\n"
    )
    second = IPC.format(key=key) + (
        "print(libc.shmget(KEY, 0, 0), libc.semget(KEY, 0, 0), libc.msgget(KEY, 0), os.listdir('/dev/mqueue'))\n"
    )
    out = run_twice(one_container, first, second)
    assert out.strip() == "-1 -1 -1 []", out


KEYCTL = (
    "import ctypes\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "SYS_ADD_KEY, SYS_KEYCTL, SYS_REQUEST_KEY = 248, 250, 249\n"
    "DESC = b'viscodex-{token}'\n"
)


def test_kernel_keyring_entry_does_not_survive(one_container: Sandbox) -> None:
    """The kernel keyring is not namespaced: a key in the user keyring of uid 65534 would outlive any
    container. Docker's seccomp profile denies the keyring calls, and the reset refuses to prove a
    container whose keyring is reachable; run k+1 must not find what run k tried to add."""
    token = secrets.token_hex(6)
    first = KEYCTL.format(token=token) + (
        "ids = []\n"
        "for ring in (-4, -3, -5, -2):\n"  # user, session, user-session, process keyrings
        "    ids.append(libc.syscall(SYS_ADD_KEY, b'user', DESC, b'secret', 6, ring))\n"
        "print(ids)\n"
    )
    second = KEYCTL.format(token=token) + (
        "found = [libc.syscall(SYS_REQUEST_KEY, b'user', DESC, None, ring) for ring in (-4, -3, -5, 0)]\n"
        "print(all(f == -1 for f in found), found)\n"
    )
    out = run_twice(one_container, first, second)
    assert out.startswith("True"), out


def test_command_runs_are_recycled_clean(one_container: Sandbox) -> None:
    """``command=`` over ``files``: the same reuse path as code, through a shell."""
    secret = secrets.token_hex(8)
    first = one_container.run(command=f"echo {secret} > /tmp/x && cp /tmp/x /work/y && (sleep 300 &)", files={})
    assert first.exit_code == 0, first
    pool(one_container, "exec")
    second = one_container.run(command=f"grep -rl {secret} /tmp /work /dev/shm; ps -e -o comm= | grep -c sleep")
    assert second.stdout.split() == ["0"], second
    stats = pool(one_container, "exec")
    assert stats["started"] == 1 and stats["recycled"] == 1, stats


def test_chart_runs_are_recycled_clean(one_container: Sandbox) -> None:
    """Chart scripts run in a child forked from the preloaded shim: what they change (matplotlib's
    settings, modules, files, processes) stays in that child and its files."""
    secret = secrets.token_hex(8)
    first = one_container.run_chart(
        "import os, subprocess, matplotlib, matplotlib.pyplot as plt\n"
        "matplotlib.rcParams['lines.linewidth'] = 77\n"
        f"os.environ['VISCODEX_LEAK'] = '{secret}'\n"
        f"open('/tmp/{secret}', 'w').write('x'); open('/work/{secret}', 'w').write('x')\n"
        f"open('/dev/shm/{secret}', 'w').write('x')\n"
        "os.makedirs('/tmp/.mpl', exist_ok=True)\n"
        "open('/tmp/.mpl/matplotlibrc', 'w').write('lines.linewidth: 55\\n')\n"
        "subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
        "plt.plot([1, 2], [3, 4])\n"
    )
    assert first.png is not None, first
    pool(one_container, "chart")
    second = one_container.run_chart(
        "import os, matplotlib, matplotlib.pyplot as plt\n"
        "print(matplotlib.rcParams['lines.linewidth'], os.environ.get('VISCODEX_LEAK'))\n"
        f"print(sorted(n for d in ('/tmp', '/work', '/dev/shm') for n in os.listdir(d) if '{secret}' in n))\n"
        "print(os.path.exists('/tmp/.mpl/matplotlibrc'))\n"
        "print([p for p in os.listdir('/proc') if p.isdigit() and p not in ('1', str(os.getpid()))])\n"
        "plt.plot([1, 2], [3, 4])\n"
    )
    assert second.png is not None, second
    assert second.stdout.splitlines() == ["1.5 None", "[]", "False", "[]"], second
    stats = pool(one_container, "chart")
    assert stats["started"] == 1 and stats["recycled"] == 1, stats


def test_a_failed_run_is_recycled_clean(one_container: Sandbox) -> None:
    """A program that fails (exit code 1) ended within its limits: its container is reused, clean."""
    secret = secrets.token_hex(8)
    first = one_container.run(f"open('/tmp/{secret}', 'w').write('x')\nraise SystemExit(1)")
    assert first.exit_code == 1
    pool(one_container, "exec")
    second = one_container.run(f"import os\nprint(os.path.exists('/tmp/{secret}'))")
    assert second.stdout == "False\n", second
    assert pool(one_container, "exec")["recycled"] == 1


# --- when a container is destroyed instead ------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kwargs"),
    [
        ("while True: pass", {"timeout_s": 1}),  # timeout
        ("x = bytearray(400 << 20)\nx = bytearray(400 << 20)\nprint(len(x))", {"memory_mb": 128}),  # OOM
        ("import sys\nsys.stdout.write('x' * (2 << 20))", {}),  # output cap
        (  # the pids limit, hit by a program that then exits normally
            "import os, time\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
            "            time.sleep(30); os._exit(0)\n        n += 1\nexcept OSError:\n    print(n)\n",
            {},
        ),
    ],
    ids=["timeout", "oom", "output-cap", "pids-limit"],
)
def test_a_run_that_hit_a_limit_is_not_recycled(one_container: Sandbox, code: str, kwargs: dict[str, Any]) -> None:
    one_container.run(code, **kwargs)
    stats = pool(one_container, "exec")
    assert stats["recycled"] == 0 and stats.get("destroyed_limit_or_failure") == 1, stats
    after = one_container.run("print('fresh')", **kwargs)
    assert after.stdout == "fresh\n"
    assert pool(one_container, "exec")["started"] == 2


def test_containers_are_destroyed_after_max_runs(docker_client: docker.DockerClient, sandbox_image: str) -> None:
    policy = SandboxPolicy(recycle_runs=3)
    with Sandbox(client=docker_client, image=sandbox_image, pool={"exec": 0}, policy=policy) as box:
        pids = []
        for _ in range(7):
            pids.append(box.run("import os\nprint(open('/proc/1/stat').read().split()[21])").stdout.strip())
            pool(box, "exec")
        stats = pool(box, "exec")
    assert stats["started"] == 3 and stats["recycled"] == 4 and stats["destroyed_max_runs"] == 2, stats
    # the shim's start time names its container: three runs each in the first two, then a third
    assert pids[0] == pids[1] == pids[2] != pids[3] == pids[4] == pids[5] != pids[6], pids
    assert own_containers(docker_client, box) == []


def test_recycle_runs_1_gives_a_fresh_container_per_run(docker_client: docker.DockerClient, sandbox_image: str) -> None:
    policy = SandboxPolicy(recycle_runs=1)
    with Sandbox(client=docker_client, image=sandbox_image, pool={"exec": 0}, policy=policy) as box:
        for _ in range(3):
            assert box.run("print(1)").stdout == "1\n"
        stats = pool(box, "exec")
    assert stats["started"] == 3 and stats["recycled"] == 0 and not stats["recycle"], stats


def test_html_renders_are_never_recycled(one_container: Sandbox) -> None:
    page = "<script>localStorage.setItem('k', 'v')</script><h1>x</h1>"
    for _ in range(2):
        one_container.render_html(page, Viewport(width=200, height=100))
    stats = pool(one_container, "html")
    assert stats["started"] == 2 and stats["recycled"] == 0 and not stats["recycle"], stats


def test_the_shim_cannot_be_reached_by_the_run(one_container: Sandbox) -> None:
    """Code runs with the shim's uid: the shim must refuse ptrace-style access and ignore signals,
    or a run could rewrite the supervisor that resets the container for the next one."""
    code = (
        "import os, signal\n"
        "out = []\n"
        "for path in ('/proc/1/mem', '/proc/1/fd/0', '/proc/1/fd/1', '/proc/1/environ'):\n"
        "    try:\n"
        "        open(path, 'rb').close()\n"
        "        out.append('opened')\n"
        "    except OSError:\n"
        "        out.append('denied')\n"
        "for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL, signal.SIGSTOP):\n"
        "    os.kill(1, sig)\n"
        "print(out)\n"
    )
    result = one_container.run(code)
    assert result.stdout.strip() == "['denied', 'denied', 'denied', 'denied']", result
    after = one_container.run("print('the shim lives')")
    assert after.stdout == "the shim lives\n"
    stats = pool(one_container, "exec")
    assert stats["started"] == 1 and stats["recycled"] == 1, stats


def test_pool_memory_stays_within_its_budget(docker_client: docker.DockerClient, sandbox_image: str) -> None:
    """Recent demand grows the pool, but its idle containers never hold more than the budget."""
    from concurrent.futures import ThreadPoolExecutor

    policy = SandboxPolicy(pool_memory_mb=1024)  # two idle run containers of 512 MiB
    with Sandbox(client=docker_client, image=sandbox_image, pool={"exec": 1}, policy=policy) as box:
        with ThreadPoolExecutor(4) as threads:
            outs = list(threads.map(lambda i: box.run(f"print({i})").stdout, range(16)))
        assert outs == [f"{i}\n" for i in range(16)]
        for _ in range(100):
            stats = box.pool_stats()
            assert stats["memory_idle_mb"] <= 1024, stats
            (exec_pool,) = stats["pools"]
            assert exec_pool["ready"] * 512 <= 1024, stats
            if not exec_pool["starting"] and not exec_pool["resetting"]:
                break
            time.sleep(0.05)
        assert exec_pool["target"] >= 2, exec_pool  # demand was seen
    assert own_containers(docker_client, box) == []


def test_doctor_reports_pool_sizes_and_recycling(one_container: Sandbox) -> None:
    from viscodex.agent.doctor import pool_check

    check = pool_check(one_container)
    assert check.ok and not check.warn, check
    assert "exec: 0 ready of 0, 0 in use" in check.detail or "exec: 1 ready of 0" in check.detail, check
    recycled = re.search(r"exec: .*? (\d+) runs, (\d+) started, (\d+) recycled", check.detail)
    assert recycled is not None and recycled.groups() == ("3", "1", "2"), check.detail
    assert "idle memory" in check.detail and "of 4096 MiB" in check.detail


def test_pool_grows_with_demand_and_trims_after_it(docker_client: docker.DockerClient, sandbox_image: str) -> None:
    """Four runs at once raise the target to size + 4; once no run has come for the demand window, the
    idle containers beyond the target are destroyed (the least recently used first)."""
    from concurrent.futures import ThreadPoolExecutor

    with Sandbox(client=docker_client, image=sandbox_image, pool={"exec": 1}) as box:
        runs = box._pool("exec", box.policy.run)
        runs._demand_window_s = 8.0
        gate = threading.Barrier(4)

        def together(i: int) -> str:
            gate.wait()
            return box.run(f"import time\ntime.sleep(1)\nprint({i})").stdout

        with ThreadPoolExecutor(4) as threads:
            assert list(threads.map(together, range(4))) == [f"{i}\n" for i in range(4)]
        assert runs.target() == 5
        assert box.warm_up(["exec"], wait=True)
        before = pool(box, "exec")
        assert before["ready"] == 5, str(before)
        deadline = time.monotonic() + 40
        while pool(box, "exec")["ready"] > 1 and time.monotonic() < deadline:  # quiet for the window
            time.sleep(0.1)
        assert box.warm_up(["exec"], wait=True)
        stats = pool(box, "exec")
        assert stats["target"] == 1 and stats["ready"] == 1, stats
        assert stats.get("destroyed_idle") == before.get("destroyed_idle", 0) + 4, (before, stats)
        assert box.run("print('one')").stdout == "one\n"
    assert own_containers(docker_client, box) == []


def test_a_process_the_host_sees_after_the_reset_means_no_reuse(
    one_container: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The host does not take the shim's word alone: its own read of the container's cgroup must show
    the shim and nothing else, or the container is destroyed as unproven."""
    from viscodex.sandbox.container import WarmContainer, cgroup_processes

    assert one_container.run("print(1)").stdout == "1\n"
    stats = pool(one_container, "exec")
    assert stats["recycled"] == 0 and stats["ready"] == 1, stats  # reset proven, host check passed
    (container,) = one_container._pool("exec", one_container.policy.run)._ready
    assert container.host_pid is not None and cgroup_processes(container.host_pid) == [container.host_pid]

    real = WarmContainer.host_processes
    monkeypatch.setattr(WarmContainer, "host_processes", lambda self: [*(real(self) or []), 4242])
    assert one_container.run("print(2)").stdout == "2\n"
    stats = pool(one_container, "exec")
    assert stats["recycled"] == 1 and stats.get("destroyed_unproven") == 1 and stats["ready"] == 0, stats
