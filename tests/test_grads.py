"""grads=True: captured tensors stay in the autograd graph; each gradient pairs with its record."""

from __future__ import annotations

from typing import Any

import pytest

from anycapture import CaptureWarning, capture

torch = pytest.importorskip("torch")
from _toys import Attention, TinyViT  # noqa: E402  (after torch: a Python without it skips)


def _model() -> Any:
    torch.manual_seed(0)
    return TinyViT().eval()


def test_gradients_pair_with_their_layer(backend: str) -> None:
    """Each record's gradient equals autograd's gradient of the output w.r.t. that very tensor."""
    model = _model()
    tokens = torch.randn(2, 6, 16)
    with capture(Attention.forward, "attn", model=model, grads=True) as cap:
        logits = model(tokens)
    records = cap.select(name="attn")
    assert [r.path for r in records] == ["blocks.0.attn", "blocks.1.attn", "blocks.2.attn"]
    assert all(r.value.requires_grad for r in records)  # in the graph, not detached
    with capture(Attention.forward, "attn", values="raw") as again:  # the same forward, differentiated apart
        reference_logits = model(tokens)
    expected = torch.autograd.grad(reference_logits[:, 3].sum(), [r.value for r in again.select(name="attn")])
    assert cap.grad(records[0]) is None  # nothing before backward
    logits[:, 3].sum().backward()
    for record, reference in zip(records, expected, strict=True):
        torch.testing.assert_close(cap.grad(record), reference, rtol=0, atol=0)
    assert not torch.equal(cap.grad(records[0]), cap.grad(records[2]))
    stacked = cap.stack("attn", grad=True)
    assert stacked.shape == (3, 2, 2, 7, 7)
    torch.testing.assert_close(stacked, torch.stack(expected), rtol=0, atol=0)


def test_two_calls_of_each_layer_pair_by_call(backend: str) -> None:
    """Two forwards in one block, one backward through both: each call gets its own gradient."""
    model = _model()
    first, second = torch.randn(1, 6, 16), torch.randn(1, 6, 16)
    with capture(Attention.forward, "attn", model=model, grads=True) as cap:
        loss = model(first)[:, 0].sum() + 3 * model(second)[:, 1].sum()
    loss.backward()
    for path in ("blocks.0.attn", "blocks.2.attn"):
        calls = cap.select(path, "attn")
        assert len(calls) == 2
        grad_first, grad_second = cap.grad(calls[0]), cap.grad(calls[1])
        assert not torch.allclose(grad_first, grad_second)
    # The pairing is by record, not by reversed order: recompute the first call alone.
    with capture(Attention.forward, "attn", model=model, grads=True) as alone:
        model(first)[:, 0].sum().backward()
    torch.testing.assert_close(alone.stack("attn", grad=True), torch.stack(cap.grads("attn")[:3]), rtol=1e-6, atol=1e-7)


def test_chefer_relevance(backend: str) -> None:
    """Gradient x attention relevance (Chefer et al. 2021) from the captured pairs: rows sum to one
    more than the identity's, and the class's relevance differs between classes."""
    model = _model()
    tokens = torch.randn(1, 6, 16)

    def relevance(cls: int) -> Any:
        with capture(Attention.forward, "attn", model=model, grads=True) as cap:
            model(tokens)[0, cls].backward()
        attn, grad = cap.stack("attn"), cap.stack("attn", grad=True)  # [layers, 1, heads, 7, 7]
        result = torch.eye(7)
        for layer_attn, layer_grad in zip(attn[:, 0], grad[:, 0], strict=True):
            cam = (layer_grad * layer_attn).clamp(min=0).mean(0)
            result = result + cam @ result
        return result[0, 1:].detach()

    first, other = relevance(0), relevance(4)
    assert first.shape == (6,)
    assert torch.all(first >= 0)
    assert not torch.allclose(first, other)


def test_no_grad_and_options(backend: str) -> None:
    """Under no_grad there is no gradient to keep; conflicting options are refused clearly."""
    model = _model()
    with torch.no_grad(), capture(Attention.forward, "attn", model=model, grads=True) as cap:
        model(torch.randn(1, 6, 16))
    assert cap.grads("attn") == [None, None, None]
    with pytest.raises(ValueError, match=r"no gradient reached blocks\.0\.attn call 0"):
        cap.stack("attn", grad=True)
    with pytest.raises(TypeError, match="keeps each tensor as it is"):
        capture(Attention.forward, "attn", grads=True, values="tensor")
    with pytest.raises(TypeError, match="cannot go with sink="):
        capture(Attention.forward, "attn", grads=True, sink="somewhere")
    with pytest.warns(CaptureWarning, match="never ran"), capture(Attention.forward, "attn") as plain:
        pass
    with pytest.raises(TypeError, match="grads=True"):
        plain.grad(None)  # type: ignore[arg-type]


def test_outputs_and_gradients_unchanged(backend: str) -> None:
    """Capturing with grads=True changes neither the logits nor the parameters' gradients."""
    model = _model()
    tokens = torch.randn(2, 6, 16)
    model(tokens).sum().backward()
    reference = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    with capture(Attention.forward, "attn", model=model, grads=True):
        model(tokens).sum().backward()
    for param, expected in zip(model.parameters(), reference, strict=True):
        torch.testing.assert_close(param.grad, expected, rtol=0, atol=0)


def test_cleared_and_dropped_records_let_their_gradients_go(backend: str) -> None:
    """clear() and max_size drop the gradients with the records: a batch loop holds only the newest."""
    model = _model().train()
    with capture(Attention.forward, "attn", model=model, grads=True) as cap:
        for _ in range(4):
            model(torch.randn(2, 6, 16))[:, 0].sum().backward()
            assert [g is not None for g in cap.grads("attn")] == [True] * 3
            cap.clear()
            assert cap._gradients == {}
    with capture(Attention.forward, "attn", model=model, grads=True, max_size=2) as newest:
        for _ in range(4):
            model(torch.randn(2, 6, 16))[:, 0].sum().backward()
    records = newest.select(name="attn")
    assert len(records) == 2
    assert all(newest.grad(r) is not None for r in records)
    assert sorted(newest._gradients) == [r.order for r in records]  # nothing kept for dropped records


def test_a_record_of_another_block_is_refused(backend: str) -> None:
    """grad() of a record this block never made raises instead of returning another record's gradient."""
    model = _model()
    with capture(Attention.forward, "attn", model=model, grads=True) as one:
        model(torch.randn(1, 6, 16))[:, 0].sum().backward()
    with capture(Attention.forward, "attn", model=model, grads=True) as other:
        model(torch.randn(1, 6, 16))[:, 0].sum().backward()
    foreign = other.records[0]
    assert foreign.order == one.records[0].order
    with pytest.raises(ValueError, match=r"blocks\.0\.attn call 0 is not a record of this capture block"):
        one.grad(foreign)
    assert other.grad(foreign) is not None
