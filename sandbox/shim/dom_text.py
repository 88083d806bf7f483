"""The page's visible text as laid out, collected inside the sandbox's browser (part of the shim payload).

Standard library and Playwright only: this runs under the image's python3, joined with the other parts
of the shim into one source (see ``payload.py``).
"""

from __future__ import annotations

import json
from typing import Any

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
  // Form controls show text that is no text node: a placeholder, a button's value, a field's value, the
  // chosen option. It is on the screen (and OCR reads it on a target picture), so it is collected too:
  // words placed as the browser lays them out (left-aligned in a field after its padding, centred in a
  // button, centred vertically), measured with the control's font on a canvas.
  const FIELD = new Set(["", "text", "search", "email", "url", "tel", "number", "password"]);
  const BUTTON = new Set(["submit", "button", "reset"]);
  const controls = truncated ? [] : document.querySelectorAll("input, textarea, select");
  for (const el of controls) {
    if (count >= maxWords) { truncated = true; break; }
    if (!visible(el)) continue;
    const type = el.tagName === "INPUT" ? (el.getAttribute("type") || "").toLowerCase() : el.tagName.toLowerCase();
    let shown = "", pseudo = null, centred = false;
    if (el.tagName === "SELECT") {
      shown = el.selectedOptions && el.selectedOptions.length ? el.selectedOptions[0].text : "";
    } else if (el.tagName === "TEXTAREA" || FIELD.has(type)) {
      if (type === "password") continue;
      shown = el.value || el.getAttribute("placeholder") || "";
      if (!el.value) pseudo = "::placeholder";
      if (el.tagName === "TEXTAREA") shown = shown.split("\n")[0];
    } else if (BUTTON.has(type)) {
      shown = el.value || (type === "submit" ? "Submit" : type === "reset" ? "Reset" : "");
      centred = true;
    } else {
      continue;
    }
    if (!/\S/.test(shown)) continue;
    const style = styleOf(el);
    const textStyle = pseudo ? getComputedStyle(el, pseudo) : style;
    const rect = el.getBoundingClientRect();
    if (rect.width < 1 || rect.height < 1) continue;
    const px = (v) => parseFloat(v) || 0;
    const left = rect.left + px(style.borderLeftWidth) + px(style.paddingLeft);
    const right = rect.right - px(style.borderRightWidth) - px(style.paddingRight);
    const fontSize = px(style.fontSize);
    ctx.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const total = ctx.measureText(shown).width;
    const start = centred ? left + Math.max(0, (right - left - total) / 2) : left;
    const mid = el.tagName === "TEXTAREA"
      ? rect.top + px(style.borderTopWidth) + px(style.paddingTop) + fontSize * 0.6
      : (rect.top + rect.bottom) / 2;
    // The scorer reads a word's background on a ring 2 px outside its box (agent/score/ink.py): kept off
    // the control's border, the ring lies on its face, and the text's colour is read against that face.
    const faceTop = rect.top + px(style.borderTopWidth) + 2, faceBottom = rect.bottom - px(style.borderBottomWidth) - 2;
    let top = mid - fontSize * 0.6, bottom = mid + fontSize * 0.6;
    if (Math.min(bottom, faceBottom) - Math.max(top, faceTop) >= fontSize * 0.7) {
      top = Math.max(top, faceTop);
      bottom = Math.min(bottom, faceBottom);
    }
    const re = /\S+/g;
    let m;
    while ((m = re.exec(shown)) !== null) {
      const x0 = start + ctx.measureText(shown.slice(0, m.index)).width;
      const x1 = Math.min(right, x0 + ctx.measureText(m[0]).width);
      if (x1 - x0 < 1) break;  // clipped by the field's edge
      const box = [x0 + sx, top + sy, x1 + sx, bottom + sy];
      if (clip && (box[0] >= clip[0] || box[1] >= clip[1])) continue;
      if (!groups.has(el)) groups.set(el, []);
      groups.get(el).push({
        text: transform(m[0], textStyle.textTransform || style.textTransform),
        box, color: toRgb(textStyle.color), font_size: fontSize,
      });
      count += 1;
    }
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


def collect_text_blocks(page: Any, arg: dict[str, Any], timeout_ms: float) -> dict[str, Any]:
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
