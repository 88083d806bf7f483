"""The sandbox runs the code people write today: package sets, their versions, and the notes a failed
import or an unknown keyword gets.

Each idiom test is an unmodified pattern from current library documentation, run in the default set;
it fails on an image with Debian bookworm's matplotlib 3.6 / numpy 1.24 / pandas 1.5.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from conftest import OLDEST_SET, locked_version, own_containers, set_image
from PIL import Image

from viscodex.sandbox import ImageVersions, Sandbox, SandboxPolicy, available_sets, load_set, version_hint

SETS_DIR = Path(__file__).parents[1] / "sandbox" / "package_sets"


# --- package sets as data (no Docker) -----------------------------------------------------------


def test_sets_are_the_lock_files() -> None:
    assert available_sets()[0] == "default"
    assert {"default", "chartmimic"} <= set(available_sets())
    assert load_set("chartmimic").pins["matplotlib"] == "3.8.4" == locked_version("chartmimic", "matplotlib")
    assert load_set("default").pins["matplotlib"] == locked_version("default", "matplotlib")
    # every pin of every lock carries a hash: the image installs with --require-hashes
    for name in available_sets():
        lock = (SETS_DIR / f"{name}.lock").read_text()
        pins = re.findall(r"^[a-z0-9][^\s=]*==", lock, re.MULTILINE)
        assert pins and len(re.findall(r"^\S+==\S+ \\\n\s+--hash=sha256:", lock, re.MULTILINE)) == len(pins)


def test_default_set_is_current() -> None:
    major_minor = tuple(int(p) for p in locked_version("default", "matplotlib").split(".")[:2])
    assert major_minor >= (3, 10)
    assert int(locked_version("default", "numpy").split(".")[0]) >= 2
    assert int(locked_version("default", "pandas").split(".")[0]) >= 2
    assert locked_version("default", "seaborn").startswith("0.13")


def test_unknown_set_is_refused_with_the_names() -> None:
    with pytest.raises(Exception, match="chartmimic"):
        load_set("nope")
    with pytest.raises(Exception, match="no package set"):
        load_set("../default")


def test_locks_follow_their_sources() -> None:
    """Every pin and every name in a set's .in file is in its lock (a forgotten re-lock fails here)."""
    for name in available_sets():
        source = (SETS_DIR / f"{name}.in").read_text()
        requested = re.findall(r"^([A-Za-z0-9][\w.-]*)(?:==(\S+))?\s*$", source, re.MULTILINE)
        assert requested
        for dist, version in requested:
            locked = locked_version(name, dist.lower())
            assert not version or locked == version, f"{name}.lock has {dist}=={locked}, {name}.in says {version}"


VERSIONS = ImageVersions(
    package_set="chartmimic",
    python="3.11.2",
    packages={"matplotlib": "3.8.4", "numpy": "1.26.1", "pillow": "10.2.0"},
    modules={"matplotlib": "matplotlib", "numpy": "numpy", "PIL": "pillow", "mpl_toolkits": "matplotlib"},
)


def _traceback(*frames: str, error: str) -> str:
    lines = ["Traceback (most recent call last):"]
    lines += [f'  File "{f}", line 1, in <module>\n    x()' for f in frames]
    return "\n".join([*lines, error])


def test_hint_names_the_version_behind_an_unexpected_keyword() -> None:
    stderr = _traceback(
        "/work/main.py",
        "/usr/local/lib/python3.11/dist-packages/matplotlib/__init__.py",
        error="TypeError: Axes.violinplot() got an unexpected keyword argument 'side'",
    )
    assert version_hint(stderr, VERSIONS) == "viscodex: the sandbox has matplotlib 3.8.4 (package set 'chartmimic')"


