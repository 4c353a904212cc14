"""Hash content and match it: the one path that HMA routes, /v1 routes and the CLI share.

content bytes (upload or fetched URL) → :meth:`SignalRegistry.hash` (safe decoding)
→ per signal: quality gate (PDQ below the minimum quality is not matched) →
:meth:`Matcher.lookup` → results per signal type. Matches can be handed to a
listener (the moderation service turns them into automated reports).

Photos are matched robustly: every PDQ view of the image (:mod:`accord.matching.robust`);
when none matched, the same views against the bank-side views of items banked from
their media (their rotate-crops, :func:`accord.matching.robust.bank_rotations`; reported
as ``pdq`` matches with ``detail["rotation"]``); and, only when still nothing matched
and some banked items have local features, the image's keypoints verified against
them (result type ``keypoints``, :mod:`accord.matching.keypoints`); when the image sits
in a frame (a screenshot, a meme template, a rotation's fill), the framed picture's own
keypoints, described at full scale, are looked at first, then the whole image's.
Banking from media keeps those features beside the item
(:meth:`LookupService.hash_to_bank`). Videos likewise: robust vPDQ
(:mod:`accord.matching.video`), then, when no bank video matched and some banked videos
have keyframes' features, the query's frames verified against them in time order
(result type ``keypoints``, :mod:`accord.matching.video_keypoints`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from accord.fetch import FetchPolicy, fetch
from accord.matching import keypoints, video_keypoints
from accord.matching.matcher import LookupResult, Matcher
from accord.matching.model import Match
from accord.matching.robust import Region, bank_rotations, framed_box, robust_views
from accord.matching.video import FrameViews, explained, frame_views, stages, vpdq_of
from accord.signals import pdqfast
from accord.signals.base import ContentType, Hashed
from accord.signals.media import DecodedImage, MediaLimits
from accord.signals.registry import SignalRegistry
from accord.signals.vpdq import VpdqSignal

__all__ = ["ContentMatch", "LookupService"]

MatchListener = Callable[["ContentMatch"], None]


@dataclass(frozen=True, slots=True)
class ContentMatch:
    """Hashes of one piece of content and the matches of each."""

    content_type: ContentType
    hashes: list[Hashed]
    results: dict[str, LookupResult]
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def matched(self) -> bool:
        return any(r.matches for r in self.results.values())


class LookupService:
    def __init__(
        self,
        registry: SignalRegistry,
        matcher: Matcher,
        limits: MediaLimits,
        fetch_policy: FetchPolicy,
        *,
        min_quality: int = 50,
        robust: bool = True,
        min_inliers: int = keypoints.MIN_INLIERS,
    ) -> None:
        self.registry = registry
        self.matcher = matcher
        self.limits = limits
        self.fetch_policy = fetch_policy
        self.min_quality = min_quality
        self.robust = robust
        self.min_inliers = min_inliers
        self._listeners: list[MatchListener] = []

    def on_match(self, listener: MatchListener) -> None:
        self._listeners.append(listener)

    def _match_views(
        self,
        image: DecodedImage,
        oriented: tuple[list[str], int],
        banks: list[str] | None,
        bypass_coinflip: bool,
        regions: list[Region] | None = None,
    ) -> LookupResult:
        """Robust PDQ matching: look up every view of the image (the plain PDQ first, then
        orientations, trimmed borders, the salient frame, the unrotated image) against
        the plain PDQ banks and keep, per banked item, the nearest view; when none
        matched, the same views against the bank-side views (rotate-crops) of items
        banked from their media. ``regions`` receives the regions the views were cut
        from (for the keypoint step)."""
        best: dict[tuple[str, int], Match] = {}
        suppressed: dict[tuple[str, int], Match] = {}
        views = [
            (number, view)
            for number, view in enumerate(
                robust_views(image.pixels, oriented=oriented, coarse=True, regions=regions)
            )
            if number == 0 or view.quality >= self.min_quality
        ]

        def keep(results: list[LookupResult]) -> None:
            """Per banked item, the nearest view's match (and any silencing match)."""
            for (number, _view), result in zip(views, results, strict=True):
                for match in result.matches:
                    key = (match.bank, match.content_id)
                    if key not in best or match.distance < best[key].distance:
                        best[key] = replace(match, detail={**match.detail, "view": float(number)})
                for match in result.suppressed_by:
                    suppressed.setdefault((match.bank, match.content_id), match)

        hexes = [view.pdq_hex for _, view in views]
        keep(
            self.matcher.lookup_many(
                "pdq", hexes, banks_filter=banks, bypass_coinflip=bypass_coinflip
            )
        )
        if not best and not suppressed and self.matcher.bank_view_count:
            # no view matched a banked hash: the views against the bank-side views of items
            # banked from their media (a rotate-crop of such an item lands near one)
            keep(
                self.matcher.lookup_bank_views(
                    hexes, banks_filter=banks, bypass_coinflip=bypass_coinflip
                )
            )
        ordered = sorted(best.values(), key=lambda m: (m.distance, m.bank, m.content_id))
        return LookupResult("pdq", ordered, suppressed_by=list(suppressed.values()))

    def _match_keypoints(
        self,
        pixels: npt.NDArray[np.uint8],
        regions: list[Region],
        banks: list[str] | None,
        bypass_coinflip: bool,
    ) -> LookupResult:
        """The image's keypoints against banked items' features. An image that sits in a
        frame (a screenshot, a meme template, padding, a rotation's fill) has two looks:
        first the framed picture alone, cut out and described at full scale (inside a
        screenshot the picture is small and the frame's text takes the votes), then,
        when that finds nothing, the whole image without the fill keypoints (the fill
        is for a picture beside text, which the first look has described already)."""

        def look(query: keypoints.Features) -> LookupResult:
            return self.matcher.lookup_keypoints(
                query,
                min_inliers=self.min_inliers,
                banks_filter=banks,
                bypass_coinflip=bypass_coinflip,
            )

        box = framed_box(regions)
        if box is None:
            return look(keypoints.extract_query(pixels, sharp=True))
        left, top, right, bottom = box
        inside = look(keypoints.extract_query(pixels[top:bottom, left:right], sharp=True))
        if inside.matches or inside.suppressed_by:
            return inside
        whole = look(keypoints.extract_query(pixels, fill=False, sharp=True))
        return whole if whole.matches or whole.suppressed_by else inside

    def _match_video(
        self,
        frames: list[FrameViews],
        value: str,
        min_quality: int,
        banks: list[str] | None,
        bypass_coinflip: bool,
    ) -> LookupResult:
        """Robust vPDQ matching: the plain frames first, then phase samples, then views,
        each asked only while no bank video explains the query (accord.matching.video);
        a banked item's match is its nearest over the stages."""
        best: dict[tuple[str, int], Match] = {}
        suppressed: dict[tuple[str, int], Match] = {}
        for groups in stages(frames, min_quality):
            result = self.matcher.lookup(
                "vpdq", value, banks_filter=banks, bypass_coinflip=bypass_coinflip, frames=groups
            )
            for match in result.matches:
                key = (match.bank, match.content_id)
                if key not in best or match.distance < best[key].distance:
                    best[key] = match
            for match in result.suppressed_by:
                suppressed.setdefault((match.bank, match.content_id), match)
            if explained([*result.matches, *result.suppressed_by]):
                break
        ordered = sorted(best.values(), key=lambda m: (m.distance, m.bank, m.content_id))
        return LookupResult("vpdq", ordered, suppressed_by=list(suppressed.values()))

    def _video_signal(
        self, content_type: ContentType | str, only: Iterable[str] | None
    ) -> VpdqSignal | None:
        """The vPDQ signal when this lookup is of a video and asks for vPDQ, else ``None``."""
        wanted = only is None or "vpdq" in set(only)
        signal = self.registry.get("vpdq") if "vpdq" in self.registry else None
        if (
            content_type in (ContentType.VIDEO, "video")
            and wanted
            and isinstance(signal, VpdqSignal)
        ):
            return signal
        return None

    def _other_types(
        self, content_type: ContentType, only: Iterable[str] | None, but: str
    ) -> list[str]:
        wanted = set(only) if only is not None else None
        return [
            t.name
            for t in self.registry.for_content(content_type)
            if t.name != but and (wanted is None or t.name in wanted)
        ]

    def fetch(self, url: str) -> bytes:
        return fetch(url, self.fetch_policy)

    def hash(
        self, content_type: ContentType | str, data: bytes, *, only: Iterable[str] | None = None
    ) -> list[Hashed]:
        return self.registry.hash(content_type, data, self.limits, only=only)

    def hash_to_bank(
        self, content_type: ContentType | str, data: bytes
    ) -> tuple[list[Hashed], bytes | None]:
        """What banking this content stores: its hashes at or above the minimum quality
        (empty if none is), and for a photo whose PDQ hash is kept, its packed local
        features, those of its mirror image and its bank-side rotate-crop hashes
        (``ORB3``: a side signal, never exported); for a
        video whose vPDQ is kept, its keyframes' features (``VKP1``). One decode serves
        both."""
        images: list[DecodedImage] = []
        videos: list[list[video_keypoints.Keyframe]] = []
        every = self.registry.hash(
            content_type,
            data,
            self.limits,
            on_image=images.append,
            on_video=lambda video: videos.append(video_keypoints.bank_keyframes(video)),
        )
        hashes = [h for h in every if h.quality is None or h.quality >= self.min_quality]
        if videos and videos[0] and any(h.signal_type == "vpdq" for h in hashes):
            return hashes, video_keypoints.pack_video(videos[0])
        if not images or not any(h.signal_type == "pdq" for h in hashes):
            return hashes, None
        pixels = images[0].pixels
        return hashes, keypoints.pack(
            keypoints.extract(pixels, mirror=True), rotations=bank_rotations(pixels)
        )

    def match_signal(
        self,
        signal_type: str,
        value: str,
        *,
        banks: Iterable[str] | None = None,
        threshold: float | None = None,
        bypass_coinflip: bool = False,
        with_labels: bool = True,
    ) -> LookupResult:
        """Matches of one signal; ``with_labels=False`` when the caller shows no labels
        (HMA's answers): it saves a database read a lookup."""
        normal = self.registry.validate(signal_type, value)
        return self.matcher.lookup(
            signal_type,
            normal,
            banks_filter=banks,
            threshold=threshold,
            bypass_coinflip=bypass_coinflip,
            with_labels=with_labels,
        )

    def match_content(
        self,
        content_type: ContentType | str,
        data: bytes,
        *,
        banks: Iterable[str] | None = None,
        only: Iterable[str] | None = None,
        bypass_coinflip: bool = False,
        robust: bool | None = None,
    ) -> ContentMatch:
        images: list[DecodedImage] = []
        use_views = self.robust if robust is None else robust
        wants_views = use_views and (only is None or "pdq" in set(only))
        # robust photo matching hashes PDQ itself, with the image's 7 other orientations
        # in the same pass (the views ask for them), so PDQ is not computed twice
        photo_views = wants_views and content_type == ContentType.PHOTO and "pdq" in self.registry
        oriented: list[tuple[list[str], int]] = []

        def on_image(image: DecodedImage) -> None:
            images.append(image)
            oriented.append(pdqfast.oriented_hex(image.pixels))

        videos: list[list[FrameViews]] = []
        vpdq = self._video_signal(content_type, only) if use_views else None
        # the frames the keypoint stage may need, kept during the one decode
        keep = video_keypoints.MAX_QUERY_FRAMES if vpdq and self.matcher.video_keypoint_count else 0
        hashes = self.registry.hash(
            content_type,
            data,
            self.limits,
            # with robust video matching, vPDQ is hashed from the frames decoded for it;
            # with robust photo matching, PDQ by on_image
            only=(
                self._other_types(ContentType.VIDEO, only, "vpdq")
                if vpdq is not None
                else self._other_types(ContentType.PHOTO, only, "pdq")
                if photo_views
                else only
            ),
            on_image=on_image if photo_views else None,
            on_video=(
                (lambda video: videos.append(frame_views(video, vpdq, keep=keep))) if vpdq else None
            ),
        )
        if videos and vpdq is not None:
            hashes.append(vpdq_of(videos[0], vpdq))
        if oriented:
            hashes.append(Hashed("pdq", oriented[0][0][0], oriented[0][1]))
        if (videos and vpdq is not None) or oriented:
            order = self.registry.names()
            hashes.sort(key=lambda h: order.index(h.signal_type))
        bank_list = list(banks) if banks is not None else None
        regions: list[Region] = []
        results: dict[str, LookupResult] = {}
        skipped: dict[str, str] = {}
        for hashed in hashes:
            if hashed.quality is not None and hashed.quality < self.min_quality:
                skipped[hashed.signal_type] = (
                    f"quality {hashed.quality} is below the minimum {self.min_quality}"
                )
                continue
            if hashed.signal_type == "pdq" and oriented:
                results["pdq"] = self._match_views(
                    images[0], oriented[0], bank_list, bypass_coinflip, regions
                )
                continue
            if hashed.signal_type == "vpdq" and videos and vpdq is not None:
                results["vpdq"] = self._match_video(
                    videos[0], hashed.value, vpdq.min_quality, bank_list, bypass_coinflip
                )
                continue
            results[hashed.signal_type] = self.matcher.lookup(
                hashed.signal_type,
                hashed.value,
                banks_filter=bank_list,
                bypass_coinflip=bypass_coinflip,
            )
        # PDQ's views found nothing: verify local features (crops, overlays, frames),
        # only when some banked items have them.
        if images and not any(r.matches for r in results.values()) and self.matcher.keypoint_count:
            results["keypoints"] = self._match_keypoints(
                images[0].pixels, regions, bank_list, bypass_coinflip
            )
        # No vPDQ stage matched a video: verify its frames' local features against banked
        # videos' keyframes, only when some banked videos have them.
        if videos and keep and "vpdq" in results and not any(r.matches for r in results.values()):
            query = video_keypoints.query_keyframes(
                [(f.timestamp, f.pixels) for f in videos[0] if f.pixels is not None]
            )
            results["keypoints"] = self.matcher.lookup_video_keypoints(
                query,
                min_inliers=self.min_inliers,
                banks_filter=bank_list,
                bypass_coinflip=bypass_coinflip,
            )
        outcome = ContentMatch(ContentType(content_type), hashes, results, skipped)
        if outcome.matched:
            for listener in self._listeners:
                listener(outcome)
        return outcome
