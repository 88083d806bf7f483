"""Turn a recipe input into a local folder: a path as is, a hub id downloaded (only when asked for, on a
machine that can reach the hub). Nothing is ever downloaded implicitly by tests or by `solve`."""

from __future__ import annotations

import os
from pathlib import Path

from .engine import MergeError


class HubUnavailable(MergeError):
    """The Hugging Face hub cannot be reached from here (offline mode, no network, a server error):
    a service is missing, not the user's input (``viscodex-train`` exits 3, not 2)."""


WEIGHT_PATTERNS = ["*.safetensors", "*.json", "*.jinja", "*.txt", "*.model", "*.py", "*.tiktoken"]


def looks_local(ref: str) -> bool:
    return ref.startswith((".", "/", "~")) or Path(ref).expanduser().exists()


def resolve_input(ref: str, *, allow_download: bool) -> Path:
    if looks_local(ref):
        path = Path(ref).expanduser()
        if not path.is_dir():
            raise MergeError(f"no checkpoint folder at {path}")
        return path
    if not allow_download:
        raise MergeError(f"{ref} is not a local folder; pass --download to fetch it from the Hugging Face hub")
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise HubUnavailable(f"cannot download {ref}: HF_HUB_OFFLINE=1 is set")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        return Path(snapshot_download(ref, allow_patterns=WEIGHT_PATTERNS))
    except (RepositoryNotFoundError, RevisionNotFoundError) as exc:  # the hub answered: no such model
        raise MergeError(f"{ref} is not on the Hugging Face hub: {' '.join(str(exc).split())[:300]}") from None
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise HubUnavailable(f"cannot download {ref} from the Hugging Face hub: {exc}") from None