def test_hint_for_imports() -> None:
    missing = _traceback("/work/main.py", error="ModuleNotFoundError: No module named 'squarify'")
    hint = version_hint(missing, VERSIONS)
    assert hint is not None and "no package that provides 'squarify'" in hint and "--packages" in hint
    sub = _traceback("/work/main.py", error="ModuleNotFoundError: No module named 'PIL.AvifImagePlugin'")
    assert version_hint(sub, VERSIONS) == (
        "viscodex: the sandbox has pillow 10.2.0 (package set 'chartmimic'), which has no 'PIL.AvifImagePlugin'"
    )
    name = _traceback(
        "/work/main.py",
        error="ImportError: cannot import name 'trapezoid' from 'numpy' (/usr/local/lib/numpy/__init__.py)",
    )
    assert version_hint(name, VERSIONS) == "viscodex: the sandbox has numpy 1.26.1 (package set 'chartmimic')"
    attr = _traceback("/work/main.py", error="AttributeError: module 'numpy' has no attribute 'trapezoid'")
    assert version_hint(attr, VERSIONS) == "viscodex: the sandbox has numpy 1.26.1 (package set 'chartmimic')"


def test_no_hint_for_other_failures() -> None:
    assert version_hint(_traceback("/work/main.py", error="ZeroDivisionError: division by zero"), VERSIONS) is None
    assert version_hint("", VERSIONS) is None
    # a keyword the program's own function lacks is not a library version problem
    own = _traceback("/work/main.py", error="ValueError: bad value")
    assert version_hint(own, VERSIONS) is None
    # an image without recorded versions gives no note rather than a wrong one
    stderr = _traceback("/work/main.py", error="ModuleNotFoundError: No module named 'x'")
    assert version_hint(stderr, ImageVersions()) is None


# --- today's idioms run in the default set --------------------------------------------------------

IDIOMS = {
    "legend_reverse": """
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.plot([1, 2, 3], label="first")
ax.plot([3, 2, 1], label="second")
ax.legend(reverse=True)
""",
    "bar_label": """
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
bars = ax.bar(["a", "b", "c"], [3, 5, 2])
ax.bar_label(bars, fmt="{:.1f}", padding=3)
""",
    "constrained_layout": """
import matplotlib.pyplot as plt
fig, axs = plt.subplots(2, 2, layout="constrained")
for ax in axs.flat:
    ax.plot([1, 2], [2, 1])
    ax.set_title("panel")
""",
    "grouped_bar": """
import matplotlib.pyplot as plt
categories = ["A", "B", "C"]
data = {"2023": [1, 2, 3], "2024": [2, 3, 1]}
fig, ax = plt.subplots()
ax.grouped_bar(data, tick_labels=categories, group_spacing=0.2)
ax.legend()
""",
    "stackplot_labels": """
import matplotlib.pyplot as plt
x = [1, 2, 3, 4]
fig, ax = plt.subplots()
ax.stackplot(x, [1, 2, 3, 4], [2, 2, 1, 1], labels=["north", "south"], hatch=["//", ".."], alpha=0.8)
ax.legend(loc="upper left", reverse=True)
""",
    "new_colormaps": """
import matplotlib.pyplot as plt
import numpy as np
fig, axs = plt.subplots(1, 3, layout="constrained")
for ax, name in zip(axs, ["berlin", "managua", "vanimo"]):
    ax.imshow(np.linspace(0, 1, 100).reshape(10, 10), cmap=plt.colormaps[name])
""",
    "subplot_mosaic": """
import matplotlib.pyplot as plt
fig, axd = plt.subplot_mosaic([["left", "right_top"], ["left", "right_bottom"]], layout="constrained",
                              width_ratios=[2, 1])
for name, ax in axd.items():
    ax.set_title(name)
""",
    "numpy2": """
import numpy as np
import matplotlib.pyplot as plt
assert np.__version__.split(".")[0] == "2"
x = np.linspace(0, np.pi, 50)
area = np.trapezoid(np.sin(x), x)
rng = np.random.default_rng(0)
fig, ax = plt.subplots()
ax.plot(x, np.sin(x) + rng.normal(0, 0.01, x.shape), label=f"area {area:.2f}")
ax.legend()
assert np.isdtype(x.dtype, "real floating")
""",
    "pandas2": """
import pandas as pd
import matplotlib.pyplot as plt
df = pd.DataFrame({"q": ["Q1", "Q2", "Q3"], "sales": [10, 12, 9]}).convert_dtypes(dtype_backend="numpy_nullable")
df["label"] = df["q"].map(str.lower)
shown = df.map(str)  # DataFrame.map: pandas >= 2.1 (applymap before)
df["band"] = df["sales"].case_when([(df["sales"] > 10, "high"), (df["sales"] <= 10, "low")])  # >= 2.2
totals = df.groupby(["label", "band"], observed=True)["sales"].sum().unstack()
ax = totals.plot.bar(stacked=True)
ax.set_ylabel("sales")
""",
    "seaborn013": """
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import seaborn.objects as so
df = pd.DataFrame({"day": ["Mon", "Tue", "Mon", "Tue"], "tip": [1.0, 2.0, 1.5, 2.5], "sex": ["F", "F", "M", "M"]})
fig, (a, b) = plt.subplots(1, 2, layout="constrained")
sns.barplot(df, x="day", y="tip", hue="sex", errorbar=None, legend="brief", ax=a)
sns.stripplot(df, x="day", y="tip", native_scale=True, ax=b)
so.Plot(df, x="day", y="tip", color="sex").add(so.Bar(), so.Agg(), so.Dodge()).on(plt.figure()).plot()
""",
}


