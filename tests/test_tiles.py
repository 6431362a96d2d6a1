"""Photos of any size in tiles (fststyle.runtime.tiles): the rewritten graphs reproduce the
network, tiles cover the photo with weights that sum to 1, the tiled result agrees with the
whole one, only tile-sized arrays reach the network, and `stylize --tile` end to end."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from fststyle.runtime import Stylizer, style_weights
from fststyle.runtime.imagefiles import demo_photos, open_rgb
from fststyle.runtime.shipped import shipped_model
from fststyle.runtime.tiles import (
    THUMBNAIL,
    TiledSessions,
    ramp,
    starts,
    statistics_graph,
    thumbnail_size,
    tile_graph,
)
from fststyle.stylize import cli


def test_the_tile_graph_with_a_photos_own_statistics_is_the_network(tiny_onnx):
    model = onnx.load(str(tiny_onnx))
    plain, stats, tiles = (ort.InferenceSession(m.SerializeToString()) for m in
                           (model, statistics_graph(model), tile_graph(model)))
    image = np.random.default_rng(0).random((1, 3, 37, 52), np.float32)
    feed = {"image": image, "style_weights": np.array([[0.3, 0.7]], np.float32)}
    names = [o.name for o in stats.get_outputs() if o.name.startswith("stats_")]
    norms = sum(n.op_type == "InstanceNormalization" for n in model.graph.node)
    assert len(names) == 2 * norms
    given = dict(zip(names, stats.run(names, feed)))
    assert not any(n.op_type == "InstanceNormalization" for n in tile_graph(model).graph.node)
    want = plain.run(["stylized"], feed)[0]
    np.testing.assert_allclose(tiles.run(["stylized"], {**feed, **given})[0], want, atol=1e-5)
    other = {k: v * 2 + 0.1 for k, v in given.items()}  # other statistics: another output
    assert np.abs(tiles.run(["stylized"], {**feed, **other})[0] - want).max() > 1e-2


@pytest.mark.parametrize("length, tile, overlap, align", [(300, 128, 32, 4), (451, 200, 64, 8),
                                                          (1000, 512, 64, 8), (90, 128, 32, 4)])
def test_tiles_cover_the_side_aligned_with_weights_that_never_vanish(length, tile, overlap,
                                                                     align):
    bounds = starts(length, tile, overlap, align)
    assert bounds[0][0] == 0 and bounds[-1][1] == length
    assert all(s % align == 0 for s, _ in bounds)  # the stride-2 grids line up
    assert all(e - s <= tile + align for s, e in bounds)  # tile-sized, bounded memory
    assert all(b[0] < a[1] - overlap + align for a, b in zip(bounds, bounds[1:]))  # overlap
    total = np.zeros(length)
    for s, e in bounds:
        total[s:e] += ramp(length, s, e - s, overlap)
    assert total.min() > 0.5  # every pixel is covered, blended by normalised weights


def test_the_ramps_of_two_neighbours_sum_to_one_across_their_overlap():
    first, second = ramp(200, 0, 128, 32), ramp(200, 96, 104, 32)
    np.testing.assert_allclose(first[96:] + second[:32], 1.0, atol=1e-6)
    assert first[0] == 1 and second[-1] == 1  # no fade at the photo's edges


def test_the_thumbnail_is_the_photo_up_to_its_pixel_budget():
    assert thumbnail_size((2048, 1365), THUMBNAIL) == (2048, 1365)  # its own thumbnail
    assert thumbnail_size((900, 700), 10_000) == (113, 88)  # 113 = int(900 * sqrt(1e4 / 630e3))
    assert thumbnail_size((6000, 4000), THUMBNAIL) == (2121, 1414)  # 3.0 MP, aspect kept


@pytest.fixture(scope="module")
def student():
    return Stylizer(shipped_model("student"))


@pytest.mark.parametrize("strength", [1.0, 0.5])  # 0.5: the colour restoration's means too
def test_tiled_agrees_with_whole_on_a_photo_that_fits(student, strength):
    """The thumbnail is the photo itself here, so only the tiles' edges can differ."""
    photo = np.asarray(open_rgb(demo_photos("heldout")[1], 240))  # 240 x 360
    whole = student.stylize(photo, style="udnie", tile=0, strength=strength)
    tiled = student.stylize(photo, style="udnie", tile=160, strength=strength)
    assert np.abs(tiled.astype(np.float32) - whole).mean() <= 2, "mean |difference| > 2/255"


def test_colours_are_kept_tile_by_tile_as_whole(student):
    photo = np.asarray(open_rgb(demo_photos("heldout")[1], 240))
    kept = [student.stylize(photo, style="udnie", tile=tile, preserve_color=True)
            for tile in (0, 160)]
    assert np.abs(kept[0].astype(np.float32) - kept[1]).mean() <= 2


def test_only_tile_sized_arrays_reach_the_network(student, monkeypatch):
    seen = []
    real_run = TiledSessions.run
    real_stats = TiledSessions.thumbnail_statistics

    def run(self, tile, feed, min_size):
        seen.append(tile.shape[:2])
        return real_run(self, tile, feed, min_size)

    def stats(self, frame, style, min_size, thumbnail):
        seen.append(("thumbnail", thumbnail))
        return real_stats(self, frame, style, min_size, thumbnail)

    monkeypatch.setattr(TiledSessions, "run", run)
    monkeypatch.setattr(TiledSessions, "thumbnail_statistics", stats)
    photo = np.zeros((700, 900, 3), np.uint8)
    out = student.stylize(photo, style=0, tile=256)
    assert out.shape == photo.shape
    assert seen[0] == ("thumbnail", THUMBNAIL)
    assert all(max(shape) <= 256 + student.stride for shape in seen[1:]) and len(seen) > 9


def test_weights_and_mixes_go_to_the_tiles(student):
    photo = np.asarray(open_rgb(demo_photos("heldout")[0], 200))
    mix = {"udnie": 0.5, "great_wave": 0.5}
    a = student.stylize(photo, style=mix, tile=144).astype(np.float32)
    b = student.stylize(photo, style="udnie", tile=144).astype(np.float32)
    assert np.abs(a - b).mean() > 4 and style_weights(mix, student.styles).sum() == 1


def test_stylize_tile_option_end_to_end(tmp_path, tiny_model, capsys):
    photo = demo_photos("heldout")[0]
    assert cli([str(photo), "--style", "starry_night", "--tile", "192", "--max-size", "400",
                "--out", str(tmp_path / "o.jpg")]) == 0
    assert open_rgb(tmp_path / "o.jpg").size == (400, 266)  # chelsea, 451 x 300
    for args, message in [(["--tile", "100"], "--tile must be 0 (whole) or more than 128 px"),
                          (["--tile", "-1"], "--tile must be 0"),
                          (["--model", str(tiny_model), "--style", "0", "--tile", "192"],
                           "--tile needs an .onnx model")]:
        with pytest.raises(SystemExit) as stop:
            cli([str(photo), "--style", "udnie", "--out", str(tmp_path / "x.jpg"), *args])
        assert stop.value.code == 2
        assert f"fststyle.stylize: error: {message}" in capsys.readouterr().err
