"""The process that runs as PID 1 inside every sandbox container.

The host starts it with ``python3 -I -c <this file's text> ROLE`` so the image never has to be rebuilt
when this file changes. It preloads what its role needs (matplotlib for charts, a launched chromium for
HTML), prints one ``{"ready": ...}`` line, then reads exactly one job as a JSON line on stdin, runs it
and prints one result JSON line. The host destroys the container afterwards: one container, one run.

Only the standard library (and, for the roles that need them, matplotlib or Playwright from the image)
may be used here: this file runs under Debian's python3 inside the image, not in the host's venv.
Limits that protect the host (memory, pids, network, CPU) are enforced by Docker, not here; this file
only enforces what needs to be reported precisely: the wall-clock timeout and the output caps.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import select
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

WORK = "/work"
CHART_PATH = "/tmp/.viscodex-chart.png"
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


# --- what a render can say about itself ----------------------------------------------------------

# Collects the page's visible text as words (each with its box in CSS pixels of the full page, which are
# device pixels at scale 1, its computed colour and font size) and groups them into blocks: one per line
# of each block-level container. Words rather than whole text nodes, so that a caller can regroup them
# exactly as it groups OCR words of a picture; ranges per word, so that wrapped lines split correctly.
TEXT_BLOCKS_JS = r"""
({maxWords, clip}) => {
  const SKIP = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "TITLE", "HEAD"]);
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 1;
  const ctx = canvas.getContext("2d", {willReadFrequently: true});
  const colours = new Map();
  const toRgb = (css) => {
    if (colours.has(css)) return colours.get(css);
    let rgb = null;
    const m = /^rgba?\(([^)]*)\)$/.exec(css);
    if (m) {
      const p = m[1].split(/[\s,/]+/).filter(Boolean).map(parseFloat);
      if (p.length >= 3 && !(p.length >= 4 && p[3] === 0)) rgb = p.slice(0, 3).map(Math.round);
    } else if (ctx) {
      ctx.clearRect(0, 0, 1, 1);
      ctx.fillStyle = "#000";
      ctx.fillStyle = css;
      ctx.fillRect(0, 0, 1, 1);
      const d = ctx.getImageData(0, 0, 1, 1).data;
      if (d[3] > 0) rgb = [d[0], d[1], d[2]];
    }
    colours.set(css, rgb);
    return rgb;
  };
  const styles = new Map();
  const styleOf = (el) => {
    let s = styles.get(el);
    if (!s) { s = getComputedStyle(el); styles.set(el, s); }
    return s;
  };
  const containerOf = (el) => {
    let e = el;
    while (e && e !== document.body) {
      const d = styleOf(e).display;
      if (!d.startsWith("inline") && d !== "contents") return e;
      e = e.parentElement;
    }
    return document.body;
  };
  const visible = (el) => {
    if (el.checkVisibility && !el.checkVisibility({opacityProperty: true, visibilityProperty: true})) {
      return false;
    }
    const s = styleOf(el);
    return s.visibility === "visible" && parseFloat(s.opacity) > 0;
  };
  const transform = (word, how) => {
    if (how === "uppercase") return word.toUpperCase();
    if (how === "lowercase") return word.toLowerCase();
    if (how === "capitalize") return word.charAt(0).toUpperCase() + word.slice(1);
    return word;
  };
  const sx = window.scrollX, sy = window.scrollY;
  const range = document.createRange();
  const groups = new Map();
  let count = 0, truncated = false;
  const walker = document.createTreeWalker(document.body || document.documentElement, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || SKIP.has(el.tagName) || !/\S/.test(node.data) || !visible(el)) continue;
    const style = styleOf(el);
    const colour = toRgb(style.color);
    const fontSize = parseFloat(style.fontSize) || 0;
    const re = /\S+/g;
    let m;
    while ((m = re.exec(node.data)) !== null) {
      if (count >= maxWords) { truncated = true; break; }
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const rects = range.getClientRects();
      const r = rects.length > 1 ? rects[0] : range.getBoundingClientRect();
      if (!r || r.width < 1 || r.height < 1) continue;
      const box = [r.left + sx, r.top + sy, r.right + sx, r.bottom + sy];
      if (box[2] <= 0 || box[3] <= 0) continue;
      if (clip && (box[0] >= clip[0] || box[1] >= clip[1])) continue;
      const container = containerOf(el);
      if (!groups.has(container)) groups.set(container, []);
      groups.get(container).push({
        text: transform(m[0], style.textTransform), box, color: colour, font_size: fontSize,
      });
      count += 1;
    }
    if (truncated) break;
  }
  const blocks = [];
  const finish = (container, words) => {
    const box = [
      Math.min(...words.map((w) => w.box[0])), Math.min(...words.map((w) => w.box[1])),
      Math.max(...words.map((w) => w.box[2])), Math.max(...words.map((w) => w.box[3])),
    ];
    const area = (w) => (w.box[2] - w.box[0]) * (w.box[3] - w.box[1]);
    const main = words.reduce((a, b) => (area(b) > area(a) ? b : a));
    blocks.push({
      text: words.map((w) => w.text).join(" "),
      box, color: main.color, font_size: Math.max(...words.map((w) => w.font_size)),
      tag: container.tagName.toLowerCase(), words,
    });
  };
  for (const [container, words] of groups) {
    let line = [];
    for (const w of words) {
      const last = line[line.length - 1];
      if (last) {
        const top = Math.min(...line.map((x) => x.box[1])), bottom = Math.max(...line.map((x) => x.box[3]));
        const mid = (w.box[1] + w.box[3]) / 2;
        if (mid < top || mid > bottom || w.box[0] < last.box[0] - 1) { finish(container, line); line = []; }
      }
      line.push(w);
    }
    if (line.length) finish(container, line);
  }
  blocks.sort((a, b) => a.box[1] - b.box[1] || a.box[0] - b.box[0]);
  return {blocks, truncated};
}
"""


def _collect_text_blocks(page: Any, arg: dict[str, Any], timeout_ms: float) -> dict[str, Any]:
    """Run ``TEXT_BLOCKS_JS`` in an isolated world of the page: it shares the DOM but not the page's
    JavaScript globals, so a page that patches ``Range``, ``getComputedStyle`` or ``Array`` (a polyfill,
    or a page gaming its score) cannot change what is collected. A failure yields no blocks and an
    ``error``, never a failed render."""
    try:
        cdp = page.context.new_cdp_session(page)
        try:
            frame = cdp.send("Page.getFrameTree")["frameTree"]["frame"]["id"]
            world = cdp.send("Page.createIsolatedWorld", {"frameId": frame, "worldName": "viscodex-blocks"})
            reply = cdp.send(
                "Runtime.evaluate",
                {
                    "expression": f"({TEXT_BLOCKS_JS})({json.dumps(arg)})",
                    "contextId": world["executionContextId"],
                    "returnByValue": True,
                    "timeout": timeout_ms,
                },
            )
        finally:
            cdp.detach()
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text", "exception")
            raise RuntimeError(str(text)[:500])
        value = reply["result"]["value"]
        if not isinstance(value, dict):
            raise RuntimeError("text blocks: unexpected result")
        return value
    except Exception as exc:  # noqa: BLE001 - the screenshot is still good; say why blocks are missing
        return {"blocks": [], "truncated": False, "error": f"{type(exc).__name__}: {exc}"}


def _png_size(path: str) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk: the standard library has no image reader."""
    with open(path, "rb") as fh:
        head = fh.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def _trace_figure(figure: Any, png_size: tuple[int, int]) -> dict[str, Any]:
    """What a drawn matplotlib figure is made of, as plain JSON: per axes its chart types and series,
    and every visible text with its role, box in pixels of the saved PNG (y down) and colour.

    Read from the artists (containers, lines, collections, patches) rather than from the calls, so it
    describes what was drawn whichever API drew it (pyplot, object-oriented, pandas, seaborn).
    """
    from matplotlib.collections import PathCollection, PolyCollection, QuadMesh
    from matplotlib.colors import to_hex, to_rgba
    from matplotlib.container import BarContainer
    from matplotlib.patches import Wedge

    renderer = figure.canvas.get_renderer()
    fig_w, fig_h = figure.canvas.get_width_height()
    png_w, png_h = png_size
    kx, ky = png_w / max(fig_w, 1), png_h / max(fig_h, 1)

    def box(artist: Any) -> list[float]:
        bb = artist.get_window_extent(renderer)
        return [
            round(bb.x0 * kx, 1),
            round((fig_h - bb.y1) * ky, 1),
            round(bb.x1 * kx, 1),
            round((fig_h - bb.y0) * ky, 1),
        ]

    def hexes(colors: Any, limit: int = 12) -> list[str]:
        out: list[str] = []
        for c in colors:
            rgba = to_rgba(c)
            if rgba[3] == 0:
                continue
            h = to_hex(rgba)
            if h not in out:
                out.append(h)
            if len(out) >= limit:
                break
        return out

    texts: list[dict[str, Any]] = []

    def add_text(t: Any, role: str, axes: int | None) -> None:
        if t is None or not t.get_visible() or not t.get_text().strip():
            return
        texts.append(
            {
                "text": t.get_text(),
                "role": role,
                "axes": axes,
                "box": box(t),
                "color": to_hex(t.get_color()),
                "rotation": round(float(t.get_rotation()), 1),
                "font_size": round(float(t.get_fontsize()) * figure.dpi / 72 * ky, 1),
            }
        )

    axes_out: list[dict[str, Any]] = []
    for index, ax in enumerate(figure.axes):
        if not ax.get_visible():
            continue
        series: list[dict[str, Any]] = []
        for container in ax.containers:
            if not isinstance(container, BarContainer):
                continue
            patches = [p for p in container.patches if p.get_visible()]
            if not patches:
                continue
            horizontal = getattr(container, "orientation", None) == "horizontal"
            kind = "barh" if horizontal else "bar"
            if not horizontal and len(patches) >= 3:
                edges = [(p.get_x(), p.get_x() + p.get_width()) for p in patches]
                gaps = [abs(b[0] - a[1]) for a, b in itertools.pairwise(edges)]
                width = max(abs(e[1] - e[0]) for e in edges) or 1.0
                if all(g <= 1e-6 * width for g in gaps):
                    kind = "hist"
            series.append(
                {
                    "type": kind,
                    "label": str(container.get_label() or ""),
                    "colors": hexes(p.get_facecolor() for p in patches),
                    "n": len(patches),
                }
            )
        for line in ax.lines:
            if not line.get_visible() or not line.get_transform().contains_branch(ax.transData):
                continue  # axhline/axvline and friends are decoration, not data
            style = str(line.get_linestyle())
            marker = str(line.get_marker())
            stroked = style not in ("None", "none", "", " ")
            kind = "line" if stroked or marker in ("None", "none", "", " ") else "scatter"
            series.append(
                {
                    "type": kind,
                    "label": str(line.get_label() or ""),
                    "colors": hexes([line.get_color()]),
                    "n": len(line.get_xydata()),
                }
            )
        for coll in ax.collections:
            if not coll.get_visible():
                continue
            if isinstance(coll, PathCollection):
                kind, n = "scatter", len(coll.get_offsets())
            elif isinstance(coll, QuadMesh):
                kind, n = "heatmap", 0
            elif isinstance(coll, PolyCollection):
                kind, n = "area", len(coll.get_paths())
            else:
                continue  # LineCollections: error bars, vlines, stems
            series.append(
                {
                    "type": kind,
                    "label": str(coll.get_label() or ""),
                    "colors": hexes(coll.get_facecolor()),
                    "n": n,
                }
            )
        wedges = [p for p in ax.patches if isinstance(p, Wedge) and p.get_visible()]
        if wedges:
            series.append(
                {
                    "type": "pie",
                    "label": "",
                    "colors": hexes(w.get_facecolor() for w in wedges),
                    "n": len(wedges),
                }
            )
        if ax.images:
            series.append({"type": "heatmap", "label": "", "colors": [], "n": len(ax.images)})
        types: list[str] = []
        for s in series:
            if s["type"] not in types:
                types.append(s["type"])
        add_text(ax.title, "title", index)
        add_text(getattr(ax, "_left_title", None), "title", index)
        add_text(getattr(ax, "_right_title", None), "title", index)
        add_text(ax.xaxis.label, "xlabel", index)
        add_text(ax.yaxis.label, "ylabel", index)
        xticks: list[str] = []
        yticks: list[str] = []
        for role, axis, out in (("xtick", ax.xaxis, xticks), ("ytick", ax.yaxis, yticks)):
            lo, hi = sorted(axis.get_view_interval())
            eps = (hi - lo) * 1e-6
            for tick in axis.get_major_ticks():
                if not lo - eps <= tick.get_loc() <= hi + eps:
                    continue  # a tick outside the view limits is not drawn
                for t in (tick.label1, tick.label2):
                    if t.get_visible() and t.get_text().strip():
                        out.append(t.get_text())
                        add_text(t, role, index)
        legend = ax.get_legend()
        legend_labels: list[str] = []
        if legend is not None and legend.get_visible():
            add_text(legend.get_title(), "legend_title", index)
            for t in legend.get_texts():
                legend_labels.append(t.get_text())
                add_text(t, "legend", index)
        for t in ax.texts:
            add_text(t, "text", index)
        axes_out.append(
            {
                "index": index,
                "box": box(ax),
                "types": types,
                "series": series,
                "title": ax.get_title(),
                "xlabel": ax.get_xlabel(),
                "ylabel": ax.get_ylabel(),
                "xticklabels": xticks,
                "yticklabels": yticks,
                "legend": legend_labels,
            }
        )
    sup = {id(getattr(figure, f"_sup{k}", None)): f"sup{k}" for k in ("title", "xlabel", "ylabel")}
    for t in figure.texts:  # suptitle() and friends add their Text here too
        add_text(t, sup.get(id(t), "text"), None)
    for legend in figure.legends:
        for t in legend.get_texts():
            add_text(t, "legend", None)
    return {"width": png_w, "height": png_h, "axes": axes_out, "texts": texts}


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
            original_savefig = matplotlib.figure.Figure.savefig

            def savefig(self: Any, *args: Any, **kwargs: Any) -> Any:
                saved.append(self)
                return original_savefig(self, *args, **kwargs)

            matplotlib.figure.Figure.savefig = savefig
            plt.show = lambda *a, **k: None
            scope = {"__name__": "__main__", "__file__": os.path.join(WORK, "chart.py")}
            exec(compile(source, "chart.py", "exec"), scope)  # noqa: S102 - inside the sandbox
            figure = plt.gcf() if plt.get_fignums() else (saved[-1] if saved else None)
            if figure is None:
                print("viscodex: the script drew no matplotlib figure", file=sys.stderr)
                return 3
            if job.get("width") and job.get("height"):
                dpi = figure.get_dpi()
                figure.set_size_inches(job["width"] / dpi, job["height"] / dpi)
            original_savefig(figure, CHART_PATH, format="png")
            if job.get("trace"):
                # After saving: layout engines (tight/constrained) only run at draw time, so the
                # positions are final only now, and they are those of the PNG we return.
                try:
                    trace = _trace_figure(figure, _png_size(CHART_PATH))
                except Exception as exc:  # noqa: BLE001 - a trace failure must not fail the chart
                    trace = {"error": f"{type(exc).__name__}: {exc}"}
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


