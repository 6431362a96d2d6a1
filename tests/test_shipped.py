"""The models that ship inside the package (fststyle/models, fststyle.runtime.shipped): they
load, hold the 11 bundled paintings plus the identity row, give every style its own output,
match their stored reference outputs, take --strength, and take a new style without changing
the old ones. Used with no --model by stylize, Stylizer() and serve."""

import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from fststyle import stylize
from fststyle.core.images import to_tensor
from fststyle.core.model_file import read_model
from fststyle.core.model_io import load_model
from fststyle.core.quantize import psnr
from fststyle.core.torch_stylizer import load_stylizer
from fststyle.evaluation.objective import measure, objective_from_hparams, reference_hparams
from fststyle.runtime import Stylizer
from fststyle.runtime.imagefiles import BUNDLED_STYLES, IDENTITY, demo_photos, open_rgb
from fststyle.runtime.shipped import shipped_model, web_model
from fststyle.train import main as train

from helpers import load_script

ship = load_script("ship_model")
STYLES = [*BUNDLED_STYLES, IDENTITY]


@pytest.fixture(scope="module")
def shipped():
    return Stylizer()


@pytest.fixture(scope="module")
def photo():
    return np.asarray(ship.reference_photo().resize((96, 64)))  # (64, 96, 3) uint8


def test_the_shipped_files_hold_the_11_paintings_and_the_identity_row(shipped):
    assert sorted(shipped.styles) == sorted(STYLES)
    for kind in ("full", "torch", "student"):
        assert sorted(read_model(shipped_model(kind)).styles) == sorted(STYLES)
    assert web_model() == shipped_model("student")  # what serve gives with no argument
    assert shipped_model("full").stat().st_size < 5e6  # fp16 weights: a few MB
    assert shipped_model("student").stat().st_size < 1.5e6  # the slim network: 0.7 MB


@pytest.mark.parametrize("kind", ["full", "student"])
def test_every_style_gives_its_own_output(kind, photo):
    stylizer = Stylizer(shipped_model(kind))
    outputs = {s: stylizer.stylize(photo, style=s).astype(np.float32) for s in stylizer.styles}
    for i, a in enumerate(stylizer.styles):
        for b in stylizer.styles[i + 1:]:
            assert np.abs(outputs[a] - outputs[b]).mean() > 4, (kind, a, b)  # of 255


@pytest.mark.parametrize("kind", ["full", "torch", "student"])
def test_outputs_match_the_stored_references(kind):
    stylizer = load_stylizer(shipped_model(kind))
    photo = ship.reference_photo()
    folder = ship.references("student" if kind == "student" else "full")
    for style in stylizer.styles:
        want = np.asarray(open_rgb(folder / f"{style}.png"))
        got = np.asarray(stylizer.stylize(photo, style=style, max_size=ship.REFERENCE_SIZE))
        assert psnr(got / 255, want / 255) >= 40, style  # of images in [0, 1]


def test_strength_moves_from_the_photo_to_the_style(shipped):
    """The targets: the style term falls at every step of strength, and strength 0 is within
    24 dB PSNR of the photo (the model card's "Style strength" has every style and photo)."""
    photo = ship.reference_photo().resize((192, 128))
    objective = objective_from_hparams(reference_hparams({"styles": ["starry_night"]}, 128))
    content = to_tensor(photo)[None]  # (1, 3, 128, 192)
    style_terms = []
    for strength in (0, 0.25, 0.5, 0.75, 1):
        out = shipped.stylize(photo, style="starry_night", strength=strength)
        style_terms.append(measure(objective, to_tensor(out)[None], content, 0)["style"])
        if strength == 0:
            assert psnr(np.asarray(out) / 255, np.asarray(photo) / 255) >= 24
    assert all(a > b for a, b in zip(style_terms, style_terms[1:])), style_terms


