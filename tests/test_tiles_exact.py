"""The first instance norms' statistics made exact over the tiles (fststyle.runtime.tiles_exact):
each tile's own parts split every side once, the passes give the whole photo's statistics
where the thumbnail's differ, and a tiled photo larger than its thumbnail comes closer to the
whole one for it."""

import numpy as np
import onnxruntime as ort
import pytest

from fststyle.runtime import Stylizer, style_weights
from fststyle.runtime.imagefiles import demo_photos, open_rgb
from fststyle.runtime.shipped import shipped_model
from fststyle.runtime.tiles import OVERLAP, TiledSessions, starts, stylize_tiled
from fststyle.runtime.tiles_exact import EXACT_NORMS, exact_statistics, owned


@pytest.mark.parametrize("length, tile, overlap, align", [(300, 128, 32, 4), (451, 200, 64, 8),
                                                          (1000, 512, 64, 8), (90, 128, 32, 4)])
def test_the_tiles_own_parts_split_each_side_once_on_the_stride(length, tile, overlap, align):
    bounds = starts(length, tile, overlap, align)
    parts = owned(bounds, align)
    assert parts[0][0] == 0 and parts[-1][1] == length
    assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))  # contiguous, no pixel twice
    assert all(s <= p0 < p1 <= e for (s, e), (p0, p1) in zip(bounds, parts))  # inside its tile
    assert all(p0 % align == 0 for p0, _ in parts)  # every layer's pixels split exactly


@pytest.fixture(scope="module")
def student():
    stylizer = Stylizer(shipped_model("student"))
    return stylizer, TiledSessions(stylizer.path, ort.SessionOptions(), ["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def photo():
    return np.asarray(open_rgb(demo_photos("heldout")[1], 240))  # 240 x 360


def test_the_passes_give_the_first_norms_the_whole_photos_statistics(student, photo):
    stylizer, sessions = student
    style = stylizer.style_feed(style_weights("udnie", stylizer.styles))
    photos = sessions.thumbnail_statistics(photo, style, stylizer.min_size, 10**9)  # its own
    thumbnail = sessions.thumbnail_statistics(photo, style, stylizer.min_size, 10_000)
    rows, cols = (starts(n, 160, OVERLAP, stylizer.stride) for n in photo.shape[:2])
    exact = exact_statistics(sessions.exact, photo, {**style, **thumbnail}, stylizer.min_size,
                             rows, cols, stylizer.stride)
    assert len(sessions.exact) == EXACT_NORMS == 3
    for i in range(EXACT_NORMS):
        for kind in ("mean", "var"):
            name = f"stats_{kind}_{i}"
            scale = np.abs(photos[name]).max()
            assert np.abs(thumbnail[name] - photos[name]).max() > 1e-3 * scale  # it differs
            np.testing.assert_allclose(exact[name], photos[name], atol=1e-5 * scale)
    later = f"stats_mean_{EXACT_NORMS}"  # the norms after them keep the thumbnail's
    np.testing.assert_array_equal(exact[later], thumbnail[later])


def test_exact_first_norms_bring_a_tiled_photo_closer_to_the_whole_one(student, photo):
    stylizer, sessions = student
    whole = stylizer.stylize(photo, style="udnie", tile=0).astype(np.float32)
    style = stylizer.style_feed(style_weights("udnie", stylizer.styles))
    far = [np.abs(whole - stylize_tiled(sessions, photo, style, stylizer.min_size,
                                        stylizer.stride, 160, thumbnail=20_000,
                                        exact_norms=n)).mean() for n in (0, EXACT_NORMS)]
    assert far[1] < 0.9 * far[0], f"thumbnail only {far[0]:.2f}/255, exact {far[1]:.2f}/255"
