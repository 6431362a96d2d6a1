"""End-to-end runs of `python -m fststyle.train` (tiny, CPU, offline) and the module's learning."""

import csv
import os
import subprocess
import sys

import pytest
import torch

import fststyle
from fststyle.core.objective_settings import Objective
from fststyle.core.vgg import prefers_channels_last
from fststyle.train import main
from fststyle.training.module import StyleTransfer

from helpers import tiny_args


def test_acceptance_run_from_empty_dir(tmp_path, photo_dir, style_files):
    """The issue's command, verbatim, in a subprocess from an empty directory."""
    cmd = [sys.executable, "-m", "fststyle.train", "--trainer.max_steps", "3",
           "--data.image_size", "64", "--data.batch_size", "2", "--data.source", str(photo_dir),
           "--model.styles", f"[{style_files[0]},{style_files[1]}]",
           "--model.objective.vgg_weights", "random"]
    subprocess.run(cmd, cwd=tmp_path, check=True, timeout=600)
    (model_path,) = tmp_path.glob("checkpoints/*/model.safetensors")
    net = fststyle.load_model(model_path)
    assert net.style_names == ["s1", "s2"]
    x = torch.rand(1, 3, 93, 67)
    for style in (0, 1):
        y = net(x, torch.tensor([style]))
        assert y.shape == (1, 3, 93, 67)
        assert 0.0 <= y.min().item() and y.max().item() <= 1.0
    run = model_path.parent
    assert (run / "last.ckpt").is_file() and (run / "config.yaml").is_file()
    assert list((run / "samples").glob("step_000003.png"))


def read_metrics(run_dir):
    with open(run_dir / "metrics.csv") as f:
        return list(csv.DictReader(f))


def test_resume_from_last_continues_step_count(tmp_path, photo_dir, style_files):
    args = tiny_args(photo_dir, style_files, tmp_path, "--run_name", "r",
                     "--trainer.log_every_n_steps", "1")
    main(args)
    first = torch.load(tmp_path / "checkpoints/r/last.ckpt", weights_only=True)
    assert first["global_step"] == 3
    main([*args, "--trainer.max_steps", "5", "--ckpt_path", "last"])
    second = torch.load(tmp_path / "checkpoints/r/last.ckpt", weights_only=True)
    assert second["global_step"] == 5
    steps = [int(r["step"]) for r in read_metrics(tmp_path / "checkpoints/r")
             if r.get("train/loss")]
    assert steps == [0, 1, 2, 3, 4]  # logged steps continue across the resume
    assert fststyle.load_model(tmp_path / "checkpoints/r/model.safetensors").metadata[
        "global_step"] == 5


def test_logged_components_and_checkpoint_contents(tmp_path, photo_dir, style_files):
    main(tiny_args(photo_dir, style_files, tmp_path, "--run_name", "m",
                   "--trainer.log_every_n_steps", "1", "--checkpoint_every_n_steps", "2"))
    run = tmp_path / "checkpoints/m"
    keys = set(read_metrics(run)[0])
    for k in ["train/loss", "train/content", "train/style", "train/tv",
              "train/style/relu1_1", "train/style/relu4_1", "train/images_per_sec"]:
        assert k in keys, k
    assert (run / "step_000002.ckpt").is_file()
    ckpt = torch.load(run / "last.ckpt", weights_only=True)
    assert not any(k.startswith("loss_fn.vgg.") for k in ckpt["state_dict"])  # VGG left out
    assert ckpt["style_names"] == ["s1", "s2"]
    from_ckpt = fststyle.load_model(run / "last.ckpt")
    from_file = fststyle.load_model(run / "model.safetensors")
    x = torch.rand(1, 3, 21, 19)
    assert torch.equal(from_ckpt(x, torch.tensor([1])), from_file(x, torch.tensor([1])))


def test_overfit_fixed_batch_lowers_loss(style_files):
    """A few Adam steps on one fixed batch must lower the objective (with the real VGG)."""
    torch.manual_seed(0)
    module = StyleTransfer(styles=[str(f) for f in style_files],
                           objective=Objective(style_size=64), lr=1e-2, alpha=0.5,
                           num_residual_blocks=2)
    opt = torch.optim.Adam(module.net.parameters(), lr=1e-2)
    content = torch.rand(2, 3, 48, 48)
    style = torch.tensor([0, 1])
    losses = []
    for _ in range(12):
        total, _ = module.loss_fn(module.net(content, style), content, style)
        opt.zero_grad()
        total.backward()
        opt.step()
        losses.append(total.item())
    assert losses[-1] < 0.7 * losses[0], losses