def _preload_html() -> Callable[[dict[str, Any]], dict[str, Any]]:
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
    browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=chromium_args)
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
            page.set_content(_with_runtimes(job["html"], stack), wait_until="load", timeout=timeout_ms)
            if stack != "html":  # React renders, Tailwind generates its CSS, after load: let a frame pass
                page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            full_page = bool(job.get("full_page", True))
            png = page.screenshot(full_page=full_page, type="png", timeout=timeout_ms)
            blocks = None
            if job.get("blocks"):
                clip = None if full_page else [int(job["width"]), int(job["height"])]
                blocks = _collect_text_blocks(page, {"maxWords": MAX_TEXT_WORDS, "clip": clip}, timeout_ms)
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


def main(role: str) -> int:
    start = time.monotonic()
    try:
        _seed_matplotlib_cache()
        if role == "exec":
            handler: Callable[[dict[str, Any]], dict[str, Any]] = _role_exec
        elif role == "chart":
            handler = _preload_chart()
        elif role == "html":
            handler = _preload_html()
        else:
            raise ValueError(f"unknown role {role!r}")
    except BaseException as exc:  # noqa: BLE001 - the host needs the reason, not a dead container
        _emit({"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return 1
    _emit({"ready": True, "preload_s": round(time.monotonic() - start, 3)})
    line = sys.stdin.buffer.readline()
    if not line:
        return 0
    oom_before = _oom_kills()
    try:
        result = handler(json.loads(line))
    except Exception as exc:  # noqa: BLE001 - a malformed job is the host's bug; say so
        _emit({"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()})
        return 1
    oom_after = _oom_kills()
    result["oom_killed"] = oom_after > oom_before >= 0
    _emit(result)
    return 0


if __name__ == "__main__":
    # Keep the original stdout for results only; user code (forked children) never inherits it.
    _RESULT_FD = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.set_inheritable(_RESULT_FD, False)
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "exec"))
