"""``check_syntax``: the one entry point, dispatching on the language."""

from __future__ import annotations

from .formats import check_diff, check_json
from .html import check_html
from .languages import PARSED_AS, normalize_language
from .parsers import SESSION, GaveUp, deadline_for, tree_issues
from .python import check_python
from .report import MAX_ERRORS, Source, SyntaxReport
from .session import SyntaxSession


def check_syntax(
    code: str, language: str, *, max_errors: int = MAX_ERRORS, session: SyntaxSession | None = None
) -> SyntaxReport:
    """Check ``code`` in ``language`` (a ``SyntaxLanguage`` or an alias in ``LANGUAGE_ALIASES``).

    Never raises on any code; raises ValueError only for a language it does not know. Thread-safe:
    parsers are per thread, grammars and queries shared. With a ``session``, the parse reuses the
    session's previous tree (same result, less work when the code changed little).
    """
    token = SESSION.set(session)
    try:
        return _check(code, language, max_errors)
    finally:
        SESSION.reset(token)


def _check(code: str, language: str, max_errors: int) -> SyntaxReport:
    lang = normalize_language(language)
    source = Source(code)
    deadline = deadline_for(source.data)
    try:
        if lang == "diff":
            found = check_diff(source)
        elif lang == "json":
            found = check_json(source, code, 0)
        elif lang == "python":
            found = check_python(source, code, deadline)
        elif lang == "html":
            found = check_html(source, deadline)
        else:
            found = tree_issues(PARSED_AS[lang], source.data, 0, deadline)
    except GaveUp as exc:
        message = f"gave up checking after {exc.seconds:.1f} s: the code is too long or too deeply nested"
        found = [(0, message)]
    found.sort(key=lambda issue: issue[0])
    issues = [source.issue(offset, message) for offset, message in found[: max(max_errors, 0)]]
    return SyntaxReport(ok=not found, errors=issues, language=lang, truncated=len(found) > len(issues))
