"""What the sandbox does for well-behaved code: languages, stdin, files, rendering, orphan reaping."""

from __future__ import annotations

import http.server
import io
import ipaddress
import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import docker
import pytest
from PIL import Image

from viscodex.sandbox import RenderError, Sandbox, SandboxPolicy, SandboxUnavailable, Viewport
from viscodex.sandbox.owners import LABEL, LABEL_INSTANCE, LABEL_PID, Owner, process_start

pytestmark = pytest.mark.docker


def test_python_with_stdin_and_files(sandbox: Sandbox) -> None:
    code = "import sys, json\ndata = json.load(open('data/in.json'))\nprint(data['n'] + int(input()))"
    result = sandbox.run(code, stdin="5\n", files={"data/in.json": '{"n": 37}'})
    assert result.ok and result.stdout == "42\n"
    assert not result.truncated and not result.oom_killed


def test_large_stdin_does_not_deadlock(sandbox: Sandbox) -> None:
    payload = "y" * (3 << 20)
    result = sandbox.run("import sys\nprint(len(sys.stdin.read()))", stdin=payload)
    assert result.stdout.strip() == str(len(payload))


def test_javascript(sandbox: Sandbox) -> None:
    result = sandbox.run("console.log([1, 2, 3].map(x => x * 2).join(','))", lang="javascript")
    assert result.ok and result.stdout == "2,4,6\n"


def test_command_over_files(sandbox: Sandbox) -> None:
    files = {"test_x.py": "def test_x():\n    assert 1 + 1 == 3\n", "run.sh": "python3 test_x.py"}
    result = sandbox.run(files=files, command="python3 -c 'import test_x; test_x.test_x()'")
    assert result.exit_code == 1 and "AssertionError" in result.stderr


def test_failing_program_is_a_result(sandbox: Sandbox) -> None:
    result = sandbox.run("raise SystemExit(7)")
    assert result.exit_code == 7 and not result.ok
    assert "exit code 7" in result.summary()


def test_file_names_cannot_escape_work_dir(sandbox: Sandbox) -> None:
    from viscodex.sandbox import SandboxError

    with pytest.raises(SandboxError, match="escapes"):
        sandbox.run("print(1)", files={"../etc/x": "boom"})


def _png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image


def test_render_html_full_page(sandbox: Sandbox) -> None:
    html = "<body style='margin:0'><div style='height:2000px;background:#ff0000'></div></body>"
    image = _png(sandbox.render_html(html, Viewport(width=300, height=400))).convert("RGB")
    assert image.size == (300, 2000)
    assert image.getpixel((150, 1900)) == (255, 0, 0)


def test_render_html_viewport_only(sandbox: Sandbox) -> None:
    html = "<div style='height:2000px'>tall</div>"
    png = sandbox.render_html(html, Viewport(width=320, height=240), full_page=False)
    assert _png(png).size == (320, 240)


def test_render_html_shows_a_page_once_its_animations_settle(sandbox: Sandbox) -> None:
    """A fade-in taking seconds is drawn at its end (as Design2Code's pictures were taken, and as a person
    sees the page), not at whatever frame the load ended on; an endless spin is drawn at its start."""
    html = """<style>
    @keyframes fade { from { opacity: 0 } to { opacity: 1 } }
    @keyframes spin { from { transform: translateX(0) } to { transform: translateX(150px) } }
    #fade { animation: fade 5s; }
    #spin { animation: spin 5s linear infinite; }
    #late { transition: background-color 5s; }
    </style>
    <body style="margin:0;background:#fff">
    <div id="fade" style="position:absolute;left:0;top:0;width:100px;height:50px;background:#0000ff"></div>
    <div id="spin" style="position:absolute;left:0;top:60px;width:50px;height:50px;background:#00aa00"></div>
    <div id="late" style="position:absolute;left:0;top:120px;width:100px;height:50px;background:#ff0000"></div>
    <script>const late = document.getElementById("late"); getComputedStyle(late).backgroundColor;
    late.style.backgroundColor = "#000000";</script>
    </body>"""
    image = _png(sandbox.render_html(html, Viewport(width=300, height=200), full_page=False)).convert("RGB")
    assert image.getpixel((50, 25)) == (0, 0, 255)
    assert image.getpixel((25, 85)) == (0, 170, 0)
    assert image.getpixel((50, 145)) == (0, 0, 0)


def test_render_html_without_network_does_not_hang(sandbox: Sandbox) -> None:
    html = "<img src='http://example.com/x.png'><link rel=stylesheet href='https://cdn.x/y.css'>hi"
    assert _png(sandbox.render_html(html, Viewport(width=200, height=100))).size == (200, 100)


class _Open(http.server.BaseHTTPRequestHandler):
    """Answers any GET with 200 and lets any origin read it (the page is not served from this host)."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def host_http_server(docker_client: docker.DockerClient) -> Iterator[str]:
    """An HTTP server on the host's Docker bridge address: what a page would reach with a network."""
    ipam = docker_client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    gateway = ipam.get("Gateway") or str(ipaddress.ip_network(ipam["Subnet"])[1])
    server = http.server.ThreadingHTTPServer((gateway, 0), _Open)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{gateway}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _fetch_page(url: str) -> str:
    # a synchronous request settles before the screenshot: the page's text says what happened
    return (
        "<div id=out>pending</div><script>try { const x = new XMLHttpRequest();"
        f" x.open('GET', '{url}', false); x.send(); out.textContent = 'reached ' + x.status }}"
        " catch (e) { out.textContent = 'blocked' }</script>"
    )


