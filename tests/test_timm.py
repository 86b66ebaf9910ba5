"""capture() on timm's real Vision Transformer (runs where timm and torchvision are installed)."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from anycapture import CaptureWarning, capture, get_local, recipes

timm = pytest.importorskip("timm")
torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")


def _vit(fused: bool) -> Any:
    torch.manual_seed(0)
    model = timm.create_model("vit_small_patch16_224", pretrained=False).eval()
    for module in model.modules():
        if hasattr(module, "fused_attn"):
            module.fused_attn = fused
    return model


def test_vit_maps_equal_timms_attention_extract(backend: str) -> None:
    """The 12 captured maps equal timm.utils.AttentionExtract's, with block paths; outputs unchanged."""
    from timm.utils import AttentionExtract

    model = _vit(fused=False)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        expected_logits = model(x)
        with capture(recipes.TIMM_VIT, model=model) as cap:
            logits = model(x)
        extracted = AttentionExtract(model, method="fx")(x)
    torch.testing.assert_close(logits, expected_logits, rtol=0, atol=0)
    assert list(cap.by_path("attn")) == [f"blocks.{i}.attn" for i in range(12)]
    maps = cap.stack("attn")
    assert maps.shape == (12, 1, 6, 197, 197)
    reference = np.stack([value.numpy() for value in extracted.values()])
    np.testing.assert_allclose(maps, reference, rtol=0, atol=0)


def test_get_local_on_timm_after_import(backend: str) -> None:
    """get_local decorates timm's Attention.forward after import, in one line, and captures 12 maps."""
    from timm.models.vision_transformer import Attention

    model = _vit(fused=False)
    try:
        assert get_local("attn")(Attention.forward) is Attention.forward
        get_local.activate()
        with torch.no_grad():
            model(torch.randn(2, 3, 224, 224))
        maps = get_local.cache["Attention.forward.attn"]
        assert len(maps) == 12
        assert maps[0].shape == (2, 6, 197, 197)
    finally:
        get_local.deactivate()
        get_local.clear()


def test_fused_vit_is_reported_with_the_fix(backend: str) -> None:
    """timm's default fused attention never computes `attn`: the block says so and how to fix it."""
    model = _vit(fused=True)
    with pytest.warns(CaptureWarning, match="set fused_attn=False"), torch.no_grad():
        with capture(recipes.TIMM_VIT, model=model) as cap:
            model(torch.randn(1, 3, 224, 224))
    assert len(cap) == 0


def test_fused_vit_attention_equals_unfused(backend: str) -> None:
    """capture_attention on timm's default fused ViT gives the unfused model's maps, by block."""
    from anycapture import capture_attention

    fused, unfused = _vit(fused=True), _vit(fused=False)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        plain = fused(x)
        with capture_attention(model=fused) as cap:
            logits = fused(x)
        with capture(recipes.TIMM_VIT, model=unfused) as reference:
            unfused(x)
    assert torch.equal(logits, plain)
    assert list(cap.by_path("attn")) == [f"blocks.{i}.attn" for i in range(12)]
    np.testing.assert_allclose(cap.stack("attn"), reference.stack("attn"), rtol=0, atol=1e-6)


def test_torchvision_vit_equals_multihead_attention_weights(backend: str) -> None:
    """torchvision's vit_b_16 (random weights) gives what its MultiheadAttention returns with need_weights=True."""
    torchvision = pytest.importorskip("torchvision")
    from anycapture import capture_attention

    torch.manual_seed(0)
    model = torchvision.models.vit_b_16().eval()
    inputs: dict[str, Any] = {}
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.MultiheadAttention):
            module.register_forward_pre_hook(lambda m, args, name=name: inputs.__setitem__(name, args[0].detach()))
    x = torch.randn(1, 3, 224, 224)
    # Gradients enabled: in eval mode under no_grad, MultiheadAttention takes a fast path without the kernel.
    with capture_attention(model=model) as cap:
        model(x)
    maps = cap.by_path("attn")
    assert list(maps) == [f"encoder.layers.encoder_layer_{i}.self_attention" for i in range(12)]
    for name, (probs,) in maps.items():
        attention = model.get_submodule(name)
        _, expected = attention(*(inputs[name],) * 3, need_weights=True, average_attn_weights=False)
        np.testing.assert_allclose(probs, expected.detach().numpy(), rtol=0, atol=1e-5)