@pytest.fixture(scope="module")
def default_sandbox(docker_client: docker.DockerClient, sandbox_image: str) -> Iterator[Sandbox]:
    with Sandbox(client=docker_client, image=sandbox_image, pool={"chart": 2, "exec": 1}) as shared:
        yield shared
    assert own_containers(docker_client, shared) == []


def _is_figure(png: bytes | None) -> bool:
    if not png:
        return False
    with Image.open(io.BytesIO(png)) as image:
        return image.format == "PNG" and image.width > 100 and len(image.convert("L").getcolors(1 << 16) or []) > 2


@pytest.mark.docker
@pytest.mark.parametrize("idiom", sorted(IDIOMS))
def test_current_idiom_draws_a_figure(default_sandbox: Sandbox, idiom: str) -> None:
    result = default_sandbox.run_chart(IDIOMS[idiom], trace=True)
    assert result.ok, result.stderr
    assert _is_figure(result.png)
    assert result.trace is not None and "error" not in result.trace, result.trace


@pytest.mark.docker
def test_plotly_writes_a_png_with_the_network_off(default_sandbox: Sandbox) -> None:
    code = (
        "import plotly.express as px\n"
        "fig = px.bar(x=['a', 'b'], y=[1, 3], title='offline')\n"
        "fig.write_image('out.png', width=400, height=300)\n"
        "print(open('out.png', 'rb').read(8) == b'\\x89PNG\\r\\n\\x1a\\n')\n"
    )
    result = default_sandbox.run(code, timeout_s=60, memory_mb=1024)
    assert result.ok and result.stdout.strip() == "True", result.stderr[-2000:]


@pytest.mark.docker
def test_versions_in_use_are_the_locked_ones(default_sandbox: Sandbox, docker_client: docker.DockerClient) -> None:
    for dist in ("matplotlib", "numpy", "pandas", "seaborn", "scipy"):
        assert default_sandbox.versions.packages[dist] == locked_version("default", dist)
    assert default_sandbox.versions.package_set == "default"
    probe = default_sandbox.run("import matplotlib, numpy; print(matplotlib.__version__, numpy.__version__)")
    assert probe.stdout.split() == [locked_version("default", "matplotlib"), locked_version("default", "numpy")]


# --- the oldest set: its own image, and notes that name its versions --------------------------------


@pytest.fixture(scope="module")
def oldest_sandbox(docker_client: docker.DockerClient) -> Iterator[Sandbox]:
    with Sandbox(client=docker_client, image=set_image(docker_client, OLDEST_SET), pool={}) as shared:
        yield shared
    assert own_containers(docker_client, shared) == []