@pytest.mark.parametrize("precision", ["bf16-mixed", "32-true"])
def test_configure_model_layouts_and_dtypes(style_files, precision):
    """Under bf16-mixed the frozen VGG's convs are held in bf16, but its input normalisation
    and the Gram targets stay fp32; the VGG in the hardware's layout, the network NCHW, fp32."""
    from types import SimpleNamespace

    module = StyleTransfer(styles=[str(f) for f in style_files],
                           objective=Objective(style_size=32, vgg_weights="random"), alpha=0.25,
                           num_residual_blocks=1)
    module._trainer = SimpleNamespace(  # all configure_model reads
        precision=precision, strategy=SimpleNamespace(root_device=torch.device("cpu")))
    module.configure_model()
    vgg = module.loss_fn.vgg
    conv_dtype = torch.bfloat16 if precision == "bf16-mixed" else torch.float32
    assert {p.dtype for p in vgg.convs.parameters()} == {conv_dtype}
    assert vgg.mean.dtype == vgg.std.dtype == torch.float32
    assert {b.dtype for n, b in module.loss_fn.named_buffers() if n.startswith("gram_")} == {
        torch.float32}
    nhwc = prefers_channels_last("cpu", precision == "bf16-mixed")  # the hardware's layout
    assert all(c.weight.is_contiguous(memory_format=torch.channels_last) == nhwc
               for c in vgg.convs)
    assert module.net.conv2.conv.weight.is_contiguous()  # NCHW
    assert {p.dtype for p in module.net.parameters()} == {torch.float32}


def test_train_options_reach_the_objects(tmp_path, photo_dir, style_files):
    """Every option the issue names, plus the model/loss ones, lands where it should."""
    vgg_state = tmp_path / "vgg.pth"
    from fststyle.core.vgg import VGGFeatures
    src = VGGFeatures("random", "relu5_1", seed=5)
    torch.save({f"features.{i}.{k}": v for i, c in enumerate(src.convs)
                for k, v in c.state_dict().items()}, vgg_state)
    path = main(tiny_args(
        photo_dir, style_files, tmp_path, "--run_name", "opts",
        "--trainer.max_steps", "1", "--model.objective.vgg_weights", str(vgg_state),
        "--model.objective.vgg_pooling", "avg", "--model.alpha", "0.25",
        "--model.num_residual_blocks", "1", "--model.downsamples", "3",
        "--model.edge_kernel", "5", "--model.separable_blocks", "true",
        "--model.objective.content_weight", "1.5",
        "--model.objective.style_weight", "7", "--model.objective.tv_weight", "0.5",
        "--model.objective.style_coefficients", "[1.0,2.0]", "--model.lr", "0.003",
        "--model.objective.content_layers", "{relu3_2: 1.0}", "--model.objective.style_layers",
        "{relu1_1: 0.5, relu2_1: 0.5}", "--data.streaming", "false",
        "--data.num_val_images", "2", "--trainer.precision", "32-true"))
    net = fststyle.load_model(path)
    assert net.arch() == {"num_styles": 2, "alpha": 0.25, "num_residual_blocks": 1,
                          "downsamples": 3, "edge_kernel": 5, "separable_blocks": True}
    hp = net.metadata["model"]
    objective = hp["objective"]  # recorded whole, as one group
    assert objective["content_weight"] == 1.5 and objective["style_weight"] == 7
    assert objective["style_layers"] == {"relu1_1": 0.5, "relu2_1": 0.5}
    assert objective["loss_normalization"] == "target" and hp["lr"] == 0.003
    grid = next((tmp_path / "checkpoints/opts/samples").glob("*.png"))
    from PIL import Image
    assert Image.open(grid).size == (3 * 64 + 4 * 2, 2 * 64 + 3 * 2)  # 2 photos x (1 + 2)


@pytest.mark.parametrize("extra, message", [
    (["--model.styles", "[missing.jpg]"], "missing.jpg"),
    (["--model.styles", "[]"], "--model.styles is empty"),
    (["--model.objective.style_layers", "{relu7_1: 1.0}"], "relu7_1"),
    (["--model.objective.style_weight", "-1"], "style_weight must be >= 0"),
    (["--data.source", "/nonexistent/dir/x"], "nonexistent"),
    (["--ckpt_path", "last"], "no run with a last.ckpt"),
    (["--model.no_such_option", "1"], "no_such_option"),
])
def test_bad_options_exit_nonzero_naming_them(tmp_path, photo_dir, style_files, extra, message):
    cmd = [sys.executable, "-m", "fststyle.train",
           *tiny_args(photo_dir, style_files, tmp_path), *extra]
    res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"})
    assert res.returncode != 0
    assert message in res.stderr, res.stderr[-2000:]
    assert not list(tmp_path.glob("checkpoints/*/*.ckpt"))