def test_demo_with_user_timm_weights(tmp_path: Any) -> None:
    """`anycapture demo --model CHECKPOINT` draws the seed's pictures from a timm ViT's fused attention."""
    pytest.importorskip("matplotlib")
    from anycapture._cli import main

    checkpoint = tmp_path / "vit.pth"
    torch.save(_vit(fused=True).state_dict(), checkpoint)
    out = tmp_path / "demo"
    assert main(["demo", "--only", "vision", "--model", str(checkpoint), "--out", str(out)]) == 0
    assert (out / "vit_rollout.png").read_bytes()[:4] == b"\x89PNG"
    assert np.load(out / "vit_attention.npy").shape == (12, 6, 197, 197)


def test_demo_draws_the_centre_crop_the_model_saw(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 600 x 512 photo given with --image is drawn as timm's centre crop, not squashed under the 14 x 14 grid."""
    pytest.importorskip("matplotlib")
    image_module = pytest.importorskip("PIL.Image")
    from anycapture import viz
    from anycapture._cli import main

    checkpoint = tmp_path / "vit.pth"
    torch.save(_vit(fused=True).state_dict(), checkpoint)
    pixels = np.zeros((600, 512, 3), dtype=np.uint8)
    pixels[:40, :, 0] = 255  # a red band at the top, which the centre crop cuts off
    photo = tmp_path / "photo.png"
    image_module.fromarray(pixels).save(photo)
    drawn = []
    real = viz.grid_to_grid
    monkeypatch.setattr(viz, "grid_to_grid", lambda attn, image, **kw: drawn.append(image) or real(attn, image, **kw))
    out = tmp_path / "demo"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert (
            main(["demo", "--only", "vision", "--model", str(checkpoint), "--image", str(photo), "--out", str(out)])
            == 0
        )
    assert not [w for w in caught if "patch grid over an image" in str(w.message)]
    assert drawn[0].shape == (224, 224, 3)
    assert drawn[0][:5, :, 0].max() < 0.1  # the band is not in what the model saw, so not in the picture


def test_demo_finds_unfused_attention_and_names_what_it_cannot_draw(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With timm's fused attention off (TIMM_FUSED_ATTN=0), the demo captures the `attn` variable instead;
    a model whose maps are not over a ViT patch grid gives the demo's clean error, not a traceback."""
    pytest.importorskip("matplotlib")
    from anycapture import _demo
    from anycapture._cli import main

    checkpoint = tmp_path / "vit.pth"
    torch.save(_vit(fused=True).state_dict(), checkpoint)
    real = timm.create_model

    def unfused(*args: Any, **kwargs: Any) -> Any:
        model = real(*args, **kwargs)
        for module in model.modules():
            if hasattr(module, "fused_attn"):
                module.fused_attn = False
        return model

    monkeypatch.setattr(timm, "create_model", unfused)
    out = tmp_path / "demo"
    assert main(["demo", "--only", "vision", "--model", str(checkpoint), "--out", str(out)]) == 0
    assert np.load(out / "vit_attention.npy").shape == (12, 6, 197, 197)
    monkeypatch.setattr(_demo, "vision_pictures", lambda *args: pytest.fail("must not draw"))
    with pytest.raises(_demo.DemoError, match=r"not \[heads, tokens, tokens\] over 1 prefix token\(s\) and a 0x0"):
        monkeypatch.setattr(timm, "create_model", lambda *a, **k: _without_grid(unfused(*a, **k)))
        model = _demo.load_timm(str(checkpoint), "vit_small_patch16_224", lambda line: None)
        _demo.timm_part(tmp_path / "again", model, "vit_small_patch16_224", None, lambda line: None, [])


def _without_grid(model: Any) -> Any:
    del model.patch_embed.grid_size  # as a model without a ViT patch grid
    return model


def test_edit_zeroes_one_head_of_timm_attention(backend: str) -> None:
    """edit() on timm's real Attention.forward: zeroing head 2's probabilities in blocks.3 changes the
    logits; the identity edit changes nothing; every-assignment capture sees all four `attn` values."""
    from timm.models.vision_transformer import Attention

    import anycapture

    if backend != "bytecode":
        pytest.skip("edit needs the bytecode backend")
    model = _vit(fused=False)
    x = torch.randn(1, 3, 224, 224)
    softmax = next(s.position for s in anycapture.assignments(Attention.forward, "attn") if "softmax" in s.source)

    def zero_head(attn: Any) -> Any:
        attn = attn.clone()
        attn[:, 2] = 0
        return attn

    with torch.no_grad():
        reference = model(x)
        with anycapture.edit(Attention.forward, "attn", lambda a: a, at=softmax):
            same = model(x)
        with (
            anycapture.edit(
                Attention.forward, "attn", zero_head, at=softmax, model=model, path="blocks.3.attn"
            ) as done,
            capture(Attention.forward, "attn", when="each", model=model, values="tensor") as each,
        ):
            edited = model(x)
    torch.testing.assert_close(same, reference, rtol=0, atol=0)
    assert (done.applied, done.skipped) == (1, 11)
    assert not torch.allclose(edited, reference)
    block3 = [r for r in each.records if r.path == "blocks.3.attn"]
    assert [r.site for r in block3] == [0, 1, 2, 3]
    probabilities = block3[2].value
    assert torch.count_nonzero(probabilities[:, 2]) == 0
    torch.testing.assert_close(probabilities[:, 0].sum(-1), torch.ones(1, 197))
    raw_scores = block3[0].value
    assert not torch.allclose(raw_scores.softmax(-1)[:, 0], raw_scores[:, 0])  # the raw scores, not probabilities


def test_edit_vit_head_example() -> None:
    """examples/edit_vit_head.py zeroes one head of one timm block: logits change, then come back."""
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve().parents[1] / "examples" / "edit_vit_head.py")],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    assert "zeroed in 1 call(s); 11 other block(s) untouched" in out.stdout
    change = float(out.stdout.split("largest change in the logits: ")[1].split()[0])
    assert change > 0
    assert "after the block, the model is back: True" in out.stdout


