"""`python -m fststyle.evaluate`: the report's files and keys, numbers that add up, the
training-photo warning, and the same network scored alike as .safetensors, .ckpt and .onnx."""

import json
import shutil
import statistics

import pytest
from PIL import Image

from fststyle import evaluate
from fststyle.evaluation.report import TILE
from fststyle.runtime.imagefiles import demo_photos

from helpers import tiny_args

TERMS = {"total", "content", "style", "tv"}


def assert_terms_add_up(terms: dict, style_layers: dict) -> None:
    """total = content + style + tv, and style = the sum of its per-layer terms."""
    assert terms.keys() == TERMS | {f"style/{n}" for n in style_layers}
    assert terms["total"] == pytest.approx(terms["content"] + terms["style"] + terms["tv"],
                                           rel=1e-5)
    assert terms["style"] == pytest.approx(sum(terms[f"style/{n}"] for n in style_layers),
                                           rel=1e-5)


@pytest.fixture(scope="module")
def models(tmp_path_factory, photo_dir, style_files):
    """One tiny trained 2-style network (random VGG) as .safetensors, .ckpt and .onnx."""
    from fststyle.export import main as export
    from fststyle.train import main as train

    root = tmp_path_factory.mktemp("eval_model")
    path = train(tiny_args(photo_dir, style_files, root, "--run_name", "e",
                           "--model.alpha", "0.5", "--model.num_residual_blocks", "1"))
    onnx = export([str(path), "--out", str(root / "e.onnx")])
    return {"safetensors": path, "ckpt": path.parent / "last.ckpt", "onnx": onnx}


@pytest.fixture(scope="module")
def contents(tmp_path_factory):
    """Two held-out photos and one bundled training photo (which must be warned about)."""
    d = tmp_path_factory.mktemp("contents")
    for f in demo_photos("heldout")[:2]:
        shutil.copy(f, d / f.name)
    shutil.copy(demo_photos("train")[0], d / "z_renamed.jpg")  # sorted last
    return d


