"""The evidence a disputed finding needs: a second OCR reading of both pictures at the place
(``second_reading.py``), a palette claim checked against the whole other picture
(``evidence.colour_present``) and the window correlations behind ``evidence.agreement``.

Pictures are drawn here with Pillow; the texts, colours and places are chosen by the test.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from conftest import missing_service
from PIL import Image, ImageDraw, ImageFont

from viscodex.agent.score import TextBlock, evidence
from viscodex.agent.score.matching import match_blocks, text_similarity
from viscodex.agent.score.second_reading import as_drawn, confirmed
from viscodex.agent.score.visual import BlockPair, drop_seen_in_both, join_fragments, reread_pairs

TITLE_BOX = (18.0, 26.0, 330.0, 70.0)


@pytest.fixture
def tesseract() -> None:
    if shutil.which("tesseract") is None:
        missing_service("tesseract not installed (apt-get install -y tesseract-ocr tesseract-ocr-eng)")


def _picture(text: str | None = "Quarterly revenue", hatch: bool = False) -> np.ndarray:
    image = Image.new("RGB", (420, 160), "white")
    draw = ImageDraw.Draw(image)
    if text:
        draw.text((20, 30), text, fill=(0, 0, 0), font=ImageFont.load_default(size=32))
    if hatch:  # a marker pattern where a text is claimed: circles, which OCR may take for "oo"
        for x in range(30, 320, 16):
            draw.ellipse((x, 40, x + 8, 48), outline=(0, 0, 0))
    draw.rectangle((20, 110, 400, 150), fill=(43, 108, 176))
    return np.asarray(image)


def test_a_removed_text_is_confirmed(tesseract: None) -> None:
    target, candidate = _picture(), _picture(text=None)
    assert confirmed(target, candidate, [(TITLE_BOX, "Quarterly revenue", True)]) == [True]


def _banner(text: str) -> np.ndarray:
    """White letters on a dark banner, as a page's header draws its title."""
    image = Image.new("RGB", (420, 160), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 420, 100), fill=(30, 58, 138))
    draw.text((20, 30), text, fill=(255, 255, 255), font=ImageFont.load_default(size=32))
    return np.asarray(image)


def test_a_changed_title_on_a_dark_banner_is_confirmed(tesseract: None) -> None:
    """Light letters on a dark ground read again as well as dark ones on white: the target's title is
    missing where the candidate wrote another one, and the candidate's is extra."""
    target, candidate = _banner("Quarterly revenue"), _banner("Maple prairie")
    places = [(TITLE_BOX, "Quarterly revenue", True), (TITLE_BOX, "Maple prairie", False)]
    assert confirmed(target, candidate, places) == [True, True]
    same = np.roll(_banner("Quarterly revenue"), 2, axis=1)
    assert confirmed(target, same, [(TITLE_BOX, "Quarterly revenue", True)]) == [False]


def test_a_text_on_both_pictures_is_not_missing(tesseract: None) -> None:
    target = _picture()
    candidate = np.roll(_picture(), 2, axis=1)  # a render a little off: the pixels differ, the text does not
    assert confirmed(target, candidate, [(TITLE_BOX, "Quarterly revenue", True)]) == [False]


def test_a_reading_that_does_not_read_again_is_dropped(tesseract: None) -> None:
    """OCR of the whole target claimed a word where there are only markers: read again at that place it
    is not that word, so the candidate is not told it lacks it."""
    target, candidate = _picture(text=None, hatch=True), np.roll(_picture(text=None, hatch=True), 3, axis=1)
    assert confirmed(target, candidate, [(TITLE_BOX, "Revenue", True)]) == [False]


def test_an_extra_text_is_judged_on_the_candidate(tesseract: None) -> None:
    """The other way round: a text only the candidate draws is confirmed; a formula's source from the
    trace is compared as drawn."""
    assert confirmed(_picture(text=None), _picture(), [(TITLE_BOX, "Quarterly revenue", False)]) == [True]
    assert as_drawn(r"$-19.374^{+0.080}_{-0.080}$") == "-19.374 +0.080 -0.080"
    assert as_drawn("costs $5") == "costs $5"  # one dollar sign is not mathtext


