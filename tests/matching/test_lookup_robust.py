"""Lookups of photos use robust views against plain PDQ banks: a mirrored or padded copy
of banked content matches through the service, and turning robust matching off loses it."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageOps


def _edit(data: bytes, how: str) -> bytes:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    if how == "mirror":
        image = ImageOps.mirror(image)
    elif how == "pad":
        image = ImageOps.expand(image, border=(0, 60, 0, 60), fill=(250, 20, 160))
    elif how == "rotate90":
        image = image.rotate(90, expand=True)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


@pytest.mark.parametrize("how", ["mirror", "pad", "rotate90"])
def test_manipulated_copies_match_only_with_robust_views(accord, make_image, how):
    accord.banks.create_bank("TVEC", actor="t")
    original = make_image(31, size=(400, 300))
    hashed = accord.lookups.hash("photo", original)
    content = accord.banks.add_hashed("TVEC", hashed, source="s", actor="t")
    copy = _edit(original, how)
    robust = accord.lookups.match_content("photo", copy)
    assert [m.content_id for m in robust.results["pdq"].matches] == [content.id]
    accord.lookups.robust = False
    plain = accord.lookups.match_content("photo", copy)
    assert plain.results["pdq"].matches == []


def test_unrelated_photos_stay_unmatched_with_robust_views(accord, make_image):
    accord.banks.create_bank("TVEC", actor="t")
    for seed in range(40, 46):
        accord.banks.add_hashed(
            "TVEC", accord.lookups.hash("photo", make_image(seed)), source="s", actor="t"
        )
    for seed in range(60, 66):
        assert not accord.lookups.match_content("photo", make_image(seed)).matched
