"""What `:checkhealth viscodex` asks the Python that runs viscodex-lsp: is Docker there, is the sandbox image
built, does the model endpoint answer with the model. Run by that Python (so it sees the same packages,
environment and config file as the server) with one JSON argument, the plugin's model settings; prints one
JSON object: {name: {ok, warn, detail, fix}}."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

OPENAI = "an OpenAI-compatible URL ending in /v1"


def check(ok: bool, detail: str, fix: str = "", warn: bool = False) -> dict[str, Any]:
    return {"ok": ok, "warn": warn, "detail": detail, "fix": fix}


def docker_and_image() -> dict[str, dict[str, Any]]:
    import docker

    from viscodex.sandbox import ImageRecipe

    try:
        client = docker.from_env(timeout=10)
        version = client.version().get("Version", "?")
    except docker.errors.DockerException as exc:
        fix = "start the Docker daemon (`sudo systemctl start docker`, or `dockerd &` as root) and check DOCKER_HOST"
        return {
            "docker": check(False, f"no Docker daemon answers ({exc.__class__.__name__}: {exc})", fix),
            "sandbox image": check(False, "not checked: Docker does not answer", "start Docker first"),
        }
    found = {"docker": check(True, f"Docker {version} answers")}
    tag = os.environ.get("VISCODEX_SANDBOX_IMAGE") or ImageRecipe().tag
    try:
        client.images.get(tag)
        found["sandbox image"] = check(True, f"{tag} is built")
    except docker.errors.ImageNotFound:
        found["sandbox image"] = check(False, f"{tag} is missing", "build it: `viscodex-agent sandbox build`")
    except docker.errors.APIError as exc:
        found["sandbox image"] = check(False, f"{tag}: {exc}", "see Docker's error")
    return found


def model(given: dict[str, Any]) -> dict[str, Any]:
    import httpx
    from pydantic import ValidationError

    from viscodex.model import ModelSettings

    serve = "start one: `viscodex-agent serve --model ~/.cache/viscodex/models/viscodex-8b` (it prints its URL)"
    try:
        settings = ModelSettings.from_flags(
            **{k: given.get(k) for k in ("model_url", "model_name", "model_path", "backend")}
        )
    except (ValidationError, ValueError) as exc:  # a bad VISCODEX_* variable or config.toml value
        return check(False, f"the model settings do not load: {exc}", "fix the setting it names")
    # The checkpoint the server would load: a named one, the merged model, or the demo it falls back to.
    local = settings.local_model()
    path = local.path
    if settings.backend == "embedded":
        if local.demo:
            return check(False, f"embedded backend: the server loads the demo model ({local.notice()})", warn=True)
        if path.is_dir():
            return check(True, f"embedded backend: the server loads {path} itself")
        return check(
            False, f"embedded backend, but {path} does not exist", "set settings.model_path, or build the model"
        )
    if settings.model_url is None:
        if local.demo:
            detail = f"no model endpoint is set: the server will load the demo model ({local.notice()})"
        else:
            detail = f"no model endpoint is set: the server will load the embedded model ({path}, "
            detail += "present)" if path.is_dir() else "missing)"
        return check(False, detail, f"{serve}, then set settings.model_url (or VISCODEX_MODEL_URL)", warn=True)
    url = settings.model_url.rstrip("/") + "/models"
    key = settings.api_key.get_secret_value()
    headers = {"Authorization": f"Bearer {key}"} if key and key != "EMPTY" else {}
    try:
        answer = httpx.get(url, headers=headers, timeout=5)
    except httpx.HTTPError as exc:
        return check(False, f"{settings.model_url} does not answer ({exc})", f"{serve}, or fix settings.model_url")
    if answer.status_code != 200:
        return check(False, f"{url} answers HTTP {answer.status_code}", f"check settings.model_url ({OPENAI})")
    try:
        listing = answer.json()
    except ValueError:
        return check(False, f"{url} did not answer JSON", f"check settings.model_url ({OPENAI})")
    names = [
        str(m.get("id"))
        for m in (listing.get("data") or [] if isinstance(listing, dict) else [])
        if isinstance(m, dict)
    ]
    if settings.model_name not in names:
        served = ", ".join(names) or "nothing"
        fix = f"set settings.model_name to one of: {served}"
        return check(False, f"{settings.model_url} serves {served}, not {settings.model_name!r}", fix)
    return check(True, f"{settings.model_url} answers and serves {settings.model_name!r}")


def main() -> None:
    given = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    if not isinstance(given, dict):  # Lua's JSON writes an empty settings table as [] (no settings given)
        given = {}
    try:
        found = docker_and_image()
        found["model"] = model(given)
    except ImportError as exc:
        fix = "install VisCodex into it (bootstrap.sh, or `pip install -e .`), or set `python` in setup()"
        found = {"viscodex": check(False, f"{sys.executable} cannot import VisCodex ({exc})", fix)}
    print(json.dumps(found))


if __name__ == "__main__":
    main()