def test_unreadable_or_unequal_pictures_keep_the_finding() -> None:
    target = _picture()
    assert confirmed(target, _picture()[:100], [(TITLE_BOX, "Quarterly revenue", True)]) == [True]
    assert confirmed(target, target, []) == []


def test_colour_present_is_about_the_whole_picture() -> None:
    """The palette claim "the candidate uses #x, which the target does not have" is false when the target
    draws #x as much elsewhere (a layout a little different), true when it does not draw it."""
    blue = (43, 108, 176)
    target = np.full((100, 200, 3), 255, np.uint8)
    target[10:30, 10:90] = blue
    moved = np.full((100, 200, 3), 255, np.uint8)
    moved[60:80, 100:180] = blue
    other = np.full((100, 200, 3), 255, np.uint8)
    other[60:80, 100:180] = (230, 0, 126)
    assert not evidence.colour_covered(moved, target, blue)  # not at the same place...
    assert evidence.colour_present(moved, target, blue)  # ...but in the picture
    assert not evidence.colour_present(other, target, (230, 0, 126))


def test_window_correlations_equal_the_direct_sums() -> None:
    rng = np.random.default_rng(7)
    for ph, pw, shift in [(5, 7, 2), (14, 60, 4), (20, 200, 8)]:
        region = rng.random((ph + 2 * shift, pw + 2 * shift)) * 255
        patch = region[shift : shift + ph, shift : shift + pw] + rng.random((ph, pw))
        a = patch - patch.mean()
        windows = np.lib.stride_tricks.sliding_window_view(region, (ph, pw))
        b = windows - windows.mean(axis=(2, 3), keepdims=True)
        num, var = evidence._correlations(a, region)
        assert np.allclose(num, np.einsum("ij,yxij->yx", a, b))
        assert np.allclose(var, (b * b).sum(axis=(2, 3)))


def _pair(target_text: str, candidate_text: str) -> BlockPair:
    box = TITLE_BOX
    return BlockPair(
        target=TextBlock(text=target_text, box=box),
        candidate=TextBlock(text=candidate_text, box=box),
        text_similarity=text_similarity(target_text, candidate_text),
        dx=0.0,
        dy=0.0,
        position=1.0,
        delta_e=None,
        color=None,
        weight=1.0,
    )


def test_reread_pairs_keeps_only_confirmed_text_changes(tesseract: None) -> None:
    """A changed title reads as the target's text only on the target: it stays a difference. OCR's
    spacing ("s=50" for "s = 50") and a reading the target does not repeat are no differences."""
    target, changed = _picture("Quarterly revenue"), _picture("Yearly costs")
    kept, spaced, unstable = reread_pairs(
        [
            _pair("Quarterly revenue", "Yearly costs"),
            _pair("s=50", "s = 50"),
            _pair("Qx revenue 5", "Quarterly revenue"),
        ],
        target,
        changed,
    )
    assert kept.text_similarity < 1.0
    assert spaced.text_similarity == 1.0 and unstable.text_similarity == 1.0


def test_many_small_places_where_nothing_is_drawn_are_read_and_dropped(tesseract: None) -> None:
    """A chart's markers and tick marks read as "oo" and "T" in a dozen places: more places than one
    reading takes at any size, but a small strip to read, so they are read, and where the target draws
    no text they are no missing text."""
    target, candidate = np.full((160, 420, 3), 255, dtype=np.uint8), _picture()
    places = [((float(20 + 30 * k), 80.0, float(40 + 30 * k), 92.0), "oo", True) for k in range(12)]
    assert confirmed(target, candidate, places) == [False] * 12


def test_many_large_places_stand_unread(tesseract: None) -> None:
    """A dozen paragraph-sized places are a broad difference, not misreadings: they stand unread."""
    target, candidate = np.full((900, 900, 3), 255, dtype=np.uint8), np.full((900, 900, 3), 255, dtype=np.uint8)
    places = [((10.0, float(70 * k), 890.0, float(70 * k + 60)), "a rewritten paragraph", True) for k in range(12)]
    assert confirmed(target, candidate, places) == [True] * 12


