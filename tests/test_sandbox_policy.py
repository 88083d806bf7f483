"""The sandbox's policy as data, checked without Docker: limits, the container spec, owners, recipes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from viscodex.sandbox import ImageRecipe, Limits, RunResult, SandboxPolicy
from viscodex.sandbox.container import container_spec
from viscodex.sandbox.languages import language_for_path, program_for
from viscodex.sandbox.owners import Owner, current_owner, is_orphan, process_start


def test_default_limits_are_default_deny() -> None:
    limits = Limits()
    assert (limits.network, limits.memory_mb, limits.cpus, limits.pids) == (False, 512, 1.0, 128)
    assert (limits.timeout_s, limits.output_bytes, limits.user) == (10.0, 1 << 20, "65534:65534")


def test_container_spec_hardening() -> None:
    spec = container_spec("img:1", "exec", Limits())
    assert spec["network_mode"] == "none"
    assert spec["read_only"] is True
    assert spec["cap_drop"] == ["ALL"]
    assert spec["security_opt"] == ["no-new-privileges"]
    assert spec["mem_limit"] == spec["memswap_limit"] == "512m"
    assert spec["pids_limit"] == 128 and spec["nano_cpus"] == 1_000_000_000
    assert spec["user"] == "65534:65534"
    assert set(spec["tmpfs"]) == {"/work", "/tmp"}
    assert all("size=64m" in opts and "nosuid" in opts for opts in spec["tmpfs"].values())
    assert "volumes" not in spec and "mounts" not in spec and "privileged" not in spec
    assert spec["labels"]["org.viscodex.owner.pid"] == str(os.getpid())


def test_network_is_opt_in() -> None:
    assert container_spec("img:1", "exec", Limits(network=True))["network_mode"] == "bridge"


def test_limits_reject_nonsense() -> None:
    with pytest.raises(ValidationError):
        Limits(memory_mb=0)
    with pytest.raises(ValidationError):
        Limits(timeout_s=-1)
    with pytest.raises(ValidationError):
        Limits(bogus=1)  # type: ignore[call-arg]


def test_merged_ignores_unset() -> None:
    limits = Limits().merged(timeout_s=3, memory_mb=None)
    assert limits.timeout_s == 3 and limits.memory_mb == 512


@pytest.mark.parametrize("suffix", [".yaml", ".toml"])
def test_policy_loads_from_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"policy{suffix}"
    if suffix == ".yaml":
        path.write_text("run:\n  timeout_s: 3\n  memory_mb: 256\n")
    else:
        path.write_text("[run]\ntimeout_s = 3\nmemory_mb = 256\n")
    policy = SandboxPolicy.load(path)
    assert policy.run.timeout_s == 3 and policy.run.memory_mb == 256
    assert policy.html.memory_mb == SandboxPolicy().html.memory_mb


def test_owner_labels_roundtrip_and_orphan_rule() -> None:
    me = current_owner()
    assert Owner.from_labels(me.labels()) == me
    assert not is_orphan(me)
    assert is_orphan(Owner(me.host, me.pid, "1"))  # same pid, different start: a reused pid
    assert not is_orphan(Owner("elsewhere", 999999, "1"))  # another host: never ours to judge
    assert not is_orphan(None)
    assert Owner.from_labels({"org.viscodex.owner.pid": "x"}) is None
    assert process_start(os.getpid()) == me.start


def test_recipe_tag_tracks_inputs() -> None:
    base = ImageRecipe()
    assert base.tag == ImageRecipe().tag
    assert ImageRecipe(packages=(*base.packages, "git")).tag != base.tag
    # another package set, or requirements on top, change the python stage and the tag, not the base
    older = ImageRecipe(package_set="chartmimic")
    assert older.tag != base.tag and older.python_tag != base.python_tag
    assert older.base_tag == base.base_tag
    extra = ImageRecipe(extra_requirements="tabulate\n")
    assert extra.tag != base.tag and extra.base_tag == base.base_tag
    # comments and order in the user's requirements do not matter
    assert ImageRecipe(extra_requirements="b\na  # why\n").tag == ImageRecipe(extra_requirements="a\nb\n").tag
    assert ImageRecipe(mirror="http://mirror.example/debian").tag == base.tag
    fewer_fonts = ImageRecipe(web_fonts=base.web_fonts[1:])
    assert fewer_fonts.tag != base.tag and fewer_fonts.base_tag == base.base_tag  # only the thin layer
    assert base.tag.startswith("viscodex-sandbox:default-")
    assert older.tag.startswith("viscodex-sandbox:chartmimic-")


def test_layer_and_registry_dockerfiles() -> None:
    recipe = ImageRecipe(registry_base="debian:bookworm")
    assert recipe.python_dockerfile().startswith(f"FROM {recipe.base_tag}\n")
    assert "--require-hashes" in recipe.python_dockerfile()
    assert recipe.layer_dockerfile().startswith(f"FROM {recipe.python_tag}\n")
    assert "USER 65534:65534" in recipe.layer_dockerfile()
    assert "apt-get install" in recipe.registry_dockerfile()
    assert "chromium" in recipe.registry_dockerfile()
    with pytest.raises(ValueError):
        ImageRecipe().registry_dockerfile()


def test_run_result_contract_fields() -> None:
    result = RunResult(
        exit_code=0,
        stdout="a",
        stderr="",
        timed_out=False,
        oom_killed=False,
        truncated=False,
        duration_s=0.1,
        png=b"\x89PNG",
    )
    import json

    data = json.loads(result.contract_json({"package_set": "default"}))
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
    assert data["sandbox"] == {"package_set": "default"}


def test_languages() -> None:
    assert program_for("python") == ("main.py", ["python3", "main.py"])
    assert program_for("javascript")[1][0] == "node"
    assert language_for_path(Path("x.JS")) == "javascript"
    assert language_for_path(Path("x.rb")) is None


def test_pool_close_while_a_cold_container_starts_leaves_no_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: close() landing while acquire() built a cold container used to miss it, so its run went on."""
    from concurrent.futures import ThreadPoolExecutor

    from viscodex.sandbox import SandboxError
    from viscodex.sandbox import pool as pool_module

    destroyed: list[object] = []
    holder: dict[str, pool_module.WarmPool] = {}

    class StartsDuringClose:
        def __init__(self, *args: object, **kwargs: object) -> None:
            holder["pool"].close()  # the sandbox is closed while docker is still starting this container

        def wait_ready(self, *args: object) -> None:
            raise AssertionError("a container started after close must not be used")

        def destroy(self) -> None:
            destroyed.append(self)

    monkeypatch.setattr(pool_module, "WarmContainer", StartsDuringClose)
    with ThreadPoolExecutor(max_workers=1) as executor:
        pool = pool_module.WarmPool(None, "img", "exec", Limits(), 0, executor)  # type: ignore[arg-type]
        holder["pool"] = pool
        with pytest.raises(SandboxError, match="closed"):
            pool.acquire()
    assert len(destroyed) == 1