def _benchmark(script: str, *args: str, timeout: int) -> str:
    """Run ``benchmarks/<script>`` with ``args``; its standard output (it must exit 0)."""
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, str(root / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=root,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_bench_fixed_checks_its_rows() -> None:
    """benchmarks/bench_fixed.py runs: every row's maps equal the floor's, 12 per forward in every batch."""
    stdout = _benchmark("bench_fixed.py", "--rounds", "2", "--forwards", "2", timeout=600)
    rows = [line for line in stdout.splitlines() if line.startswith("| ") and not line.startswith("| way |")]
    assert len(rows) == 8, stdout  # every way but the reference
    assert "one `capture(recipes.TIMM_VIT, model=m, values='raw')` block per forward" in stdout


def test_bench_block_phases_runs() -> None:
    """benchmarks/bench_block_phases.py runs, times each phase and sets a block per forward beside hooks
    registered and removed around each forward (it checks 12 maps per block and per hooked forward itself)."""
    stdout = _benchmark("bench_block_phases.py", "--blocks", "20", timeout=300)
    rows = [line.split("|")[1].strip() for line in stdout.splitlines() if line.startswith("| ")]
    assert rows[:6] == ["phase", "make", "enter", "exit", "read", "**all but the forward**"], stdout
    assert rows[6:8] == ["way", "hooks around each forward"], stdout
    assert len(rows) == 9, stdout
    assert rows[8].startswith("block per forward ("), stdout
