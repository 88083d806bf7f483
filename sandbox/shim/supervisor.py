"""The process that runs as PID 1 inside every sandbox container.

The host starts it with ``python3 -I -c <payload> ROLE``, the payload being this file joined with
``chart_trace.py`` and ``dom_text.py`` (``payload.py``), so the image never has to be rebuilt
when this file changes. It preloads what its role needs (matplotlib for charts, a launched chromium for
HTML), prints one ``{"ready": ...}`` line, then reads a job as a JSON line on stdin, runs it and prints
one result JSON line. Started with ``ROLE recycle``, it then resets the container (``reset``: every other
process killed, the tmpfs mounts and IPC objects wiped, each checked empty afterwards) and prints one
``{"reset": ...}`` line with what it proved, before it reads the next job; otherwise the host destroys the
container after its one job.

Code runs with the supervisor's uid, so the supervisor guards itself: it is not dumpable (no ptrace, no
``/proc/1/mem`` or ``/proc/1/fd`` for processes of the same uid without CAP_SYS_PTRACE, which nothing here
has), and as PID 1 of its PID namespace it gets no signal it has no handler for from inside.

Only the standard library (and, for the roles that need them, matplotlib or Playwright from the image)
may be used here: this file runs under Debian's python3 inside the image, not in the host's venv.
Limits that protect the host (memory, pids, network, CPU) are enforced by Docker, not here; this file
only enforces what needs to be reported precisely: the wall-clock timeout and the output caps.
"""

from __future__ import annotations

import base64
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

try:  # on the host (tests, type checks) the parts are modules; in the container they precede this file
    from .chart_trace import CHART_PATH, scaled_dpi, tight_box, trace_figure
    from .dom_text import collect_text_blocks
except ImportError:
    pass


WORK = "/work"
TRACE_PATH = "/tmp/.viscodex-trace.json"
MAX_TEXT_WORDS = 20000
PIPE_GRACE_S = 0.2


def _emit(obj: dict[str, Any]) -> None:
    """Write one JSON line on the original stdout, the host's only channel to us."""
    out = os.fdopen(os.dup(_RESULT_FD), "w", encoding="utf-8", closefd=True)
    out.write(json.dumps(obj) + "\n")
    out.flush()
    out.close()


def _oom_kills() -> int:
    """Count of OOM kills in this container's memory cgroup (v1 or v2), -1 if unknown."""
    for path, key in (
        ("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill"),
        ("/sys/fs/cgroup/memory.events", "oom_kill"),
    ):
        try:
            with open(path, encoding="ascii") as fh:
                for line in fh:
                    name, _, value = line.partition(" ")
                    if name == key:
                        return int(value)
        except OSError:
            continue
    return -1


