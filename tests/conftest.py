"""Shared fixtures. Docker tests use the real daemon and the real sandbox image.

On a user's machine without Docker they skip; in CI (CI=true) a missing service fails the run, because
a skipped safety test proves nothing.
"""

from __future__ import annotations

import importlib
import os
import re
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import docker
import pytest

from viscodex.sandbox import DEFAULT_SET, Sandbox
from viscodex.sandbox.image import ImageRecipe, image_exists
from viscodex.sandbox.owners import LABEL, LABEL_INSTANCE, LABEL_PID
from viscodex.sandbox.package_sets import OLDEST_SET

# The checkout's top-level folders are subpackages of `viscodex` (src/viscodex links to them), never
# top-level modules: `python -m pytest` puts the checkout on sys.path, so take it off again before
# any test imports, or `import agent` would work here and nowhere else.
_CHECKOUT = Path(__file__).resolve().parents[1]
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _CHECKOUT]

# Hermetic: no VISCODEX_* setting and no config file of the machine's user reaches a test (or the
# processes it starts), except what points the tests at their own infrastructure.
KEPT_VARIABLES = {"VISCODEX_SANDBOX_IMAGE", "VISCODEX_HASH_CACHE", "VISCODEX_WHEEL_CACHE"}
for _name in [n for n in os.environ if n.startswith("VISCODEX_") and n not in KEPT_VARIABLES]:
    del os.environ[_name]
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="viscodex-test-config-")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# merges record input digests in a cache; the tests' own, not the user's
os.environ.setdefault("VISCODEX_HASH_CACHE", f"{tempfile.gettempdir()}/viscodex-test-{os.getpid()}/sha256.json")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# A shell without job control starts a background job (`bash .ci/run &`, `nohup ... &`) with SIGINT and
# SIGQUIT ignored, and an ignored signal stays ignored across exec: the console scripts the Ctrl-C tests
# start would never see their SIGINT. Tests start their processes as a terminal would; a handler (unlike
# SIG_IGN) is reset to the default in every child.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


LOAD_MARGIN_S = 3.0
"""Added to every upper bound on wall time: under ``-n 2`` beside other jobs, a step that takes 1 s
alone can take 3. Lower bounds (a backoff or a timeout did wait) need no margin."""


def missing_service(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"required service missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def require_module(name: str) -> ModuleType:
    """``pytest.importorskip`` that fails in CI: a test of an optional dependency skips only on a
    developer's machine that lacks it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        missing_service(f"{name} cannot be imported: {exc}")
        raise  # unreachable: missing_service skips or fails


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        missing_service(f"no Docker daemon: {exc}")
    return client


@pytest.fixture(scope="session")
def sandbox_image(docker_client: docker.DockerClient) -> str:
    tag = os.environ.get("VISCODEX_SANDBOX_IMAGE") or ImageRecipe().tag
    if not image_exists(docker_client, tag):
        missing_service(f"sandbox image {tag} missing: run `viscodex-agent sandbox build`")
    return tag


def set_image(client: docker.DockerClient, package_set: str) -> str:
    """The image of a package set (``default``: the one ``sandbox_image`` gives), or a skip/CI failure."""
    if package_set == DEFAULT_SET and os.environ.get("VISCODEX_SANDBOX_IMAGE"):
        return os.environ["VISCODEX_SANDBOX_IMAGE"]
    tag = ImageRecipe(package_set=package_set).tag
    if not image_exists(client, tag):
        missing_service(f"sandbox image {tag} missing: run `viscodex-agent sandbox build --package-set {package_set}`")
    return tag


def locked_version(package_set: str, dist: str) -> str:
    """The version a package set's lock file pins, read straight from the file (not through our code)."""
    lock = (Path(__file__).parents[1] / "sandbox" / "package_sets" / f"{package_set}.lock").read_text()
    found = re.search(rf"^{re.escape(dist)}==(\S+)", lock, re.MULTILINE)
    assert found is not None, f"{dist} is not pinned in {package_set}.lock"
    return found.group(1)


SUPPORTED_SETS = (DEFAULT_SET, OLDEST_SET)
"""What version-sensitive sandbox code (chart tracer, DOM text) is tested on: newest and oldest."""


def own_containers(client: docker.DockerClient, sandbox: Sandbox | None = None) -> list[str]:
    """Sandbox containers this test process (or one sandbox of it) owns; xdist workers differ in pid."""
    labels = [LABEL, f"{LABEL_PID}={os.getpid()}"]
    if sandbox is not None:
        labels.append(f"{LABEL_INSTANCE}={sandbox.instance}")
    return [c.id for c in client.containers.list(all=True, sparse=True, filters={"label": labels})]


@pytest.fixture
def fresh_sandbox(docker_client: docker.DockerClient, sandbox_image: str) -> Iterator[Sandbox]:
    """A sandbox of its own, with warm pools; after the test, none of its containers may remain."""
    with Sandbox(client=docker_client, image=sandbox_image) as sandbox:
        yield sandbox
    assert own_containers(docker_client, sandbox) == []


@pytest.fixture(scope="module")
def sandbox(docker_client: docker.DockerClient, sandbox_image: str) -> Iterator[Sandbox]:
    """One warm sandbox shared by a module's tests; checked for leftovers when the module ends."""
    with Sandbox(client=docker_client, image=sandbox_image) as shared:
        yield shared
    assert own_containers(docker_client, shared) == []


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The three tiny checkpoints (vlm, code, base), built once per session: seconds, no download."""
    from viscodex.training.tiny import build_tiny_models

    out = tmp_path_factory.mktemp("tiny")
    return dict(build_tiny_models(out, seed=0))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that needs the Docker daemon (every sandbox fixture depends on ``docker_client``) is
    marked ``docker`` whether or not its module says so: ``-m "not docker"`` then really runs
    without the daemon."""
    for item in items:
        if "docker_client" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def vllm_lock_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lock file all xdist workers share (the parent of each worker's base temp), held while a
    test runs a vLLM server: two CPU vLLM servers at once on a 2-core machine starve everything else.
    The ``xdist_group("vllm")`` marks do not keep those tests on one worker with pytest 9.2 and
    pytest-xdist 3.8 (the group suffix never reaches the node ids), so the lock is what serialises them."""
    return tmp_path_factory.getbasetemp().parent / "viscodex-vllm.lock"
