"""Manipulations that evaders apply to images, as deterministic functions (for evaluation).

The robustness benchmark (``benchmarks/robustness.py``) and the tests
(``tests/matching/test_robust.py``) both need the same transform families, so they
live here once rather than in each. Nothing in the matching path calls them.

Data flow: an RGB :class:`PIL.Image.Image` and a seeded :class:`numpy.random.Generator`
go into :func:`apply`, with a family name from :data:`FAMILIES`; a new RGB image
comes out together with a short description of the parameters drawn. The
families are those of the robustness issue: mirror and 90-degree rotations,
small rotations (corners filled, or cropped away), crops, padding/borders,
embedding in a larger frame, caption and watermark overlays, low-quality JPEG,
downscaling to a quarter, colour changes, noise and blur, and combinations of two.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from accord.errors import InvalidInput

__all__ = ["BASE_FAMILIES", "FAMILIES", "apply"]

Transform = Callable[[Image.Image, np.random.Generator], tuple[Image.Image, str]]

_WORDS = (
    "when you see it", "nobody:", "me at 3am", "breaking news", "share before they delete",
    "wake up", "the truth", "original content", "do not repost", "look closer", "lol",
    "sample text", "@someone", "watch till the end", "they don't want you to know",
)  # fmt: skip


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    kind = rng.integers(4)
    if kind == 0:
        return (0, 0, 0)
    if kind == 1:
        return (255, 255, 255)
    r, g, b = (int(v) for v in rng.integers(0, 256, size=3))
    return (r, g, b)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, size))


def _text(rng: np.random.Generator, words: int = 4) -> str:
    picks = rng.choice(len(_WORDS), size=min(words, len(_WORDS)), replace=False)
    return " ".join(_WORDS[int(i)] for i in picks)[: 8 + 6 * words].upper()


def dihedral(img: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, str]:
    """Mirror, flip, transpose or rotate by a multiple of 90 degrees (never the identity)."""
    ops = [
        Image.Transpose.FLIP_LEFT_RIGHT,
        Image.Transpose.FLIP_TOP_BOTTOM,
        Image.Transpose.ROTATE_90,
        Image.Transpose.ROTATE_180,
        Image.Transpose.ROTATE_270,
        Image.Transpose.TRANSPOSE,
        Image.Transpose.TRANSVERSE,
    ]
    op = ops[int(rng.integers(len(ops)))]
    return img.transpose(op), op.name.lower()


def rotate(img: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, str]:
    """Rotate by 2-5 degrees either way, the corners filled with a colour (canvas grows)."""
    angle = float(rng.uniform(2.0, 5.0)) * (1 if rng.random() < 0.5 else -1)
    fill = _colour(rng)
    out = img.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=fill)
    return out, f"rotate {angle:+.1f} fill {fill}"


def rotate_crop(img: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, str]:
    """Rotate by 2-5 degrees and keep the largest centred upright rectangle (no corners)."""
    angle = float(rng.uniform(2.0, 5.0)) * (1 if rng.random() < 0.5 else -1)
    w, h = img.size
    rad = np.deg2rad(abs(angle))
    scale = 1.0 / (np.cos(rad) + np.sin(rad) * max(w / h, h / w))
    out = img.rotate(angle, resample=Image.Resampling.BICUBIC)
    cw, ch = w * scale, h * scale
    box = (round((w - cw) / 2), round((h - ch) / 2), round((w + cw) / 2), round((h + ch) / 2))
    return out.crop(box), f"rotate {angle:+.1f} crop"


def crop(img: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, str]:
    """Cut up to 20% of the width and/or height, split between the two sides at random."""
    w, h = img.size
    fx = float(rng.uniform(0.0, 0.2)) if rng.random() < 0.8 else 0.0
    fy = float(rng.uniform(0.0, 0.2)) if rng.random() < 0.8 or fx == 0.0 else 0.0
    sx, sy = float(rng.random()), float(rng.random())
    box = (
        round(fx * sx * w), round(fy * sy * h),
        round(w - fx * (1 - sx) * w), round(h - fy * (1 - sy) * h),
    )  # fmt: skip
    return img.crop(box), f"crop x{fx:.2f} y{fy:.2f}"


def pad(img: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, str]:
    """Letterbox, pillarbox, a border or uneven padding, in any colour."""
    w, h = img.size
    fill = _colour(rng)
    kind = int(rng.integers(4))
    if kind == 0:  # letterbox to 16:9 on a taller-than-wide canvas, or square
        side = max(w, h)
        canvas = (w, int(side * rng.uniform(1.2, 1.6))) if w >= h else (side, side)
    elif kind == 1:  # pillarbox
        canvas = (int(w * rng.uniform(1.2, 1.6)), h)
    elif kind == 2:  # border all round
        b = int(min(w, h) * rng.uniform(0.03, 0.2))
        canvas = (w + 2 * b, h + 2 * b)
    else:  # uneven padding
        canvas = (int(w * rng.uniform(1.0, 1.3)), int(h * rng.uniform(1.0, 1.3)))
    out = Image.new("RGB", canvas, fill)
    ox = int(rng.integers(0, canvas[0] - w + 1)) if kind == 3 else (canvas[0] - w) // 2
    oy = int(rng.integers(0, canvas[1] - h + 1)) if kind == 3 else (canvas[1] - h) // 2
    out.paste(img, (ox, oy))
    return out, f"pad kind{kind} {fill}"


def frame(img: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, str]:
    """Place the image inside a screenshot-like or meme-template-like frame."""
    w, h = img.size
    share = float(rng.uniform(0.45, 0.8))  # of the canvas width taken by the image
    cw = int(w / share)
    if rng.random() < 0.5:  # meme template: caption band above, plain canvas
        bg = (255, 255, 255) if rng.random() < 0.7 else (20, 20, 20)
        ink = (0, 0, 0) if bg[0] > 128 else (240, 240, 240)
        band = int(h * rng.uniform(0.2, 0.45))
        ch = h + band + int(h * rng.uniform(0.0, 0.15))
        out = Image.new("RGB", (cw, ch), bg)
        draw = ImageDraw.Draw(out)
        font = _font(band // 4)
        draw.text((cw // 20, band // 6), _text(rng, 3), fill=ink, font=font)
        draw.text((cw // 20, band // 6 + band // 3), _text(rng, 3), fill=ink, font=font)
        ox = (cw - w) // 2 if rng.random() < 0.5 else int(rng.integers(0, cw - w + 1))
        out.paste(img, (ox, band))
        return out, f"frame meme share {share:.2f}"
    # screenshot: title bar, side panel with text lines, image in the content area
    bg = (242, 242, 245) if rng.random() < 0.6 else (30, 32, 36)
    ink = (40, 40, 40) if bg[0] > 128 else (220, 220, 220)
    bar = max(12, h // 12)
    ch = int(h * rng.uniform(1.2, 1.6)) + bar
    out = Image.new("RGB", (cw, ch), bg)
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, 0, cw, bar), fill=(int(rng.integers(40, 200)), 90, 160))
    side = cw - w - max(4, cw // 40)
    font = _font(max(9, bar // 2))
    for i in range(2, 12):
        y = bar + i * bar
        if y > ch - bar:
            break
        draw.text((6, y), _text(rng, 2)[: max(4, side // 8)], fill=ink, font=font)
    oy = bar + int(rng.integers(bar // 2, max(bar // 2 + 1, ch - h - bar)))
    out.paste(img, (cw - w - max(4, cw // 40), min(oy, ch - h)))
    draw.text((cw - w, min(oy, ch - h) - bar), _text(rng, 3), fill=ink, font=font)
    return out, f"frame screenshot share {share:.2f}"


def overlay(img: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, str]:
    """Caption text (top and/or bottom), a translucent watermark, or a corner logo."""
    out = img.copy()
    w, h = out.size
    kind = int(rng.integers(3))
    if kind == 0:  # meme captions in white with a black outline
        font = _font(int(h * rng.uniform(0.07, 0.12)))
        draw = ImageDraw.Draw(out)
        for y in (h // 30, h - h // 30 - int(h * 0.12)) if rng.random() < 0.5 else (h // 30,):
            draw.text(
                (w // 20, y), _text(rng, 3), fill="white", font=font,
                stroke_width=2, stroke_fill="black",
            )  # fmt: skip
        return out, "overlay caption"
    if kind == 1:  # translucent diagonal-ish watermark text repeated
        layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        font = _font(int(h * 0.08))
        alpha = int(rng.integers(60, 130))
        for i in range(4):
            draw.text((w // 10 + i * w // 12, h // 8 + i * h // 4), "@accord-test", font=font,
                      fill=(255, 255, 255, alpha))  # fmt: skip
        return Image.alpha_composite(out.convert("RGBA"), layer).convert("RGB"), "overlay watermark"
    # a logo box in a corner
    draw = ImageDraw.Draw(out)
    lw, lh = int(w * rng.uniform(0.12, 0.25)), int(h * rng.uniform(0.08, 0.15))
    x0 = w - lw - w // 40 if rng.random() < 0.5 else w // 40
    y0 = h - lh - h // 40 if rng.random() < 0.5 else h // 40
    draw.rectangle((x0, y0, x0 + lw, y0 + lh), fill=_colour(rng))
    draw.text((x0 + 4, y0 + 2), "LOGO", fill=(128, 128, 128), font=_font(lh // 2))
    return out, "overlay logo"


def jpeg(img: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, str]:
    """Re-encode as JPEG at quality 10-30."""
    quality = int(rng.integers(10, 31))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as decoded:
        return decoded.convert("RGB"), f"jpeg q{quality}"


def resize(img: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, str]:
    """Downscale to between a half and a quarter of each side."""
    f = float(rng.uniform(0.25, 0.5)) if rng.random() < 0.5 else 0.25
    w, h = img.size
    size = (max(8, round(w * f)), max(8, round(h * f)))
    return img.resize(size, Image.Resampling.BILINEAR), f"resize x{f:.2f}"


def colour(img: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, str]:
    """Gamma, contrast, brightness, saturation changes or grayscale."""
    kind = int(rng.integers(4))
    if kind == 0:
        return ImageOps.grayscale(img).convert("RGB"), "grayscale"
    if kind == 1:
        g = float(rng.choice([rng.uniform(0.5, 0.8), rng.uniform(1.25, 2.0)]))
        lut = [min(255, round(255 * (i / 255) ** g)) for i in range(256)] * 3
        return img.point(lut), f"gamma {g:.2f}"
    if kind == 2:
        c = float(rng.choice([rng.uniform(0.5, 0.8), rng.uniform(1.2, 1.6)]))
        b = float(rng.uniform(0.8, 1.2))
        out = ImageEnhance.Brightness(ImageEnhance.Contrast(img).enhance(c)).enhance(b)
        return out, f"contrast {c:.2f} brightness {b:.2f}"
    s = float(rng.uniform(0.0, 2.0))
    arr = np.asarray(ImageEnhance.Color(img).enhance(s)).astype(np.int16)
    shift = rng.integers(-30, 31, size=3)
    return Image.fromarray(np.clip(arr + shift, 0, 255).astype(np.uint8)), f"saturation {s:.2f}"


def noise_blur(img: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, str]:
    """Gaussian noise, Gaussian blur, or both."""
    kind = int(rng.integers(3))
    out = img
    desc = []
    if kind in (0, 2):
        r = float(rng.uniform(1.0, 3.0)) * max(1.0, min(img.size) / 512)
        out = out.filter(ImageFilter.GaussianBlur(r))
        desc.append(f"blur {r:.1f}")
    if kind in (1, 2):
        sigma = float(rng.uniform(5.0, 25.0))
        arr = np.asarray(out).astype(np.float32) + rng.normal(0.0, sigma, size=(*out.size[::-1], 3))
        out = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        desc.append(f"noise {sigma:.0f}")
    return out, " ".join(desc)


BASE_FAMILIES: dict[str, Transform] = {
    "dihedral": dihedral,
    "rotate": rotate,
    "rotate_crop": rotate_crop,
    "crop": crop,
    "pad": pad,
    "frame": frame,
    "overlay": overlay,
    "jpeg": jpeg,
    "resize": resize,
    "colour": colour,
    "noise_blur": noise_blur,
}

FAMILIES: tuple[str, ...] = (*BASE_FAMILIES, "combo")


def apply(family: str, img: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, str]:
    """Apply one transform of ``family`` to an RGB image; ``combo`` chains two families."""
    img = img.convert("RGB")
    if family == "combo":
        names = list(BASE_FAMILIES)
        first, second = (names[int(i)] for i in rng.choice(len(names), size=2, replace=False))
        mid, d1 = BASE_FAMILIES[first](img, rng)
        out, d2 = BASE_FAMILIES[second](mid, rng)
        return out, f"{first}+{second}: {d1}; {d2}"
    try:
        fn = BASE_FAMILIES[family]
    except KeyError:
        raise InvalidInput(
            f"no transform family {family!r}; known: {', '.join(FAMILIES)}", family=family
        ) from None
    return fn(img, rng)