def _write_files(files: dict[str, str]) -> None:
    for name, data in files.items():
        path = os.path.normpath(os.path.join(WORK, name))
        if not path.startswith(WORK + "/"):
            raise ValueError(f"file name escapes the work dir: {name!r}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(base64.b64decode(data))


def _reap_all() -> None:
    """As PID 1 we inherit every orphan; reap what has exited so no zombie holds a pid slot."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _supervise(
    pid: int,
    stdin_fd: int,
    out_fd: int,
    err_fd: int,
    stdin_data: bytes,
    timeout_s: float,
    cap: int,
) -> dict[str, Any]:
    """Feed stdin, drain both pipes under a byte cap, and enforce the wall-clock timeout.

    Output beyond the cap is read and thrown away (not left in the pipe) so a flooding program cannot
    block on a full pipe and look like a hang; the flag ``truncated`` tells the caller.
    """
    start = time.monotonic()
    deadline = start + timeout_s
    buffers = {out_fd: bytearray(), err_fd: bytearray()}
    open_fds = {out_fd, err_fd}
    truncated = False
    timed_out = False
    status: int | None = None
    pending = memoryview(stdin_data)
    if stdin_fd >= 0:
        os.set_blocking(stdin_fd, False)
        if not pending:
            os.close(stdin_fd)
            stdin_fd = -1
    exited_at: float | None = None
    # A pidfd turns "the child exited" into a readable fd, so select wakes at exit, not a slice later.
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = -1

    while True:
        now = time.monotonic()
        if status is None:
            got, raw = os.waitpid(pid, os.WNOHANG)
            if got == pid:
                status = raw
                exited_at = now
        if status is not None and (not open_fds or now - (exited_at or now) > PIPE_GRACE_S):
            break
        if status is None and now >= deadline:
            timed_out = True
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, status = os.waitpid(pid, 0)
            exited_at = time.monotonic()
            continue
        wait = min(0.05 if pidfd >= 0 else 0.005, max(0.0, deadline - now))
        if status is not None:
            wait = min(wait, PIPE_GRACE_S / 4)
        writers = [stdin_fd] if stdin_fd >= 0 else []
        watched = [*open_fds, pidfd] if pidfd >= 0 and status is None else list(open_fds)
        readable, writable, _ = select.select(watched, writers, [], wait)
        for fd in writable:
            try:
                sent = os.write(fd, pending[:65536])
            except BrokenPipeError:
                sent = len(pending)
            pending = pending[sent:]
            if not pending:
                os.close(stdin_fd)
                stdin_fd = -1
        for fd in readable:
            if fd == pidfd:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.discard(fd)
                continue
            room = cap - len(buffers[fd])
            if len(chunk) > room:
                truncated = True
            if room > 0:
                buffers[fd] += chunk[:room]
    duration = time.monotonic() - start
    for fd in (out_fd, err_fd, stdin_fd, pidfd):
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass
    # Anything the program left running in the background dies with the container; stop it now so it
    # cannot keep using the CPU while the host reads our result.
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    _reap_all()
    exit_code: int | None
    if timed_out or status is None:
        exit_code = None
    elif os.WIFEXITED(status):
        exit_code = os.WEXITSTATUS(status)
    else:
        exit_code = -os.WTERMSIG(status)
    return {
        "exit_code": exit_code,
        "stdout": bytes(buffers[out_fd]).decode("utf-8", "replace"),
        "stderr": bytes(buffers[err_fd]).decode("utf-8", "replace"),
        "timed_out": timed_out,
        "truncated": truncated,
        "duration_s": round(duration, 6),
    }


def _spawn_exec(argv: list[str], env: dict[str, str]) -> tuple[int, int, int, int]:
    proc = subprocess.Popen(
        argv,
        cwd=WORK,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, **env},
    )
    assert proc.stdin and proc.stdout and proc.stderr
    fds = (os.dup(proc.stdin.fileno()), os.dup(proc.stdout.fileno()), os.dup(proc.stderr.fileno()))
    proc.stdin.close()
    proc.stdout.close()
    proc.stderr.close()
    proc.returncode = 0  # we reap it ourselves with waitpid; keep Popen from trying later
    return proc.pid, fds[0], fds[1], fds[2]


def _spawn_fork(body: Callable[[], int]) -> tuple[int, int, int, int]:
    """Fork a child that runs ``body`` with its own session and stdio pipes (a warm zygote)."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            os.setsid()
            _libc().prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: the run's process is an ordinary one again
            os.dup2(in_r, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            for fd in (in_r, in_w, out_r, out_w, err_r, err_w, _RESULT_FD):
                os.close(fd)
            sys.stdin = open(0, encoding="utf-8", errors="replace", closefd=False)
            sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
            sys.stderr = open(2, "w", encoding="utf-8", closefd=False)
            os.chdir(WORK)
            code = body()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # noqa: BLE001 - report any failure of user code as a traceback
            traceback.print_exc()
            code = 1
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    os.close(in_r)
    os.close(out_w)
    os.close(err_w)
    return pid, in_w, out_r, err_r


# --- roles ---------------------------------------------------------------------------------------


def _role_exec(job: dict[str, Any]) -> dict[str, Any]:
    _write_files(job.get("files", {}))
    pid, i, o, e = _spawn_exec(job["argv"], job.get("env", {}))
    result = _supervise(
        pid,
        i,
        o,
        e,
        base64.b64decode(job.get("stdin", "")),
        float(job["timeout_s"]),
        int(job["output_bytes"]),
    )
    return result


def _preload_chart() -> Callable[[dict[str, Any]], dict[str, Any]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.figure
    import matplotlib.pyplot as plt
    import numpy  # noqa: F401 - imported ahead of time so a chart run does not pay for it

    def run(job: dict[str, Any]) -> dict[str, Any]:
        _write_files(job.get("files", {}))
        source = job["code"]

        def body() -> int:
            saved: list[Any] = []
            saved_kwargs: dict[int, dict[str, Any]] = {}
            original_savefig = matplotlib.figure.Figure.savefig

            def savefig(self: Any, *args: Any, **kwargs: Any) -> Any:
                saved.append(self)
                saved_kwargs[id(self)] = kwargs
                return original_savefig(self, *args, **kwargs)

            matplotlib.figure.Figure.savefig = savefig
            plt.show = lambda *a, **k: None
            scope = {"__name__": "__main__", "__file__": os.path.join(WORK, "chart.py")}
            exec(compile(source, "chart.py", "exec"), scope)  # noqa: S102 - inside the sandbox
            figure = plt.gcf() if plt.get_fignums() else (saved[-1] if saved else None)
            if figure is None:
                print("viscodex: the script drew no matplotlib figure", file=sys.stderr)
                return 3
            crop = None
            if job.get("width") and job.get("height"):
                dpi = figure.get_dpi()
                figure.set_size_inches(job["width"] / dpi, job["height"] / dpi)
            else:
                # The script's own crop (``bbox_inches="tight"``), so the picture is the one its file held;
                # at the figure's dpi (or ``scale_to``'s), whatever dpi the script asked for.
                try:
                    crop = tight_box(figure, saved_kwargs.get(id(figure), {}))
                except Exception as exc:  # noqa: BLE001 - fall back to the whole canvas
                    print(f"viscodex: could not compute the tight box: {exc}", file=sys.stderr)
            save: dict[str, Any] = {} if crop is None else {"bbox_inches": crop}
            if job.get("scale_to"):
                dpi = scaled_dpi(figure, crop, job["scale_to"])
                if dpi is not None:
                    save["dpi"] = dpi
            drawn: list[dict[str, Any]] = []
            if job.get("trace"):
                # Traced inside the draw that makes the PNG (its dpi, its crop, its layout), not in a draw
                # of the figure's own: axis labels are placed from the tick labels' extents at draw
                # time, which do not scale exactly with dpi, so another draw put an x-axis label a few
                # pixels off the one in the picture. The last draw is the PNG's.
                def on_draw(event: Any) -> None:
                    try:
                        drawn.append(trace_figure(figure, event.renderer))
                    except Exception as exc:  # noqa: BLE001 - a trace failure must not fail the chart
                        drawn.append({"error": f"{type(exc).__name__}: {exc}"})

                listener = figure.canvas.mpl_connect("draw_event", on_draw)
            original_savefig(figure, CHART_PATH, format="png", **save)
            if job.get("trace"):
                figure.canvas.mpl_disconnect(listener)
                trace = drawn[-1] if drawn else {"error": "the figure was not drawn"}
                with open(TRACE_PATH, "w", encoding="utf-8") as fh:
                    json.dump(trace, fh)
            return 0

        pid, i, o, e = _spawn_fork(body)
        result = _supervise(pid, i, o, e, b"", float(job["timeout_s"]), int(job["output_bytes"]))
        if result["exit_code"] == 0 and os.path.exists(CHART_PATH):
            with open(CHART_PATH, "rb") as fh:
                result["png"] = base64.b64encode(fh.read()).decode("ascii")
            if job.get("trace"):
                try:
                    with open(TRACE_PATH, encoding="utf-8") as tf:
                        traced = json.load(tf)
                except (OSError, ValueError) as exc:
                    traced = {"error": f"no trace: {type(exc).__name__}: {exc}"}
                result["chart_trace"] = traced if isinstance(traced, dict) else {"error": "bad trace"}
        return result

    return run


RUNTIMES = "/opt/viscodex/runtimes"
STACK_RUNTIMES = {"tailwind": ["tailwind.js"], "react": ["react.js", "react-dom.js", "babel.js"]}


def _with_runtimes(html: str, stack: str) -> str:
    """The page with its stack's runtimes inlined first in <head> (the network is off, and
    ``set_content`` writes the document, so init scripts would not run)."""
    if stack == "html":
        return html
    if stack not in STACK_RUNTIMES:
        raise ValueError(f"unknown UI stack {stack!r}")
    tags = []
    for name in STACK_RUNTIMES[stack]:
        with open(os.path.join(RUNTIMES, name), encoding="utf-8") as fh:
            tags.append("<script>" + fh.read().replace("</script", "<\\/script") + "</script>")
    lower = html.lower()
    at = lower.find("<head>")
    if at >= 0:
        at += len("<head>")
        return html[:at] + "".join(tags) + html[at:]
    return "".join(tags) + html


DEJAVU_DIR = "/usr/share/fonts/truetype/dejavu"
CJK_DIR = "/usr/share/fonts/truetype/droid"
FONTS_DEJAVU = f"""<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>
  <dir>{DEJAVU_DIR}</dir>
  <dir>{CJK_DIR}</dir>
  <include ignore_missing="yes">/etc/fonts/conf.d</include>
  <cachedir>/var/cache/fontconfig</cachedir>
  <cachedir>/tmp/.cache/fontconfig</cachedir>
</fontconfig>
"""
"""The system's font configuration (its rules, hinting, aliases) with two font directories: DejaVu's, and
Droid Sans Fallback's (``fonts-droid-fallback``): Chinese, Japanese and Korean characters, which DejaVu
lacks, and no Latin. A family the page names that is not there, and the browser's defaults, fall back to
DejaVu Sans (a ``lang="ja"`` page's Latin text too: the CJK font has none), and CJK characters to Droid
Sans Fallback: Design2Code's pictures of Japanese pages are laid out exactly so (a web font the page
loads itself is served by ``_serve_web_fonts``, in this mode too)."""

FONT_FACE = re.compile(r"@font-face\s*\{([^}]*)\}", re.I)
FACE_URL = re.compile(r"url\(\s*['\"]?(https?://[^'\")\s]+)", re.I)
FC_WEIGHTS = ((100, 0), (200, 40), (300, 50), (400, 80), (500, 100), (600, 180), (700, 200), (800, 205), (900, 210))
"""CSS font weights and fontconfig's numbers for them."""


def _face_property(body: str, name: str) -> str:
    m = re.search(rf"(?<![-\w]){name}\s*:\s*([^;]+)", body, re.I)
    return m.group(1).strip() if m else ""


def web_font_faces(html: str) -> dict[str, tuple[str, int, bool]]:
    """The page's ``@font-face`` rules that load a font from an absolute http(s) address (Google Fonts'
    ``https://fonts.gstatic.com/...``): address -> (family, CSS weight, italic). A protocol-relative or
    relative address does not load from a page opened from a file, and is left out."""
    faces: dict[str, tuple[str, int, bool]] = {}
    for m in FONT_FACE.finditer(html):
        body = m.group(1)
        family = _face_property(body, "font-family").strip("'\" ")
        words = _face_property(body, "font-weight").lower().split()
        first = words[0] if words else "normal"
        weight = {"normal": 400, "bold": 700}.get(first) or (int(first) if first.isdigit() else 400)
        italic = _face_property(body, "font-style").lower().startswith(("italic", "oblique"))
        for url in FACE_URL.findall(body):
            if family:
                faces[url] = (family, weight, italic)
    return faces


_LOCAL_FONTS: dict[tuple[str, int, bool], str | None] = {}


WEB_FONT_DIR = "/opt/viscodex/webfonts"
"""The image's web fonts (``sandbox.image.WEB_FONT_NPM``): ``<slug>-latin-<weight>-<style>.woff2``."""


def font_slug(family: str) -> str:
    """``sandbox.image.font_slug`` (Fontsource's name for a family), which this file cannot import."""
    return "-".join("".join(c if c.isalnum() else " " for c in family.lower()).split())


def web_font_file(family: str, weight: int, italic: bool, folder: str = WEB_FONT_DIR) -> str | None:
    """The image's web-font file of ``family``: the face of that style if there is one, of the nearest
    weight (the lighter of two as near); None when the image has no web font of that family."""
    slug = font_slug(family)
    prefix = f"{slug}-latin-"
    faces: list[tuple[int, str, str]] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    for name in names:
        rest = name[len(prefix) :] if name.startswith(prefix) and name.endswith(".woff2") else ""
        weight_text, _, style = rest[: -len(".woff2")].partition("-")
        if weight_text.isdigit() and style in ("normal", "italic"):
            faces.append((int(weight_text), style, name))
    if not faces:
        return None
    wanted = "italic" if italic else "normal"
    styled = [f for f in faces if f[1] == wanted] or faces
    best = min(styled, key=lambda f: (abs(f[0] - weight), f[0]))
    return os.path.join(folder, best[2])


def local_font(family: str, weight: int, italic: bool) -> str | None:
    """The image's file of ``family`` nearest that weight and style: its web fonts first
    (``web_font_file``), then all of its installed fonts whatever the page's ``PageFonts``; None when
    the image does not have the family."""
    key = (family, weight, italic)
    if key not in _LOCAL_FONTS:
        web = web_font_file(family, weight, italic)
        if web is not None:
            _LOCAL_FONTS[key] = web
            return web
        fc_weight = min(FC_WEIGHTS, key=lambda w: abs(w[0] - weight))[1]
        pattern = f"{family.replace('-', chr(92) + '-')}:weight={fc_weight}:slant={100 if italic else 0}"
        env = {k: v for k, v in os.environ.items() if k != "FONTCONFIG_FILE"}
        try:
            out = subprocess.run(
                ["fc-match", "-f", "%{family}\n%{file}", pattern],
                capture_output=True,
                text=True,
                timeout=10,
                env=env,
                check=False,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        families, _, path = out.partition("\n")
        found = {f.strip().lower() for f in families.split(",")}
        _LOCAL_FONTS[key] = path if family.lower() in found and os.path.isfile(path) else None
    return _LOCAL_FONTS[key]


def _serve_web_fonts(page: Any, html: str, unavailable: set[str]) -> Callable[[str], bool] | None:
    """Answer the page's web-font requests (``web_font_faces``) with the image's own file of each face,
    so that a page drawn with Open Sans from Google Fonts is drawn with it here, network off, in each
    ``PageFonts`` mode; a face whose family the image lacks fails as it would offline, and its family is
    added to ``unavailable`` (the page's text in it is drawn in a fallback). Returns the route's matcher
    (for ``unroute``), or None when the page loads no web font."""
    faces = web_font_faces(html)
    if not faces:
        return None

    def serve(route: Any) -> None:
        face = faces.get(route.request.url)
        path = local_font(*face) if face else None
        if path is None:
            if face:
                unavailable.add(face[0])
            route.abort()
            return
        with open(path, "rb") as fh:
            body = fh.read()
        kind = "font/woff2" if path.endswith(".woff2") else "font/ttf"
        route.fulfill(status=200, body=body, headers={"Content-Type": kind, "Access-Control-Allow-Origin": "*"})

    def matches(url: str) -> bool:
        return url in faces

    page.route(matches, serve)
    return matches


def _font_env(fonts: str) -> dict[str, str | float | bool] | None:
    """The browser's environment for a ``PageFonts`` choice (None: the process's own, all fonts).

    The html container serves one job and is never recycled, so the file written here (on the /tmp
    tmpfs) lives as long as the browser that read it."""
    if fonts == "system":
        return None
    if fonts != "dejavu":
        raise ValueError(f"unknown fonts {fonts!r}")
    if not os.path.isdir(DEJAVU_DIR):
        raise RuntimeError(f"fonts=dejavu needs {DEJAVU_DIR} in the image")
    path = "/tmp/.fonts-dejavu.conf"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(FONTS_DEJAVU)
    return {**os.environ, "FONTCONFIG_FILE": path}


def _preload_html(fonts: str = "system") -> Callable[[dict[str, Any]], dict[str, Any]]:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    chromium_args = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--font-render-hinting=none",
        "--force-color-profile=srgb",
    ]
    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=chromium_args, env=_font_env(fonts))
    page = browser.new_page(viewport={"width": 1280, "height": 800}, device_scale_factor=1)
    page.set_content("<html><body></body></html>")  # first paint pays the renderer start-up now

    def run(job: dict[str, Any]) -> dict[str, Any]:
        start = time.monotonic()
        timeout_ms = float(job["timeout_s"]) * 1000
        console: list[str] = []
        page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
        page.on("pageerror", lambda err: console.append(f"pageerror: {err}"))
        try:
            page.set_viewport_size({"width": int(job["width"]), "height": int(job["height"])})
            stack = str(job.get("stack", "html"))
            unavailable: set[str] = set()
            fonts_route = _serve_web_fonts(page, job["html"], unavailable)
            page.set_content(_with_runtimes(job["html"], stack), wait_until="load", timeout=timeout_ms)
            if fonts_route is not None:  # the faces a page's text needs load after its layout: wait for them
                page.evaluate("() => document.fonts.ready.then(() => true)")
                page.unroute(fonts_route)
            if stack != "html":  # React renders, Tailwind generates its CSS, after load: let a frame pass
                page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            full_page = bool(job.get("full_page", True))
            # As Design2Code's pictures were taken (``data_utils/screenshot.py``) and as a person sees a page
            # once it settles: finite CSS animations and transitions (fade-ins) at their end, infinite ones at
            # their start, instead of whatever frame the load happened to end on.
            png = page.screenshot(full_page=full_page, type="png", timeout=timeout_ms, animations="disabled")
            blocks = None
            if job.get("blocks"):
                clip = None if full_page else [int(job["width"]), int(job["height"])]
                blocks = collect_text_blocks(page, {"maxWords": MAX_TEXT_WORDS, "clip": clip}, timeout_ms)
        except PlaywrightError as exc:
            timed_out = "Timeout" in type(exc).__name__ or "Timeout" in str(exc)
            return {
                "exit_code": None if timed_out else 1,
                "stdout": "",
                "stderr": "\n".join([*console, str(exc)])[: int(job["output_bytes"])],
                "timed_out": timed_out,
                "truncated": False,
                "duration_s": round(time.monotonic() - start, 6),
            }
        text = "\n".join(console)
        cap = int(job["output_bytes"])
        result = {
            "exit_code": 0,
            "stdout": "",
            "stderr": text[:cap],
            "timed_out": False,
            "truncated": len(text) > cap,
            "duration_s": round(time.monotonic() - start, 6),
            "png": base64.b64encode(png).decode("ascii"),
        }
        if blocks is not None:
            result["text_blocks"] = blocks
        if unavailable:
            result["missing_fonts"] = sorted(unavailable)
        return result

    return run


def _seed_matplotlib_cache() -> None:
    """Copy the font cache the image built into the writable MPLCONFIGDIR (a fresh tmpfs)."""
    src, dst = "/opt/viscodex/mpl", os.environ.get("MPLCONFIGDIR", "/tmp/.mpl")
    if not os.path.isdir(src):
        return
    os.makedirs(dst, exist_ok=True)
    for name in os.listdir(src):
        if name.endswith(".json"):
            with (
                open(os.path.join(src, name), "rb") as fin,
                open(os.path.join(dst, name), "wb") as fout,
            ):
                fout.write(fin.read())


# --- the reset between two runs of a recycled container ---------------------------------------------

WIPED = ("/work", "/tmp", "/dev/shm", "/dev/mqueue")
"""Every place code of a run can write: the tmpfs mounts, POSIX shared memory and message queues (the
root filesystem is read-only, /dev and /proc are not writable for the run's uid)."""
SYSV_IPC = (("shm", "shmctl"), ("sem", "semctl"), ("msg", "msgctl"))
IPC_RMID = 0
KEY_SPEC_USER_KEYRING = -4
KEYCTL_GET_KEYRING_ID = 0
RESET_DEADLINE_S = 3.0


def _libc() -> Any:
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _guard_self() -> None:
    """Make this process unreachable for the code it runs (same uid): not dumpable, and no SIGINT
    handler (Python's default one would let any process of the container interrupt PID 1)."""
    PR_SET_DUMPABLE = 4
    if _libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError("prctl(PR_SET_DUMPABLE, 0) failed")
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _limit_events() -> tuple[int, ...] | None:
    """Counters that grow when the container hits its pids or memory limit (cgroup v1 or v2)."""
    counts = []
    for path, key in (
        ("/sys/fs/cgroup/pids/pids.events", "max"),
        ("/sys/fs/cgroup/pids.events", "max"),
        ("/sys/fs/cgroup/memory/memory.failcnt", ""),
        ("/sys/fs/cgroup/memory.events", "max"),
    ):
        try:
            with open(path, encoding="ascii") as fh:
                for line in fh:
                    name, _, value = line.strip().rpartition(" ")
                    if name == key:
                        counts.append(int(value))
        except (OSError, ValueError):
            continue
    return tuple(counts) if len(counts) >= 2 else None


def _other_pids() -> list[int]:
    me = os.getpid()
    return [int(name) for name in os.listdir("/proc") if name.isdigit() and int(name) != me]


def _kill_everything_else(deadline: float) -> bool:
    """SIGKILL every other process of the container and reap them, until none is left.

    ``kill(-1)`` from PID 1 signals every process it may signal except itself; every process here runs
    with this process's uid (no capability, no setuid), so that is all of them, detached or stopped.
    """
    while True:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _reap_all()
        if not _other_pids():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)


def _wipe(root: str) -> None:
    for entry in os.scandir(root):
        path = entry.path
        if entry.is_dir(follow_symlinks=False):
            os.chmod(path, 0o700)  # a run may have made a directory unreadable; it owns it
            _wipe(path)
            os.rmdir(path)
        else:
            os.unlink(path)


def _remove_sysv_ipc() -> list[str]:
    """Remove every System V shared memory segment, semaphore set and message queue; name what stays."""
    libc = _libc()
    left = []
    for kind, call in SYSV_IPC:
        path = f"/proc/sysvipc/{kind}"
        try:
            with open(path, encoding="ascii") as fh:
                rows = fh.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            ident = int(row.split()[1])
            if call == "semctl":
                libc.semctl(ident, 0, IPC_RMID)
            else:
                getattr(libc, call)(ident, IPC_RMID, None)
        with open(path, encoding="ascii") as fh:
            left += [f"{kind} {row.split()[1]}" for row in fh.read().splitlines()[1:]]
    return left


def _keyring_denied() -> bool:
    """True when the kernel keyring (not namespaced: shared by every process of this uid on the host)
    cannot be reached at all, as under Docker's default seccomp profile; else a run could leave a key."""
    import ctypes

    SYS_KEYCTL = 250  # x86_64
    libc = _libc()
    if os.uname().machine != "x86_64":
        return False
    got = libc.syscall(SYS_KEYCTL, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0)
    return got == -1 and ctypes.get_errno() in (1, 38)  # EPERM (seccomp) or ENOSYS


def reset() -> dict[str, Any]:
    """Bring the container back to the state of a fresh one and say what was checked.

    ``ok`` only when every check passed: no other process, the writable mounts empty (then re-seeded as
    at start), no System V IPC object, the keyring out of reach. The host recycles the container only
    then, and only if no limit was hit.
    """
    started = time.monotonic()
    failures: list[str] = []
    if not _kill_everything_else(started + RESET_DEADLINE_S):
        failures.append(f"processes survive: {_other_pids()[:10]}")
    for root in WIPED:
        if not os.path.isdir(root):
            continue
        try:
            _wipe(root)
        except OSError as exc:
            failures.append(f"cannot wipe {root}: {exc}")
        try:
            left = os.listdir(root)
        except OSError as exc:
            failures.append(f"cannot list {root}: {exc}")
            continue
        if left:
            failures.append(f"{root} not empty: {left[:5]}")
    try:
        ipc_left = _remove_sysv_ipc()
    except (OSError, ValueError) as exc:
        ipc_left = [f"{type(exc).__name__}: {exc}"]
    if ipc_left:
        failures.append(f"System V IPC objects remain: {ipc_left[:5]}")
    if not _keyring_denied():
        failures.append("the kernel keyring is reachable")
    if _other_pids():  # nothing may have started while the mounts were wiped
        failures.append("a process appeared during the reset")
    try:
        _seed_matplotlib_cache()
    except OSError as exc:
        failures.append(f"cannot re-seed the matplotlib cache: {exc}")
    return {"ok": not failures, "failures": failures, "reset_s": round(time.monotonic() - started, 6)}


def main(role: str, recycle: bool = False, fonts: str = "system") -> int:
    start = time.monotonic()
    try:
        _guard_self()
        _seed_matplotlib_cache()
        if role == "exec":
            handler: Callable[[dict[str, Any]], dict[str, Any]] = _role_exec
        elif role == "chart":
            handler = _preload_chart()
        elif role == "html":
            handler = _preload_html(fonts)
        else:
            raise ValueError(f"unknown role {role!r}")
    except BaseException as exc:  # noqa: BLE001 - the host needs the reason, not a dead container
        _emit({"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return 1
    _emit({"ready": True, "preload_s": round(time.monotonic() - start, 3)})
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            return 0
        oom_before = _oom_kills()
        limits_before = _limit_events()
        try:
            result = handler(json.loads(line))
        except Exception as exc:  # noqa: BLE001 - a malformed job is the host's bug; say so
            _emit({"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()})
            return 1
        oom_after = _oom_kills()
        result["oom_killed"] = oom_after > oom_before >= 0
        if not recycle:
            _emit(result)
            return 0
        _emit(result)
        proof = reset()
        after = _limit_events()
        proof["limit_hit"] = limits_before is None or after is None or after != limits_before
        _emit({"reset": proof})
        if not proof["ok"]:
            return 0


if __name__ == "__main__":
    # Keep the original stdout for results only; user code (forked children) never inherits it.
    _RESULT_FD = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.set_inheritable(_RESULT_FD, False)
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
    _OPTIONS = dict(arg.split("=", 1) for arg in sys.argv[2:] if "=" in arg)
    sys.exit(
        main(sys.argv[1] if len(sys.argv) > 1 else "exec", "recycle" in sys.argv[2:], _OPTIONS.get("fonts", "system"))
    )