@pytest.mark.docker
def test_oldest_set_runs_its_own_versions(oldest_sandbox: Sandbox) -> None:
    probe = oldest_sandbox.run("import matplotlib, numpy; print(matplotlib.__version__, numpy.__version__)")
    assert probe.stdout.split() == [locked_version(OLDEST_SET, "matplotlib"), locked_version(OLDEST_SET, "numpy")]
    assert oldest_sandbox.versions.package_set == OLDEST_SET


@pytest.mark.docker
def test_a_newer_keyword_fails_with_the_version_named(oldest_sandbox: Sandbox) -> None:
    # Axes.violinplot(side=...) arrived in matplotlib 3.9
    code = "import matplotlib.pyplot as plt\nplt.violinplot([[1, 2, 3]], side='low')\n"
    result = oldest_sandbox.run_chart(code)
    assert not result.ok
    # pyplot raises it in the script's own frame: the note names the chart libraries the set has
    expected = f"matplotlib {locked_version(OLDEST_SET, 'matplotlib')}"
    assert result.hint is not None and expected in result.hint and f"package set '{OLDEST_SET}'" in result.hint
    assert "unexpected keyword argument 'side'" in result.stderr and result.hint in result.stderr


@pytest.mark.docker
def test_a_missing_package_is_named(oldest_sandbox: Sandbox) -> None:
    result = oldest_sandbox.run("import wordcloud\n")
    assert result.exit_code == 1
    assert result.hint is not None and "no package that provides 'wordcloud'" in result.hint


@pytest.mark.docker
def test_cli_reports_versions_of_the_chosen_set(tmp_path: Path, docker_client: docker.DockerClient) -> None:
    set_image(docker_client, OLDEST_SET)
    prog = tmp_path / "p.py"
    prog.write_text("import matplotlib.pyplot as plt\nplt.violinplot([[1, 2]], side='low')\n")
    agent = Path(sys.executable).with_name("viscodex-agent")
    proc = subprocess.run(
        [str(agent), "sandbox", "run", str(prog), "--json", "--package-set", OLDEST_SET],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert data["sandbox"]["package_set"] == OLDEST_SET
    assert data["sandbox"]["packages"]["matplotlib"] == "3.8.4"
    assert "matplotlib 3.8.4" in data["hint"]


def test_policy_file_names_the_set_and_requirements(tmp_path: Path) -> None:
    (tmp_path / "extra.txt").write_text("tabulate\n")
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text("package_set: chartmimic\nrequirements: extra.txt\nrun:\n  timeout_s: 5\n")
    policy = SandboxPolicy.load(policy_file)
    assert policy.requirements == tmp_path / "extra.txt"  # relative to the policy file
    recipe = policy.image_recipe()
    assert recipe.package_set == "chartmimic" and recipe.extra_requirements == "tabulate\n"
    assert recipe.tag.startswith("viscodex-sandbox:chartmimic-")
    assert SandboxPolicy().image_recipe().tag.startswith("viscodex-sandbox:default-")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--package-set", "nope"], "no package set 'nope'; the sets are: default, chartmimic"),
        (["--packages", "missing.txt"], "no such file: missing.txt"),
    ],
)
def test_solve_and_run_refuse_an_unknown_set_in_one_line(tmp_path: Path, flags: list[str], message: str) -> None:
    picture = tmp_path / "p.png"
    Image.new("RGB", (64, 64), "white").save(picture)
    prog = tmp_path / "p.py"
    prog.write_text("print(1)\n")
    agent = Path(sys.executable).with_name("viscodex-agent")
    for args in (["solve", str(picture), "--kind", "chart"], ["sandbox", "run", str(prog)]):
        proc = subprocess.run([str(agent), *args, *flags], capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip().splitlines() == [f"viscodex-agent: {message}"]