@pytest.fixture(scope="module")
def report(models, contents, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    run = models["safetensors"].parent
    evaluate.main(["--model", str(models["safetensors"]), "--content", str(contents),
                   "--size", "32", "--teacher-steps", "3", "--out", str(out), "--run", str(run)])
    return out


def test_report_files_and_documented_keys(report, models):
    data = json.loads((report / "report.json").read_text())
    assert {"model", "size", "center_crop", "teacher_steps", "device", "objective", "styles",
            "median_ratio", "in_training_source"} <= data.keys()
    assert data["objective"]["vgg_weights"] == "random" and data["teacher_steps"] == 3
    assert list(data["styles"]) == ["s1", "s2"]
    for style in data["styles"].values():
        assert len(style["images"]) == 3
        for r in style["images"]:
            assert {"file", "network", "teacher", "content", "ratio", "network_ms",
                    "teacher_ms"} <= r.keys()
            for who in ("network", "teacher", "content"):
                assert_terms_add_up(r[who], data["objective"]["style_layers"])
            assert r["content"]["content"] == 0  # the do-nothing baseline keeps the content
            assert r["network_ms"] > 0 and r["teacher_ms"] > 0
        assert style["median"].keys() == {"network", "teacher", "content", "ratio",
                                          "network_ms", "teacher_ms"}
    md = (report / "report.md").read_text()
    assert "## s1" in md and "## s2" in md and md.count("| **median** |") == 2
    assert md.count("| **all** |") == 1
    grid = Image.open(report / "report_grid.jpg")
    assert grid.format == "JPEG" and grid.height == 24 + 3 * (TILE + 4)
    run = models["safetensors"].parent / "artifacts"
    assert {p.name for p in run.iterdir()} >= {"report.json", "report.md", "report_grid.jpg"}


def test_ratio_recomputed_from_the_json(report):
    data = json.loads((report / "report.json").read_text())
    ratios = []
    for style in data["styles"].values():
        own = [r["network"]["total"] / r["teacher"]["total"] for r in style["images"]]
        assert [r["ratio"] for r in style["images"]] == pytest.approx(own)
        assert style["median"]["ratio"] == pytest.approx(statistics.median(own))
        assert style["median"]["teacher"] == pytest.approx(
            statistics.median(r["teacher"]["total"] for r in style["images"]))
        ratios += own
    assert data["median_ratio"] == pytest.approx(statistics.median(ratios))
    md = (report / "report.md").read_text()
    assert f"pairs: {data['median_ratio']:.2f}**" in md


def test_training_photo_is_found_by_content(report, contents):
    data = json.loads((report / "report.json").read_text())
    assert data["in_training_source"] == [str(contents / "z_renamed.jpg")]


@pytest.mark.parametrize("fmt", ["ckpt", "onnx"])
def test_every_model_format_scores_the_same_network(fmt, models, contents, report, tmp_path,
                                                   style_files, capsys):
    """The other formats, a style subset, --center-crop, --max-images, --style-files and
    --train-source; the network's scores match the .safetensors run's."""
    train = tmp_path / "train"
    train.mkdir()
    heldout = sorted(contents.iterdir())[0]
    shutil.copy(heldout, train / "renamed.png")  # same bytes under another name
    data = evaluate.main(["--model", str(models[fmt]), "--content", str(contents), "--size",
                          "32", "--teacher-steps", "2", "--styles", "s2", "--max-images", "1",
                          "--center-crop", "--train-source", str(train), "--style-files",
                          f"{style_files[0]},{style_files[1]}", "--out", str(tmp_path / "r")])
    assert list(data["styles"]) == ["s2"] and data["center_crop"]
    assert data["in_training_source"] == [str(heldout)]
    assert str(heldout) in capsys.readouterr().err  # the warning names the file
    grid = Image.open(tmp_path / "r" / "report_grid.jpg")
    assert grid.size == (3 * (TILE + 4) + 4, 24 + TILE + 4)  # square tiles
    if fmt == "onnx":  # uncropped, it must score like the .safetensors run
        again = evaluate.main(["--model", str(models[fmt]), "--content", str(contents),
                               "--size", "32", "--teacher-steps", "1", "--styles", "s2",
                               "--max-images", "1", "--out", str(tmp_path / "u")])
        first = json.loads((report / "report.json").read_text())["styles"]["s2"]["images"][0]
        assert again["styles"]["s2"]["images"][0]["network"]["total"] == pytest.approx(
            first["network"]["total"], rel=1e-3)


def resave(model, path, **weights):
    """The same network saved again with other training loss weights in its metadata."""
    from fststyle.core.model_io import load_model, save_model

    net = load_model(model)
    meta = dict(net.metadata)
    meta["model"] = {**meta["model"], "objective": {**meta["model"]["objective"], **weights}}
    return save_model(net, net.style_names, path, extra=meta)


def test_reference_objective_ignores_the_training_weights(models, contents, tmp_path):
    """One network saved twice with different loss weights: the reference objective scores
    both alike (its per-layer terms adding up), the model's own objective does not."""
    paths = [resave(models["safetensors"], tmp_path / f"m{i}.safetensors",
                    content_weight=w, style_weight=10 * w) for i, w in enumerate((1.0, 7.0))]
    reports = {}
    for kind in ("reference", "model"):
        for i, path in enumerate(paths):
            reports[kind, i] = evaluate.main(
                ["--model", str(path), "--content", str(contents), "--size", "32",
                 "--teacher-steps", "2", "--max-images", "1", "--objective", kind,
                 "--out", str(tmp_path / f"{kind}{i}")])
    pair = lambda r: r["styles"]["s1"]["images"][0]  # noqa: E731
    ref0, ref1 = pair(reports["reference", 0]), pair(reports["reference", 1])
    for who in ("network", "teacher", "content"):
        assert ref0[who] == ref1[who]
        assert_terms_add_up(ref0[who], reports["reference", 0]["objective"]["style_layers"])
    assert reports["reference", 0]["objective"]["vgg_weights"] == "caffe"  # not the model's
    assert reports["reference", 0]["objective_kind"] == "reference"
    own0, own1 = pair(reports["model", 0]), pair(reports["model", 1])
    assert own1["network"]["total"] != pytest.approx(own0["network"]["total"], rel=1e-3)
    layers = reports["reference", 0]["style_layers"]
    assert set(layers) == {"network", "teacher"} and len(layers["network"]) == 5
    md = (tmp_path / "reference0" / "report.md").read_text()
    assert "The reference objective" in md and "| relu1_1 |" in md


@pytest.mark.parametrize("extra, message", [
    (["--styles", "s9"], "--styles: unknown ['s9'] (available: s1, s2)"),
    (["--run", "no/such/run"], "--run: no run folder at no/such/run"),
    (["--content", "no/such/dir"], "--content: no folder at no/such/dir"),
    (["--train-source", "nowhere"], "--train-source: no folder at nowhere"),
    (["--teacher-steps", "0"], "--teacher-steps >= 1"),
    (["--style-files", "a.png"], "--style-files: 1 file(s) for 2 styles"),
    (["--teacher-cache", __file__], "is a file, not a folder"),
])
def test_errors_name_the_option(models, tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit) as e:
        evaluate.cli(["--model", str(models["safetensors"]), "--out", str(tmp_path), *extra])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("fststyle.evaluate: error: ") and message in err, err
    assert not (tmp_path / "report.json").exists()


def test_teacher_cache_is_reused_and_survives_a_corrupt_file(models, contents, tmp_path):
    cache = tmp_path / "teacher"
    argv = ["--model", str(models["safetensors"]), "--content", str(contents), "--size", "32",
            "--teacher-steps", "2", "--max-images", "1", "--styles", "s1",
            "--teacher-cache", str(cache)]
    first = evaluate.main([*argv, "--out", str(tmp_path / "a")])
    (saved,) = cache.glob("*.pt")
    again = evaluate.main([*argv, "--out", str(tmp_path / "b")])
    pair = lambda r: r["styles"]["s1"]["images"][0]  # noqa: E731
    assert pair(again)["teacher"] == pair(first)["teacher"]
    assert pair(again)["teacher_ms"] == pair(first)["teacher_ms"]  # read, not rerun
    saved.write_bytes(b"not a torch file")
    third = evaluate.main([*argv, "--out", str(tmp_path / "c")])
    assert pair(third)["teacher"] == pytest.approx(pair(first)["teacher"], rel=1e-6)
    assert pair(third)["teacher_ms"] != pair(first)["teacher_ms"]  # recomputed
    assert saved.read_bytes() != b"not a torch file"  # and stored again


def test_temporal_and_video_flicker_are_reported(models, contents, clips, tmp_path):
    out = tmp_path / "flicker"
    report = evaluate.main(["--model", str(models["onnx"]), "--content", str(contents),
                            "--size", "32", "--teacher-steps", "1", "--max-images", "1",
                            "--temporal", "--video", str(clips["mp4"]), "--max-frames", "5",
                            "--out", str(out)])
    t = report["temporal"]
    assert t["clips"] == 3 and t["size"] == 32 and set(t["styles"]) == {"s1", "s2"}
    for scores in t["styles"].values():
        # A tiny net is far from stable: it scores above its own floor and the input's error.
        assert 0 < scores["floor"] < scores["network"] and scores["network"] > t["input"] > 0
    v = report["video"]
    assert v["frames"] == 5 and v["file"] == str(clips["mp4"]) and v["input"] > 0
    assert all(d > 0 for d in v["styles"].values())
    saved = json.loads((out / "report.json").read_text())
    assert saved["temporal"] == t and saved["video"] == v
    md = (out / "report.md").read_text()
    assert "## Flicker: warping error" in md and "frame-to-frame difference" in md


@pytest.mark.parametrize("extra, message", [
    (["--video", "no/such.mp4"], "--video: no file at no/such.mp4"),
    (["--max-frames", "1"], "--max-frames must be >= 2"),
])
def test_flicker_option_errors(models, tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit) as e:
        evaluate.cli(["--model", str(models["onnx"]), "--out", str(tmp_path), *extra])
    assert e.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "report.json").exists()


def test_video_without_a_video_stream_is_one_line(models, clips, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        evaluate.cli(["--model", str(models["onnx"]), "--out", str(tmp_path), "--max-images",
                      "1", "--teacher-steps", "1", "--size", "32",
                      "--video", str(clips["audio_only"])])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and "sound.mp4" in err, err
    assert not (tmp_path / "report.json").exists()
