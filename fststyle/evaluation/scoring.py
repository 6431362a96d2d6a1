"""Scoring a network against its teacher: the network's outputs (timed), the teacher's
(fststyle.evaluation.gatys, cached by what it depends on), and the objective's terms of both and
of the content image; the medians; which content photos the model may have trained on."""

import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from fststyle.core.images import to_pil, to_tensor
from fststyle.evaluation.gatys import optimise, quantize
from fststyle.evaluation.objective import measure
from fststyle.runtime.atomic import atomic_path
from fststyle.runtime.imagefiles import IDENTITY, demo_photos, file_digest, list_images

WARMUP = 3  # untimed network calls first: the first few pay for fresh memory pages
REPEATS = 3  # timed calls per (image, style), the median reported: machines are shared


def training_files(model: Path, extra: list[Path]) -> list[Path]:
    """Photos the model may have trained on: the bundled training photos, the folder in the
    run's config.yaml beside the model (when it is a local folder) and --train-source."""
    import yaml

    files, config = list(demo_photos("train")), model.parent / "config.yaml"
    source = ((yaml.safe_load(config.read_text()) or {}).get("data") or {}).get("source") \
        if config.is_file() else None
    folders = [*extra, *([Path(source)] if source and Path(source).is_dir() else [])]
    for folder in folders:
        files += list_images(folder)
    return files


def in_training_source(contents: list[Path], train: list[Path]) -> list[str]:
    """Content files whose bytes equal a training file's (sizes first: hashing is costly)."""
    sizes = {f.stat().st_size for f in contents}
    seen = {file_digest(f) for f in train if f.stat().st_size in sizes}
    return [str(f) for f in contents if file_digest(f) in seen]


def pick_styles(wanted: list[str] | None, network: list[str], objective: list[str]) -> list[str]:
    if network != objective:
        raise ValueError(f"--model: the network's styles {network} differ from its recorded "
                         f"training styles {objective}")
    # The identity row (--strength's photo end) has no painting: nothing to score it against.
    painted = [s for s in network if s != IDENTITY]
    unknown = [s for s in wanted or [] if s not in painted]
    if unknown:
        raise ValueError(f"--styles: unknown {unknown} (available: {', '.join(painted)})")
    return wanted or painted


def run_network(stylizer, contents: list, styles: list[str]) -> dict:
    """{(image index, style): ((1, 3, H, W) output, ms)}. All network calls come before any
    teacher run, whose large frees would make the next call pay for fresh memory pages again;
    ms is the median of REPEATS calls (PIL in, PIL out), after WARMUP untimed ones."""
    for _ in range(WARMUP):
        stylizer.stylize(to_pil(contents[0][1][0]), style=styles[0])
    outputs = {}
    for i, (_, content) in enumerate(contents):
        photo = to_pil(content[0])
        for style in styles:
            times = []
            for _ in range(REPEATS):
                start = time.perf_counter()
                stylized = stylizer.stylize(photo, style=style)
                times.append(1000 * (time.perf_counter() - start))
            outputs[i, style] = (to_tensor(stylized)[None].to(content.device),
                                 statistics.median(times))
    return outputs


def teacher_key(objective, content: torch.Tensor, index: int, steps: int) -> str:
    """What the teacher's result depends on: the objective's weights and its style targets
    (which fix the style image, its size and the VGG), the content pixels and the steps."""
    h = hashlib.sha256(json.dumps({"content": objective.content_layers,
                                   "style": objective.style_layers, "steps": steps,
                                   "weights": [objective.content_weight, objective.style_weight,
                                               objective.tv_weight, objective.loss_normalization,
                                               float(objective.style_coefficients[index])]},
                                  sort_keys=True).encode())
    for name in objective.style_layers:
        h.update(objective.target_gram(name, torch.tensor([index])).cpu().numpy().tobytes())
    h.update(content.cpu().numpy().tobytes())
    return h.hexdigest()[:32]


def run_teacher(objective, content: torch.Tensor, index: int, steps: int,
                cache: Path | None) -> tuple[torch.Tensor, float]:
    """The teacher's (1, 3, H, W) 8-bit result and its ms, from `cache` when it holds them."""
    path = cache / f"{teacher_key(objective, content, index, steps)}.pt" if cache else None
    if path is not None and path.is_file():
        try:
            saved = torch.load(path, weights_only=True)
            return saved["image"].to(content.device).float() / 255, saved["ms"]
        except Exception:  # a truncated or foreign file: run the teacher and overwrite it
            pass
    start = time.perf_counter()
    teacher = quantize(optimise(objective, content, index, steps))
    ms = 1000 * (time.perf_counter() - start)
    if path is not None:
        with atomic_path(path) as tmp:
            torch.save({"image": teacher.mul(255).round().byte().cpu(), "ms": ms}, tmp)
    return teacher, ms


def score(objective, content: torch.Tensor, index: int, network: torch.Tensor,
          network_ms: float, steps: int, cache: Path | None = None) -> tuple[dict, torch.Tensor]:
    """One (content, style) pair -> (record, teacher image); runs the teacher (or reads it
    from `cache`)."""
    teacher, teacher_ms = run_teacher(objective, content, index, steps, cache)
    record = {"network": measure(objective, network, content, index),
              "teacher": measure(objective, teacher, content, index),
              "content": measure(objective, content, content, index),
              "network_ms": network_ms, "teacher_ms": teacher_ms}
    record["ratio"] = record["network"]["total"] / record["teacher"]["total"]
    return record, teacher


def medians(images: list[dict]) -> dict[str, float]:
    med = lambda f: statistics.median(f(r) for r in images)  # noqa: E731
    return {**{k: med(lambda r, k=k: r[k]["total"]) for k in ("network", "teacher", "content")},
            **{k: med(lambda r, k=k: r[k]) for k in ("ratio", "network_ms", "teacher_ms")}}


def layer_medians(records: dict[str, list[dict]], layers: list[str]) -> dict:
    """{network, teacher}.{layer}: the median weighted style term of each layer over every
    (style, image) pair."""
    pairs = [r for rs in records.values() for r in rs]
    return {who: {n: statistics.median(r[who][f"style/{n}"] for r in pairs) for n in layers}
            for who in ("network", "teacher")}


def evaluate_pairs(stylizer, objective, styles: list[str], contents: list, steps: int,
                   cache: Path | None = None) -> tuple[dict, list]:
    """Score every (content, style) pair; returns ({style: [records]}, grid rows)."""
    outputs = run_network(stylizer, contents, styles)
    records, rows = {s: [] for s in styles}, []
    bar = tqdm(total=len(contents) * len(styles), unit="pair", file=sys.stderr)
    for i, (path, content) in enumerate(contents):
        row = [content[0].cpu()]
        for style in styles:
            network, ms = outputs[i, style]
            record, teacher = score(objective, content, stylizer.styles.index(style), network,
                                    ms, steps, cache)
            records[style].append({"file": str(path), **record})
            row += [teacher[0].cpu(), network[0].cpu()]
            bar.update()
        rows.append(row)
    bar.close()
    return records, rows
