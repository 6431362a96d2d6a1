"""`--model.init_from` + `--model.train_only_new_styles`: a style added to a trained network
leaves the old styles bit-identical and changes only the new (gamma, beta) rows."""

import numpy as np
import pytest
import torch
from PIL import Image

from fststyle.core.model_io import load_model, save_model
from fststyle.core.network import TransformerNet
from fststyle.train import main as train
from fststyle.training.add_styles import load_base

from helpers import tiny_args

TINY_ARCH = ["--model.alpha", "0.5", "--model.num_residual_blocks", "1"]


@pytest.fixture(scope="module")
def new_style(tmp_path_factory):
    path = tmp_path_factory.mktemp("new") / "s3.png"
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 255, (8, 8, 3), np.uint8)).resize((96, 96)).save(path)
    return path


def add_style(tiny_model, photo_dir, style_files, new_style, root, only_new="true"):
    styles = f"[{style_files[0]},{style_files[1]},{new_style}]"
    return train(tiny_args(photo_dir, style_files, root, *TINY_ARCH, "--model.styles", styles,
                           "--model.init_from", str(tiny_model),
                           "--model.train_only_new_styles", only_new))


@pytest.fixture(scope="module")
def added(tiny_model, photo_dir, style_files, new_style, tmp_path_factory):
    return add_style(tiny_model, photo_dir, style_files, new_style,
                     tmp_path_factory.mktemp("added"))


def test_old_styles_are_bit_identical(tiny_model, added):
    old, new = load_model(tiny_model), load_model(added)
    assert new.style_names == old.style_names + ["s3"]
    x = torch.rand(2, 3, 37, 50)
    with torch.inference_mode():
        for i in range(old.num_styles):
            style = torch.full((2,), i)
            assert (new(x, style) - old(x, style)).abs().max().item() == 0
        assert (new(x, torch.full((2,), 2)) - old(x, torch.full((2,), 0))).abs().max() > 0


def test_only_the_new_rows_changed(tiny_model, added):
    old, new = load_model(tiny_model).state_dict(), load_model(added).state_dict()
    moved = 0
    for name, value in new.items():
        if name.endswith((".gamma", ".beta")):
            assert torch.equal(value[:2], old[name]), name
            moved += not torch.equal(value[2], old[name].mean(0))  # its initial value
        else:
            assert torch.equal(value, old[name]), name
    assert moved > 0


def test_whole_network_mode_trains_everything(tiny_model, photo_dir, style_files,
                                              new_style, tmp_path):
    path = add_style(tiny_model, photo_dir, style_files, new_style, tmp_path, only_new="false")
    old, new = load_model(tiny_model).state_dict(), load_model(path).state_dict()
    assert not torch.equal(new["conv1.conv.weight"], old["conv1.conv.weight"])
    assert load_model(path).metadata["model"]["init_from"] == str(tiny_model)


@pytest.mark.parametrize("extra, message", [
    (["--model.styles", "[{s1}]"], "must be the first entries"),
    (["--model.alpha", "1.0"], "alpha=0.5"),
    (["--model.init_from", "null"], "needs --model.init_from"),
    (["--model.styles", "[{s1},{s2}]"], "adds no style"),
])
def test_bad_init_from_options_fail_naming_them(tiny_model, photo_dir, style_files,
                                                tmp_path, extra, message):
    extra = [e.format(s1=style_files[0], s2=style_files[1]) for e in extra]
    args = tiny_args(photo_dir, style_files, tmp_path, *TINY_ARCH, "--model.init_from",
                     str(tiny_model), "--model.train_only_new_styles", "true", *extra)
    with pytest.raises(ValueError, match=message):
        train(args)


def test_a_deeper_base_gives_its_first_residual_blocks(tmp_path):
    base = TransformerNet(2, alpha=0.25, num_residual_blocks=3)
    for p in base.parameters():
        torch.nn.init.normal_(p)
    path = save_model(base, ["a", "b"], tmp_path / "deeper.safetensors")
    arch = {**{k: v for k, v in base.arch().items() if k != "num_styles"},
            "num_residual_blocks": 2}
    with pytest.raises(ValueError, match="num_residual_blocks=3 \\(got 2\\)"):
        load_base(path, ["a", "b", "c"], arch)  # not for new styles alone: frozen weights
    net = load_base(path, ["a", "b", "c"], arch, fewer_blocks=True)
    assert net.num_residual_blocks == 2 and net.style_names == ["a", "b"]
    kept, full = net.state_dict(), base.state_dict()
    assert kept.keys() == {k for k in full if not k.startswith("residuals.2.")}
    assert all(torch.equal(kept[k], full[k]) for k in kept)
    with pytest.raises(ValueError, match="num_residual_blocks=3 \\(got 4\\)"):
        load_base(path, ["a", "b"], {**arch, "num_residual_blocks": 4}, fewer_blocks=True)
    with pytest.raises(ValueError, match="alpha=0.25"):
        load_base(path, ["a", "b"], {**arch, "alpha": 0.5}, fewer_blocks=True)
