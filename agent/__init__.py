"""viscodex.agent"""

from .cli_errors import describe_failure, run_app

__all__ = ["describe_failure", "run_app"]
