"""`viscodex-agent sandbox ...` and `doctor` as a user runs them: real processes, real Docker."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest
from conftest import locked_version
from helpers import AGENT, FAULTHANDLER, interrupt
from helpers import agent as cli
from PIL import Image

from viscodex.sandbox import ImageRecipe
from viscodex.sandbox.image import image_exists
from viscodex.sandbox.owners import LABEL, LABEL_PID

BIN = Path(sys.executable).parent


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int) -> None:
    assert proc.returncode == code, proc
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_console_scripts_exist() -> None:
    for name in ("viscodex-agent", "viscodex-lsp", "viscodex-train"):
        assert shutil.which(name, path=str(BIN)), name
    assert subprocess.run([str(BIN / "viscodex-lsp"), "--version"], capture_output=True).returncode == 0
    assert subprocess.run([str(BIN / "viscodex-train"), "version"], capture_output=True).returncode == 0


def test_no_top_level_agent_or_model_installed() -> None:
    code = "import importlib.util as u; print([m for m in ('agent','model','sandbox') if u.find_spec(m)])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.stdout.strip() == "[]"


def test_missing_file_is_usage_error(tmp_path: Path) -> None:
    assert_one_line_error(cli("sandbox", "run", str(tmp_path / "nope.py")), 2)


def test_unknown_language_is_usage_error(tmp_path: Path) -> None:
    prog = tmp_path / "prog.rb"
    prog.write_text("puts 1")
    assert_one_line_error(cli("sandbox", "run", str(prog)), 2)
    assert_one_line_error(cli("sandbox", "run", str(prog), "--lang", "ruby"), 2)


def test_render_rejects_other_files(tmp_path: Path) -> None:
    page = tmp_path / "page.txt"
    page.write_text("x")
    assert_one_line_error(cli("sandbox", "render", str(page), "--out", str(tmp_path / "o.png")), 2)


@pytest.mark.slow
def test_docker_down_exits_3(tmp_path: Path) -> None:
    prog = tmp_path / "p.py"
    prog.write_text("print(1)")
    env = {"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    proc = cli("sandbox", "run", str(prog), env=env)
    assert_one_line_error(proc, 3)
    assert "Docker" in proc.stderr
    assert cli("doctor", env=env).returncode == 3


@pytest.mark.docker
def test_image_missing_exits_3(tmp_path: Path, docker_client: docker.DockerClient) -> None:
    prog = tmp_path / "p.py"
    prog.write_text("print(1)")
    proc = cli("sandbox", "run", str(prog), env={"VISCODEX_SANDBOX_IMAGE": "viscodex-sandbox:nope"})
    assert_one_line_error(proc, 3)
    assert "sandbox build" in proc.stderr


@pytest.mark.docker
def test_run_json_contract(tmp_path: Path, sandbox_image: str) -> None:
    prog = tmp_path / "p.py"
    prog.write_text("import sys\nprint('hi')\nprint('oops', file=sys.stderr)\n")
    proc = cli("sandbox", "run", str(prog), "--json", "--timeout", "5", "--memory", "256")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    # the contract's seven fields first, in this order, then the extensions (written out, not imported)
    assert tuple(data) == (
        "exit_code",
        "stdout",
        "stderr",
        "timed_out",
        "oom_killed",
        "truncated",
        "duration_s",
        "hint",
        "sandbox",
    )
    assert data["exit_code"] == 0 and data["stdout"] == "hi\n" and data["stderr"] == "oops\n"
    assert isinstance(data["duration_s"], float)
    assert data["hint"] is None
    # the versions in use, as the image reports them: the default set's locked matplotlib
    assert data["sandbox"]["package_set"] == "default"
    assert data["sandbox"]["packages"]["matplotlib"] == locked_version("default", "matplotlib")
    assert data["sandbox"]["python"].startswith("3.11.")


@pytest.mark.docker
def test_run_javascript_by_extension_and_failures(tmp_path: Path, sandbox_image: str) -> None:
    prog = tmp_path / "p.js"
    prog.write_text("console.log(40 + 2); process.exit(4)")
    proc = cli("sandbox", "run", str(prog), "--json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["exit_code"] == 4
    slow = tmp_path / "slow.py"
    slow.write_text("import time\ntime.sleep(30)")
    data = json.loads(cli("sandbox", "run", str(slow), "--json", "--timeout", "1").stdout)
    assert data["timed_out"] and data["exit_code"] is None


@pytest.mark.docker
def test_render_html_and_chart(tmp_path: Path, sandbox_image: str) -> None:
    page = tmp_path / "page.html"
    page.write_text("<h1>Hello</h1>")
    out = tmp_path / "page.png"
    proc = cli("sandbox", "render", str(page), "--out", str(out), "--width", "320", "--height", "200")
    assert proc.returncode == 0, proc.stderr
    assert Image.open(out).size == (320, 200)
    chart = tmp_path / "chart.py"
    chart.write_text("import matplotlib.pyplot as plt\nplt.pie([1, 2, 3])\n")
    out = tmp_path / "chart.png"
    assert cli("sandbox", "render", str(chart), "--out", str(out)).returncode == 0
    assert Image.open(out).size == (640, 480)


@pytest.mark.docker
def test_ctrl_c_leaves_no_container(tmp_path: Path, docker_client: docker.DockerClient, sandbox_image: str) -> None:
    prog = tmp_path / "slow.py"
    prog.write_text("import time\ntime.sleep(60)")
    proc = subprocess.Popen(
        [AGENT, "sandbox", "run", str(prog), "--timeout", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **FAULTHANDLER},
    )
    filters = {"label": [LABEL, f"{LABEL_PID}={proc.pid}"]}
    deadline = time.monotonic() + 30
    while not docker_client.containers.list(sparse=True, filters=filters):
        assert time.monotonic() < deadline, "the run never started a container"
        time.sleep(0.1)
    time.sleep(0.5)
    _, stderr = interrupt(proc, timeout=30)
    assert proc.returncode == 1
    assert "Traceback" not in stderr
    assert docker_client.containers.list(all=True, sparse=True, filters=filters) == []


@pytest.mark.docker
def test_doctor_passes(sandbox_image: str) -> None:
    proc = cli("doctor", env={"COLUMNS": "250"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "FAIL" not in proc.stdout
    # the versions in use are on the report
    assert f"matplotlib {locked_version('default', 'matplotlib')}" in proc.stdout
    assert "set default" in proc.stdout


@pytest.mark.docker
@pytest.mark.slow
def test_build_with_user_packages_on_top(
    tmp_path: Path, sandbox_image: str, docker_client: docker.DockerClient
) -> None:
    """`sandbox build --packages FILE`: the user's requirement on top of the set, in an image of its own
    that `run --packages FILE` selects; the set's pins cannot be moved by it."""
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("tabulate  # pretty tables\n")
    on_top = ImageRecipe(extra_requirements=reqs.read_text())
    for stale in (on_top.tag, on_top.python_tag):  # left by an earlier run: build from the set again
        if image_exists(docker_client, stale):
            docker_client.images.remove(stale, force=True)
    built = cli("sandbox", "build", "--packages", str(reqs), timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    tag = built.stdout.strip().splitlines()[-1]
    assert tag.startswith("viscodex-sandbox:default-") and tag != sandbox_image
    assert "base image" in built.stderr and "is up to date" in built.stderr  # only the python stage was built
    prog = tmp_path / "p.py"
    prog.write_text("import tabulate, matplotlib\nprint(tabulate.tabulate([[1]]).split()[0], matplotlib.__version__)")
    ran = cli("sandbox", "run", str(prog), "--packages", str(reqs), "--json")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    data = json.loads(ran.stdout)
    assert data["stdout"].split() == ["-", locked_version("default", "matplotlib")]
    assert "tabulate" in data["sandbox"]["packages"]
    # the default image does not have it, and says so
    plain = json.loads(cli("sandbox", "run", str(prog), "--json").stdout)
    assert plain["exit_code"] == 1 and "no package that provides 'tabulate'" in plain["hint"]
    # a requirement that would move a pinned version is refused before anything is built
    clash = tmp_path / "clash.txt"
    clash.write_text("numpy<2\n")
    refused = cli("sandbox", "build", "--packages", str(clash), timeout=300)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "numpy" in refused.stderr
