"""Re-make the example pictures from the code kept beside them, in the sandbox (network off).

.venv/bin/python examples/render.py
"""

from __future__ import annotations

from pathlib import Path

from viscodex.sandbox import Sandbox, Viewport

HERE = Path(__file__).parent
PAGES = {
    "ui/pricing_card.html": Viewport(width=1280, height=800),
    "algorithm/pair_sum.html": Viewport(width=720, height=200),
    "fix/error.html": Viewport(width=760, height=200),
}
CHARTS = ["chart/quarterly_sales.py"]


def main() -> None:
    with Sandbox(pool={}) as sandbox:
        for name, viewport in PAGES.items():
            source = HERE / name
            png = sandbox.render_html(source.read_text(), viewport)
            source.with_suffix(".png").write_bytes(png)
            print(f"{source.with_suffix('.png')}: {len(png)} bytes")
        for name in CHARTS:
            source = HERE / name
            png = sandbox.render_chart(source.read_text())
            source.with_suffix(".png").write_bytes(png)
            print(f"{source.with_suffix('.png')}: {len(png)} bytes")


if __name__ == "__main__":
    main()