def test_stylize_needs_no_model_from_any_folder(tmp_path):
    photo = tmp_path / "photo.png"
    ship.reference_photo().resize((64, 48)).save(photo)
    run = [sys.executable, "-m", "fststyle.stylize", "photo.png"]
    listed = subprocess.run([*run[:3], "--list-styles"], cwd=tmp_path, capture_output=True,
                            text=True, check=True).stdout
    assert [line.split("\t")[1] for line in listed.splitlines()] == load_model(
        shipped_model("torch")).style_names
    for extra in (["--style", "starry_night"], ["--style", "udnie", "--strength", "0.3"]):
        subprocess.run([*run, *extra, "--out", "o.jpg"], cwd=tmp_path, check=True)
        assert open_rgb(tmp_path / "o.jpg").size == (64, 48)
        (tmp_path / "o.jpg").unlink()


def test_strength_on_the_cli_is_the_identity_mix(tmp_path):
    photo = tmp_path / "photo.png"
    ship.reference_photo().resize((64, 48)).save(photo)
    stylize.main([str(photo), "--style", "udnie", "--strength", "0.4",
                  "--out", str(tmp_path / "a.png")])
    stylize.main([str(photo), "--style", "udnie=0.4,identity=0.6",
                  "--out", str(tmp_path / "b.png")])
    assert np.array_equal(np.asarray(open_rgb(tmp_path / "a.png")),
                          np.asarray(open_rgb(tmp_path / "b.png")))


def test_a_style_added_in_a_time_budget_keeps_the_shipped_styles_bit_identical(
        photo_dir, style_files, tmp_path, capsys):
    """scripts/demo.sh's training command (append a style, --trainer.max_time), tiny."""
    path = train(["--config", "configs/add_style.yaml", f"--model.styles+={style_files[0]}",
                  "--trainer.max_time", "00:00:00:01", "--trainer.max_steps", "50",
                  "--data.image_size", "64", "--data.batch_size", "1",
                  "--data.source", str(photo_dir), "--data.val_size", "64",
                  "--data.num_workers", "0", "--trainer.num_sanity_val_steps", "0",
                  "--trainer.enable_progress_bar", "false",
                  "--trainer.default_root_dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert "fststyle.train: 50 steps or a 1 s time budget" in err
    step = int(re.search(r"model: .* \(step (\d+) of 50\)", err)[1])
    assert 1 <= step < 50  # the budget, not max_steps, ended it
    base, added = load_model(shipped_model("torch")), load_model(path)
    assert added.style_names == [*base.style_names, style_files[0].stem]
    image = torch.rand(1, 3, 40, 56)
    with torch.inference_mode():
        for i in range(base.num_styles):
            old, new = torch.eye(base.num_styles)[i:i + 1], torch.eye(added.num_styles)[i:i + 1]
            assert torch.equal(base(image, old), added(image, new)), added.style_names[i]


def test_measure_strength_prints_the_model_cards_table(tmp_path, capsys):
    """scripts/measure_strength.py, small: a row per painted style, 0 ... 1 then the photo."""
    strength = load_script("measure_strength")
    result = strength.main(["--size", "64", "--json", str(tmp_path / "s.json")])
    out = capsys.readouterr().out
    assert sorted(result["style_terms"]) == sorted(BUNDLED_STYLES)
    assert all(len(row) == 6 for row in result["style_terms"].values())
    assert sorted(result["psnr_at_zero"]) == sorted(p.name for p in demo_photos("heldout"))
    assert out.count("\n| ") == 2 + len(BUNDLED_STYLES)  # header, rule, a row per style
    # Known values: the last column is the photo itself, strength 1 the plain style.
    photo = open_rgb(next(p for p in demo_photos("heldout") if p.name == result["photo"]), 64)
    objective = objective_from_hparams(reference_hparams({"styles": ["udnie"]}, 64))
    content = to_tensor(photo)[None]
    plain = Stylizer().stylize(photo, style="udnie")
    row = result["style_terms"]["udnie"]
    assert row[-1] == pytest.approx(measure(objective, content, content, 0)["style"], rel=1e-5)
    assert row[-2] == pytest.approx(measure(objective, to_tensor(plain)[None], content, 0)["style"],
                                    rel=1e-5)
