"""The objective as one config group (fststyle.core.objective_settings): --print_config shows it
whole, configs/demo.yaml spells out its defaults, and a fine-tune or distillation takes its base
model's recorded objective, refusing a value that differs with one line (exit 2)."""

import dataclasses
import subprocess
import sys

import pytest
import yaml

from fststyle.core.model_io import load_model, save_model
from fststyle.core.objective_settings import (
    DEFAULTS,
    FIELDS,
    Objective,
    recorded_objective,
    resolve_objective,
)
from fststyle.train import main as train

from helpers import tiny_args


def printed_config(capsys, *args) -> dict:
    with pytest.raises(SystemExit) as stop:
        train([*args, "--print_config"])
    assert stop.value.code in (0, None)
    return yaml.safe_load(capsys.readouterr().out)


def test_print_config_shows_the_objective_as_one_group(capsys):
    model = printed_config(capsys)["model"]
    assert list(model["objective"]) == list(FIELDS)
    assert not set(FIELDS) & set(model)  # no objective setting outside the group


def test_the_demo_config_is_the_no_argument_defaults(capsys):
    default, demo = printed_config(capsys), printed_config(capsys, "--config", "configs/demo.yaml")
    for config in (default, demo):
        config["model"]["objective"] = resolve_objective(Objective(**config["model"]["objective"]))
        config.pop("config", None)
    assert demo == default
    assert demo["model"]["objective"] == dataclasses.asdict(DEFAULTS)


@pytest.fixture(scope="module")
def base(tmp_path_factory, photo_dir, style_files):
    """A 2-step model trained with a non-default objective."""
    root = tmp_path_factory.mktemp("base")
    return train(tiny_args(photo_dir, style_files, root, "--run_name", "base",
                           "--trainer.max_steps", "2", "--model.objective.style_weight", "7",
                           "--model.objective.style_layers", "{relu1_1: 1.0}"))


def test_a_fine_tune_with_no_objective_given_uses_the_bases(base, photo_dir, style_files,
                                                            tmp_path):
    """add_style's path: the base's style_weight and layers, not the defaults."""
    path = train(tiny_args(photo_dir, style_files, tmp_path, "--run_name", "added",
                           "--trainer.max_steps", "1", "--model.init_from", str(base),
                           "--model.train_only_new_styles", "true", "--model.styles",
                           f"[{style_files[0]},{style_files[1]},identity]"))
    recorded = load_model(path).metadata["model"]["objective"]
    assert recorded == recorded_objective(load_model(base).metadata["model"])
    assert recorded["style_weight"] == 7 and recorded["style_layers"] == {"relu1_1": 1.0}


def test_a_differing_objective_value_exits_2_with_one_line(base, style_files, photo_dir,
                                                           tmp_path):
    """The acceptance command: configs/add_style.yaml on another base, another style_weight."""
    run = subprocess.run(
        [sys.executable, "-m", "fststyle.train", "--config", "configs/add_style.yaml",
         "--model.init_from", str(base), "--model.objective.style_weight", "5",
         "--model.styles", f"[{style_files[0]},{style_files[1]},identity]",
         "--data.source", str(photo_dir), "--trainer.default_root_dir", str(tmp_path)],
        capture_output=True, text=True)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert lines[-1] == (f"fststyle.train: error: --model.objective.style_weight 5.0 differs "
                         f"from {base}'s 7.0: a fine-tune or distillation keeps its base "
                         "model's objective (leave the option out to use it)")
    assert not (tmp_path / "checkpoints").exists()  # refused before any training


def test_a_distillation_takes_the_teachers_objective(base):
    settings = resolve_objective(Objective(vgg_weights="random"), base)
    assert settings["style_weight"] == 7 and settings["vgg_weights"] == "random"
    with pytest.raises(ValueError, match="--model.objective.style_size 128 differs from"):
        resolve_objective(Objective(style_size=128), base)


def test_files_from_before_the_group_are_read_from_their_flat_settings(base, tmp_path):
    net = load_model(base)
    meta = dict(net.metadata)
    flat = {k: v for k, v in meta["model"].pop("objective").items() if k != "identity_weight"}
    meta["model"] = {**meta["model"], **flat}
    old = save_model(net, net.style_names, tmp_path / "old.safetensors", extra=meta)
    settings = resolve_objective(Objective(), old, num_styles=3)
    assert settings["style_weight"] == 7
    assert settings["identity_weight"] == DEFAULTS.identity_weight  # not recorded then


def test_a_bases_style_coefficients_gain_one_per_added_style(base, tmp_path):
    net = load_model(base)
    meta = dict(net.metadata)
    meta["model"] = {**meta["model"], "objective": {**meta["model"]["objective"],
                                                    "style_coefficients": [2.0, 0.5]}}
    weighted = save_model(net, net.style_names, tmp_path / "w.safetensors", extra=meta)
    settings = resolve_objective(Objective(), weighted, num_styles=3)
    assert settings["style_coefficients"] == [2.0, 0.5, 1.0]