def test_a_word_ocr_split_off_a_legend_entry_is_part_of_it_not_missing(tesseract: None) -> None:
    """OCR read the target's "GIN + GSAT" as "GIN" and "GSAT"; the trace holds the whole entry, drawn a
    line lower (another font's line height). "GSAT" pairs with the entry, and "GIN" is the rest of it,
    not a text the candidate lacks. A word the entry does not hold is still missing."""
    font = ImageFont.load_default(size=24)

    def legend(y: int, extra: bool = False) -> tuple[np.ndarray, dict[str, tuple[float, float, float, float]]]:
        image = Image.new("RGB", (420, 160), "white")
        draw = ImageDraw.Draw(image)
        draw.text((20, y), "GIN + GSAT", fill=(0, 0, 0), font=font)
        boxes = {"GIN + GSAT": draw.textbbox((20, y), "GIN + GSAT", font=font)}
        boxes["GIN"] = draw.textbbox((20, y), "GIN", font=font)
        start = draw.textlength("GIN + ", font=font)
        boxes["GSAT"] = draw.textbbox((20 + start, y), "GSAT", font=font)
        if extra:
            draw.text((260, y), "PNA", fill=(0, 0, 0), font=font)
            boxes["PNA"] = draw.textbbox((260, y), "PNA", font=font)
        return np.asarray(image), {k: tuple(float(v) for v in b) for k, b in boxes.items()}  # type: ignore[misc]

    t_rgb, t_boxes = legend(30, extra=True)
    c_rgb, c_boxes = legend(52)
    target = [TextBlock(text=k, box=t_boxes[k]) for k in ("GIN", "GSAT", "PNA")]
    candidate = [TextBlock(text="GIN + GSAT", box=c_boxes["GIN + GSAT"])]
    # The boxes overlap as the two renders' do: the entry's box reaches over the target's words.
    candidate = [candidate[0].model_copy(update={"box": (20.0, 30.0, c_boxes["GIN + GSAT"][2], 80.0)})]
    matching = match_blocks(target, candidate)
    assert [target[i].text for i in matching.missing] == ["GIN", "PNA"]
    kept, _, after = drop_seen_in_both(target, candidate, matching, t_rgb, c_rgb)
    assert [kept[i].text for i in after.missing] == ["PNA"]


def test_pieces_ocr_split_a_legend_entry_into_are_joined_before_pairing() -> None:
    """OCR read "NaturalQuestions - Closed-book" as two words with a wide gap (the dash unread): one
    trace line cannot be paired with both, so they are joined into one block. A word on that row the
    line does not hold, and the same words on the next row, are left alone."""
    line = TextBlock(text="NaturalQuestions - Closed-book", box=(646.0, 106.0, 906.0, 123.0))
    blocks = [
        TextBlock(text="XSum", box=(644.0, 26.0, 690.0, 39.0)),
        TextBlock(text="NaturalQuestions", box=(644.0, 100.0, 787.0, 115.0)),
        TextBlock(text="Closed-book", box=(805.0, 100.0, 906.0, 113.0)),
        TextBlock(text="1", box=(629.0, 102.0, 631.0, 112.0)),
        TextBlock(text="NaturalQuestions", box=(644.0, 124.0, 787.0, 139.0)),
    ]
    joined = join_fragments(blocks, [line])
    assert [b.text for b in joined] == ["XSum", "NaturalQuestions Closed-book", "1", "NaturalQuestions"]
    assert joined[1].box == (644.0, 100.0, 906.0, 115.0)
    assert join_fragments(blocks[2:], [line]) == blocks[2:]  # one piece: nothing to join


def test_a_target_text_that_is_part_of_the_line_drawn_over_it_reads_the_same() -> None:
    """OCR missed the first words of a legend entry ("NaturalQuestions -"): the rest is no other text.
    The same words in another order, or other words, still differ."""
    part = _pair("Open-book", "NaturalQuestions - Open-book")
    dropped = _pair("ReLU n0 400", "ReLU | n0 = 400")
    swapped = _pair("book Open", "NaturalQuestions - Open book")
    other = _pair("Closed-book", "NaturalQuestions - Open-book")
    out = reread_pairs([part, dropped, swapped, other], np.zeros((2, 2, 3), np.uint8), np.zeros((3, 3, 3), np.uint8))
    assert [p.text_similarity == 1.0 for p in out] == [True, True, False, False]
