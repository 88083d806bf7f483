"""Strokes one picture draws solid and the other as edge blends count as one colour (``score/blends.py``).

The pictures are drawn here pixel by pixel, as Agg and a PDF rasteriser draw the same hairline: one
solid row, or two rows each half covered (the colour blended half way with what is under it)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from viscodex.agent.score import critique, score_chart
from viscodex.agent.score.blends import covered_share, drawn_as, reconcile_blends
from viscodex.agent.score.palette import dominant_colors
from viscodex.agent.score.trace import ChartTrace

WHITE = (255, 255, 255)
ORANGE = (255, 127, 14)
BLUE = (31, 119, 180)


def blend(colour: tuple[int, int, int], under: tuple[int, int, int], amount: float) -> tuple[int, int, int]:
    return tuple(round(amount * c + (1 - amount) * u) for c, u in zip(colour, under, strict=True))  # type: ignore[return-value]


def canvas(background: tuple[int, int, int] = WHITE, size: tuple[int, int] = (240, 320)) -> np.ndarray:
    out = np.empty((*size, 3), dtype=np.uint8)
    out[:] = background
    return out


def hairlines(picture: np.ndarray, colour: tuple[int, int, int], rows: list[int], solid: bool) -> np.ndarray:
    """Horizontal hairlines at ``rows`` from x 20 to 300: one solid row, or the row and the next one
    half covered."""
    for y in rows:
        if solid:
            picture[y, 20:300] = colour
        else:
            under = tuple(int(v) for v in picture[y, 20])
            picture[y : y + 2, 20:300] = blend(colour, under, 0.5)  # type: ignore[arg-type]
    return picture


def palettes(target: np.ndarray, candidate: np.ndarray) -> tuple[tuple, tuple]:
    t, c = dominant_colors(target), dominant_colors(candidate)
    return reconcile_blends(target, t, candidate, c), reconcile_blends(candidate, c, target, t)


def rgbs(palette: tuple) -> list[tuple[int, int, int]]:
    return [p.rgb for p in palette]


def test_a_hairline_drawn_between_pixel_rows_is_the_colour_it_blends() -> None:
    target = hairlines(hairlines(canvas(), ORANGE, [40, 80, 120], True), BLUE, [160, 200], True)
    candidate = hairlines(hairlines(canvas(), ORANGE, [40, 80, 120], False), BLUE, [160, 200], True)
    # Read alone, the candidate's orange is a light orange the target does not have.
    assert rgbs(dominant_colors(candidate)) == [blend(ORANGE, WHITE, 0.5), BLUE]
    t, c = palettes(target, candidate)
    assert rgbs(t) == [ORANGE, BLUE] and rgbs(c) == [ORANGE, BLUE]


def test_a_blend_with_a_pale_fill_is_taken_back_as_with_the_background() -> None:
    fill = (173, 216, 230)  # light blue: too little colour to be a palette colour itself
    navy = (0, 0, 139)
    target, candidate = canvas(), canvas()
    target[30:210, 20:300] = candidate[30:210, 20:300] = fill
    target = hairlines(target, navy, [60, 100, 140, 180], True)
    candidate = hairlines(candidate, navy, [60, 100, 140, 180], False)
    assert rgbs(dominant_colors(target)) == [navy]
    t, c = palettes(target, candidate)
    assert rgbs(c) == [navy] and rgbs(t) == [navy]


def test_an_area_in_a_lighter_shade_is_a_colour_of_its_own() -> None:
    target, candidate = canvas(), canvas()
    target[40:200, 40:140] = candidate[40:200, 40:140] = BLUE
    target[40:200, 180:280] = ORANGE
    candidate[40:200, 180:280] = blend(ORANGE, WHITE, 0.5)  # a translucent bar where the target's is solid
    t, c = palettes(target, candidate)
    assert blend(ORANGE, WHITE, 0.5) in rgbs(c) and ORANGE in rgbs(t)


def test_a_blend_where_the_other_picture_draws_nothing_stays() -> None:
    target = hairlines(canvas(), ORANGE, [40], True)
    candidate = hairlines(canvas(), ORANGE, [40, 180, 200, 220], False)  # three lines the target lacks
    candidate = hairlines(candidate, ORANGE, [40], True)
    c = palettes(target, candidate)[1]
    assert rgbs(c)[0] == blend(ORANGE, WHITE, 0.5)


def test_of_two_shades_of_a_colour_the_stronger_is_what_was_drawn() -> None:
    green, lighter = (79, 124, 86), (108, 145, 114)  # each lies between the other and white or black
    target, candidate = canvas(), canvas()
    for picture in (target, candidate):  # black axes: something to blend with
        picture[10:230, 8:12] = picture[226:230, 8:312] = (0, 0, 0)
    target = hairlines(target, green, [40, 80, 120], True)
    candidate = hairlines(candidate, lighter, [40, 80, 120], True)
    t, c = palettes(target, candidate)
    assert rgbs(t) == [green] and rgbs(c) == [green]


def test_coverage_follows_the_alignment_between_the_two_pictures() -> None:
    mine = np.zeros((100, 100), dtype=bool)
    mine[10, 10:50] = True
    theirs = np.zeros((300, 300), dtype=bool)
    theirs[2 * 10 + 5, 2 * 10 + 5 : 2 * 50 + 5] = True
    assert covered_share(mine, theirs, (2.0, 2.0, 5.0, 5.0)) == 1.0
    assert covered_share(mine, theirs) == 0.0


def test_a_chart_drawn_with_blended_hairlines_verifies_against_its_solid_picture() -> None:
    target = hairlines(hairlines(canvas(), ORANGE, [40, 80, 120], True), BLUE, [160, 200], True)
    candidate = hairlines(hairlines(canvas(), ORANGE, [40, 80, 120], False), BLUE, [160, 200], True)
    as_png = io.BytesIO()
    Image.fromarray(candidate).save(as_png, format="PNG")
    score = score_chart(target, [], as_png.getvalue(), ChartTrace(width=320, height=240))
    assert score.color == 1.0 and score.series == 1.0
    assert not [line for line in critique(score, limit=20) if "colour" in line]


def test_a_legend_swatch_hatched_solid_on_one_side_and_blended_on_the_other_is_the_same_colour() -> None:
    target = hairlines(canvas(), BLUE, [40, 44, 48, 52], True)
    candidate = hairlines(canvas(), BLUE, [40, 44, 48, 52], False)
    assert drawn_as(candidate, blend(BLUE, WHITE, 0.5), target, BLUE)
    assert not drawn_as(candidate, blend(BLUE, WHITE, 0.5), canvas(), BLUE)
