"""`viscodex-agent sandbox ...`: run and render files in the sandbox, build its image."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console

from viscodex.sandbox import (
    LANGUAGES,
    Language,
    Limits,
    Sandbox,
    SandboxPolicy,
    Viewport,
    available_sets,
    ensure_image,
    language_for_path,
    language_spec_for_path,
)

from .cli_errors import UsageError, expected_failures
from .exit_codes import ExitCode

app = typer.Typer(help="Run and render untrusted code in the hardened sandbox.", no_args_is_help=True)
err = Console(stderr=True)

PolicyOpt = Annotated[Path | None, typer.Option("--policy", help="Limits as YAML or TOML (see SandboxPolicy).")]
PackageSetOpt = Annotated[
    str | None,
    typer.Option(
        "--package-set",
        help=f"The image's Python package set: {', '.join(available_sets())} (default: the policy's, else default).",
    ),
]
PackagesOpt = Annotated[
    Path | None,
    typer.Option("--packages", help="A requirements file installed on top of the package set (its own image)."),
]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None


def load_policy(path: Path | None, package_set: str | None = None, packages: Path | None = None) -> SandboxPolicy:
    """The policy file's limits (defaults without one), with the image chosen by the flags if given."""
    try:
        policy = SandboxPolicy() if path is None else SandboxPolicy.load(path)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise UsageError(f"bad policy file {path}: {' '.join(str(exc).split())[:400]}") from None
    if package_set is not None and package_set not in available_sets():
        raise UsageError(f"no package set {package_set!r}; the sets are: {', '.join(available_sets())}")
    if packages is not None and not packages.is_file():
        raise UsageError(f"no such file: {packages}")
    changes = {"package_set": package_set, "requirements": packages}
    return policy.model_copy(update={k: v for k, v in changes.items() if v is not None})


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="The program to run.")],
    lang: Annotated[
        str | None,
        typer.Option(help=f"One of {', '.join(LANGUAGES)}; default: from the extension."),
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="Wall-time limit in seconds.")] = None,
    memory: Annotated[int | None, typer.Option(help="Memory limit in MiB (no swap).")] = None,
    stdin: Annotated[Path | None, typer.Option(help="A file to feed on standard input.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    policy: PolicyOpt = None,
    package_set: PackageSetOpt = None,
    packages: PackagesOpt = None,
) -> None:
    """Run FILE in a fresh container. Exit 0 if the program succeeded, 1 if it failed."""
    with expected_failures():
        language = _language(file, lang)
        code = _read_text(file)
        stdin_data = stdin.read_bytes() if stdin is not None and stdin.is_file() else b""
        if stdin is not None and not stdin.is_file():
            raise UsageError(f"no such file: {stdin}")
        if timeout is not None and timeout <= 0:
            raise UsageError("--timeout must be positive")
        if memory is not None and memory < 16:
            raise UsageError("--memory must be at least 16 MiB")
        pol = load_policy(policy, package_set, packages)
        with Sandbox(pool={}, policy=pol) as sandbox:
            limits: Limits = pol.run.merged(timeout_s=timeout, memory_mb=memory)
            result = sandbox.run(code, lang=language, stdin=stdin_data, limits=limits)
            versions = sandbox.versions
    if json_out:
        print(result.contract_json(versions.summary()))
    else:
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        if not result.ok:
            err.print(f"[red]viscodex-agent: {result.summary()}[/red]")
        if result.truncated:
            err.print("[yellow]viscodex-agent: output was cut at the per-stream cap[/yellow]")
    raise typer.Exit(int(ExitCode.OK if result.ok else ExitCode.FAILED))


def _language(file: Path, lang: str | None) -> Language:
    if lang is not None:
        if lang not in LANGUAGES:
            raise UsageError(f"unknown language {lang!r}; use one of {', '.join(LANGUAGES)}")
        return lang
    found = language_for_path(file)
    if found is None:
        raise UsageError(f"cannot tell the language of {file.name}; pass --lang")
    return found


@app.command()
def render(
    file: Annotated[Path, typer.Argument(help="An .html page or a .py matplotlib script.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the PNG.")],
    width: Annotated[int | None, typer.Option(help="Viewport (HTML) or figure (chart) width.")] = None,
    height: Annotated[int | None, typer.Option(help="Viewport or figure height.")] = None,
    timeout: Annotated[float | None, typer.Option(help="Time limit in seconds.")] = None,
    policy: PolicyOpt = None,
    package_set: PackageSetOpt = None,
    packages: PackagesOpt = None,
) -> None:
    """Render FILE to a PNG with the network off: a full-page screenshot, or the figure drawn."""
    with expected_failures():
        spec = language_spec_for_path(file)
        language = spec.name if spec is not None else None
        if language not in ("html", "python"):
            raise UsageError(f"render takes .html or .py files, not {file.name}")
        source = _read_text(file)
        with Sandbox(pool={}, policy=load_policy(policy, package_set, packages)) as sandbox:
            if language == "python":
                size = (width, height) if width and height else None
                png = sandbox.render_chart(source, size=size, timeout_s=timeout)
            else:
                try:
                    viewport = Viewport(width=width or 1280, height=height or 800)
                except ValueError:
                    raise UsageError("--width must be 16..8192 and --height 16..16384 pixels") from None
                png = sandbox.render_html(source, viewport, timeout_s=timeout)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(png)
        except OSError as exc:
            raise UsageError(f"cannot write {out}: {exc}") from None
    err.print(f"wrote {out} ({len(png)} bytes)")


@app.command()
def build(
    force: Annotated[bool, typer.Option(help="Rebuild even if the image is up to date.")] = False,
    registry_base: Annotated[
        str | None,
        typer.Option(help="Build from a registry image (e.g. debian:bookworm) instead of mmdebstrap."),
    ] = None,
    package_set: PackageSetOpt = None,
    packages: PackagesOpt = None,
    policy: PolicyOpt = None,
) -> None:
    """Build the sandbox image from Debian packages and locked wheels (no registry needed). Idempotent:
    each package set (and set plus --packages) gets its own image, built once."""
    with expected_failures():
        pol = load_policy(policy, package_set, packages)
        recipe = pol.image_recipe().model_copy(update={"registry_base": registry_base})
        with err.status("building the sandbox image") as status:

            def progress(message: str) -> None:
                status.update(message[:120])
                if not message.startswith(("I: ", "Step ", " ---> ")):
                    err.print(message, markup=False, highlight=False)

            tag = ensure_image(recipe, progress=progress, force=force)
    print(tag)
