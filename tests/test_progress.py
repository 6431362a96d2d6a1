"""Progress lines when the bar is off, the first line naming the hardware, and the layouts
chosen for the hardware."""

import re

import pytest
import torch

from fststyle.core.network import TransformerNet
from fststyle.core.vgg import prefers_channels_last
from fststyle.runtime.hardware import describe_cpu
from fststyle.train import main as train
from fststyle.training.progress import ProgressLines, clock

from helpers import tiny_args


def test_clock():
    assert [clock(s) for s in (0, 61, 599.6, 3725)] == ["0:00", "1:01", "10:00", "1:02:05"]


def test_train_prints_progress_lines_and_the_machine(photo_dir, style_files, tmp_path, capsys):
    train(tiny_args(photo_dir, style_files, tmp_path, "--trainer.max_steps", "5",
                    "--progress_every_n_steps", "2"))
    err = capsys.readouterr().err
    assert "fststyle.train: 5 steps, precision" in err and describe_cpu() in err
    lines = [line for line in err.splitlines() if line.startswith("step ")]
    assert [line.split()[1] for line in lines] == ["2/5", "4/5", "5/5"]
    pattern = r"step \d/5  loss [\d.e+-]+  [\d.]+ images/s  elapsed \d+:\d\d  ETA \d+:\d\d"
    assert all(re.fullmatch(pattern, line) for line in lines), lines
    assert lines[-1].endswith("ETA 0:00")


def test_one_line_per_optimiser_step_with_accumulation(photo_dir, style_files, tmp_path, capsys):
    train(tiny_args(photo_dir, style_files, tmp_path, "--trainer.max_steps", "2",
                    "--trainer.accumulate_grad_batches", "2", "--progress_every_n_steps", "1"))
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("step ")]
    assert [ln.split()[1] for ln in lines] == ["1/2", "2/2"]


def test_no_progress_lines_with_the_bar_on(photo_dir, style_files, tmp_path, capsys):
    args = tiny_args(photo_dir, style_files, tmp_path, "--trainer.max_steps", "2",
                     "--progress_every_n_steps", "1")
    args[args.index("--trainer.enable_progress_bar") + 1] = "true"
    train(args)
    assert not [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("step 1/")]


def test_bad_progress_interval_is_refused():
    with pytest.raises(ValueError, match="--progress_every_n_steps must be >= 1"):
        ProgressLines(0)


def test_describe_cpu_names_the_limits(monkeypatch):
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert describe_cpu().endswith("(limited by ONEDNN_MAX_CPU_ISA=AVX2)")


def test_layout_choice():
    assert prefers_channels_last("cuda", False) and prefers_channels_last("cpu", True)
    avx512 = torch.backends.cpu.get_cpu_capability() == "AVX512"
    assert prefers_channels_last("cpu", False) is avx512


def test_nhwc_rgb_convolutions_compute_the_nchw_result():
    """The RGB-side convs run NHWC for speed: same outputs and gradients as plain NCHW."""
    torch.manual_seed(0)
    net = TransformerNet(2, alpha=0.25, num_residual_blocks=1)
    x, style = torch.rand(2, 3, 21, 18), torch.tensor([0, 1])
    results = []
    for nhwc in (True, False):
        for layer in (net.conv1, net.out):
            layer.nhwc = nhwc
        net.zero_grad()
        y = net(x, style)
        y.square().sum().backward()
        results.append((y.detach(), net.conv1.conv.weight.grad.clone()))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=1e-5, atol=1e-6)
    # Gradients sum over every position, in an order each layout's kernel picks: held relative
    # to the gradient's scale (an AVX2 EPYC differed by 6e-5 absolute, 1% of the entries).
    nhwc_grad, nchw_grad = results[0][1], results[1][1]
    assert (nhwc_grad - nchw_grad).abs().max() <= 1e-4 * nchw_grad.abs().max()