def test_render_html_script_cannot_reach_network(
    sandbox: Sandbox, docker_client: docker.DockerClient, sandbox_image: str, host_http_server: str
) -> None:
    render = sandbox.render_html_blocks(_fetch_page(host_http_server), Viewport(width=200, height=100))
    assert _png(render.png).size == (200, 100)
    assert [block.text for block in render.blocks] == ["blocked"]
    # the control: with the network granted, the same page reaches the same server
    opened = SandboxPolicy(html=SandboxPolicy().html.merged(network=True))
    with Sandbox(client=docker_client, image=sandbox_image, policy=opened, pool={}) as networked:
        control = networked.render_html_blocks(_fetch_page(host_http_server), Viewport(width=200, height=100))
    assert [block.text for block in control.blocks] == ["reached 200"]


def test_render_html_busy_script_times_out(sandbox: Sandbox) -> None:
    with pytest.raises(RenderError) as info:
        sandbox.render_html("<script>while(true){}</script>", timeout_s=2)
    assert "did not render" in str(info.value)


@pytest.mark.parametrize(
    "ending",
    ["plt.savefig('out.png')\nplt.close()\n", "plt.show()\n", ""],
    ids=["savefig-then-close", "show", "neither"],
)
def test_render_chart_captures_the_figure(sandbox: Sandbox, ending: str) -> None:
    code = "import matplotlib.pyplot as plt\nplt.figure(figsize=(4, 3))\nplt.bar([1, 2], [3, 4])\n"
    image = _png(sandbox.render_chart(code + ending))
    assert image.size == (400, 300)


def test_render_chart_resizes_to_target(sandbox: Sandbox) -> None:
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\n"
    assert _png(sandbox.render_chart(code, size=(500, 250))).size == (500, 250)


def test_render_chart_reports_errors(sandbox: Sandbox) -> None:
    with pytest.raises(RenderError) as info:
        sandbox.render_chart("import matplotlib.pyplot as plt\nplt.plot([1], [1, 2])\n")
    assert "ValueError" in info.value.result.stderr  # type: ignore[attr-defined]


def test_render_chart_without_figure(sandbox: Sandbox) -> None:
    with pytest.raises(RenderError) as info:
        sandbox.render_chart("print('no plot here')")
    assert "drew no matplotlib figure" in info.value.result.stderr  # type: ignore[attr-defined]


def test_chart_run_keeps_stdout(sandbox: Sandbox) -> None:
    result = sandbox.run_chart("import matplotlib.pyplot as plt\nprint('hello')\nplt.plot([1])")
    assert result.ok and result.stdout == "hello\n" and result.png


def test_missing_image_is_unavailable(docker_client: docker.DockerClient) -> None:
    with pytest.raises(SandboxUnavailable, match="sandbox build"):
        Sandbox(client=docker_client, image="viscodex-sandbox:does-not-exist")


def _dead_owner() -> Owner:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
    owner = Owner(os.uname().nodename, proc.pid, process_start(proc.pid) or "")
    proc.wait()
    return owner


def test_orphans_are_reaped_but_live_owners_are_not(docker_client: docker.DockerClient, sandbox_image: str) -> None:
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live_owner = Owner(os.uname().nodename, alive.pid, process_start(alive.pid) or "")
        owners = {
            "dead": _dead_owner(),
            "live": live_owner,
            "other-host": Owner("some-other-host", 1, "1"),
            "reused-pid": Owner(os.uname().nodename, alive.pid, "12345"),
        }
        made = {
            name: docker_client.containers.create(sandbox_image, ["true"], labels=owner.labels(), network_mode="none")
            for name, owner in owners.items()
        }
        try:
            with Sandbox(client=docker_client, image=sandbox_image, pool={}):
                pass
            left = {c.id for c in docker_client.containers.list(all=True, sparse=True, filters={"label": LABEL})}
            assert made["dead"].id not in left
            assert made["reused-pid"].id not in left
            assert made["live"].id in left
            assert made["other-host"].id in left
        finally:
            for container in made.values():
                try:
                    container.remove(force=True)
                except docker.errors.NotFound:
                    pass
    finally:
        alive.kill()
        alive.wait()


@pytest.mark.parametrize("recycle_runs", [50, 1])
def test_warm_pool_refills_and_close_removes_all(
    docker_client: docker.DockerClient, sandbox_image: str, recycle_runs: int
) -> None:
    policy = SandboxPolicy(recycle_runs=recycle_runs)
    with Sandbox(client=docker_client, image=sandbox_image, pool={"exec": 3}, policy=policy) as sandbox:
        mine = {"label": [LABEL, f"{LABEL_PID}={os.getpid()}", f"{LABEL_INSTANCE}={sandbox.instance}"]}

        def ids() -> set[str]:
            return {c.id for c in docker_client.containers.list(all=True, sparse=True, filters=mine)}

        assert sandbox.warm_up(["exec"], wait=True)
        warm = ids()
        assert len(warm) == 3
        assert sandbox.run("print(1)").stdout == "1\n"
        assert sandbox.warm_up(["exec"], wait=True)
        after = ids()
        if recycle_runs > 1:  # the used container was reset and kept; one more for the demand seen (1)
            assert warm < after and len(after) == 4
        else:
            assert len(after) == 4 and len(warm - after) == 1, "the used container must be destroyed"
    assert ids() == set()
