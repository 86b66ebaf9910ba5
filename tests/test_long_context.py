"""capture_attention at long context: query rows, chunks, generate(), packed heads, fully masked rows."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from anycapture import CaptureWarning, capture_attention, generation_map, rowwise
from anycapture._attention import attention_probabilities

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")
F = torch.nn.functional
KEY = "scaled_dot_product_attention.attn"


def _pair(config: Any, cls: str) -> tuple[Any, Any]:
    """The same random-weight model twice: eager attention (the reference) and sdpa (captured)."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    eager = getattr(transformers, cls)(config).eval()
    eager.set_attn_implementation("eager")
    sdpa = copy.deepcopy(eager)
    sdpa.set_attn_implementation("sdpa")
    return eager, sdpa


def _llama() -> tuple[Any, Any]:
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(
        vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64,
    )  # fmt: skip
    return _pair(config, "LlamaForCausalLM")


def _batch(padding: str | None, length: int = 9) -> dict[str, Any]:
    """Two sequences; the second padded on the left or right by 3 tokens (or not at all)."""
    torch.manual_seed(1)
    ids = torch.randint(1, 100, (2, length))
    mask = torch.ones(2, length, dtype=torch.long)
    if padding == "left":
        mask[1, :3] = 0
    elif padding == "right":
        mask[1, -3:] = 0
    return {"input_ids": ids, "attention_mask": mask}


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record the keyword arguments of every kernel call (installed under capture_attention's wrapper)."""
    calls: list[dict[str, Any]] = []
    original = F.scaled_dot_product_attention

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(F, "scaled_dot_product_attention", spy)
    return calls


def _check_rows(eager: Any, sdpa: Any, batch: dict[str, Any], queries: Any, rows: list[int]) -> Any:
    """Capture ``queries`` on the sdpa model; compare with the same rows of eager output_attentions
    where the query token is real (a padding token's row is the kernel's zeros, eager's uniform)."""
    with torch.no_grad():
        reference = eager(**batch, output_attentions=True).attentions
        plain = sdpa(**batch).logits
        with capture_attention(model=sdpa, values="tensor", queries=queries) as cap:
            logits = sdpa(**batch).logits
    assert torch.equal(logits, plain)
    maps = cap.by_path("attn")
    assert len(maps) == len(reference)
    real = batch["attention_mask"].bool()
    for (got,), expected in zip(maps.values(), reference, strict=True):
        assert got.shape == (*expected.shape[:2], len(rows), expected.shape[-1])
        for b in range(got.shape[0]):
            keep = [i for i, row in enumerate(rows) if real[b, row]]
            torch.testing.assert_close(got[b, :, keep], expected[b, :, [rows[i] for i in keep]], rtol=1e-5, atol=2e-6)
    return cap


@pytest.mark.parametrize("padding", ["left", "right", None])
@pytest.mark.parametrize(
    ("queries", "rows"), [(-1, [8]), (slice(1, None, 3), [1, 4, 7]), ([0, 5, -2], [0, 5, 7]), (None, list(range(9)))]
)
def test_llama_grouped_query_rows_equal_eager(padding: str | None, queries: Any, rows: list[int]) -> None:
    """Tiny Llama (4 query heads, 2 key heads): queries= rows equal eager output_attentions rows, padded or not."""
    eager, sdpa = _llama()
    _check_rows(eager, sdpa, _batch(padding), queries, rows)


def test_enable_gqa_kernel_call_with_padding_equals_eager(monkeypatch: pytest.MonkeyPatch) -> None:
    """With transformers told to pass enable_gqa=True to the kernel (and a padding mask), rows equal eager."""
    monkeypatch.setenv("TRANSFORMERS_SDPA_FORCE_GQA", "1")
    eager, sdpa = _llama()
    calls = _spy(monkeypatch)
    _check_rows(eager, sdpa, _batch("left"), [-1, 2], [8, 2])
    assert calls
    assert all(call.get("enable_gqa") for call in calls)


def test_unpadded_llama_calls_the_kernel_with_enable_gqa(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a mask transformers groups the heads in the kernel (enable_gqa); the last row equals eager."""
    eager, sdpa = _llama()
    calls = _spy(monkeypatch)
    _check_rows(eager, sdpa, _batch(None), -1, [8])
    assert calls
    assert all(call.get("enable_gqa") and call.get("is_causal") for call in calls)


def test_gpt2_rows_equal_eager() -> None:
    """GPT-2 (a padding mask, no grouped heads): queries= rows equal eager output_attentions rows."""
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(n_layer=2, n_head=4, n_embd=32, vocab_size=100, n_positions=64)
    eager, sdpa = _pair(config, "GPT2LMHeadModel")
    _check_rows(eager, sdpa, _batch("right"), [-1, 0, 3], [8, 0, 3])


def test_mistral_sliding_window_rows_equal_eager() -> None:
    """Mistral with a 4-token sliding window over 12 tokens: each row sees its window, as eager's does."""
    transformers = pytest.importorskip("transformers")
    config = transformers.MistralConfig(
        vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64, sliding_window=4,
    )  # fmt: skip
    eager, sdpa = _pair(config, "MistralForCausalLM")
    cap = _check_rows(eager, sdpa, _batch("left", length=12), slice(-4, None), [8, 9, 10, 11])
    (last,) = cap.by_path("attn")["model.layers.0.self_attn"]
    assert torch.all(last[..., :5] == 0)  # row 8 sees keys 5..8 only: the window, not the prefix


def _generate(model: Any, batch: dict[str, Any], **kwargs: Any) -> Any:
    return model.generate(**batch, max_new_tokens=4, do_sample=False, pad_token_id=0, **kwargs)


@pytest.mark.parametrize("padding", ["left", None])
def test_generate_steps_equal_eager_generate(padding: str | None) -> None:
    """During generate() with the KV cache: one record per layer per step, the prompt's rows then one row
    per new token, in eager generate's layout [batch, heads, rows, keys] (a padded decode step, where
    transformers packs the query heads into the query axis, is unpacked) and equal to its attentions."""
    eager, sdpa = _llama()
    batch = _batch(padding, length=6)
    with torch.no_grad():
        reference = _generate(eager, batch, output_attentions=True, return_dict_in_generate=True)
        with capture_attention(model=sdpa, values="tensor") as cap:
            sequences = _generate(sdpa, batch)
    assert torch.equal(sequences, reference.sequences)
    expected = [layer for step in reference.attentions for layer in step]
    assert [r.path for r in cap.records] == ["model.layers.0.self_attn", "model.layers.1.self_attn"] * 4
    assert [tuple(r.value.shape) for r in cap.records] == [tuple(e.shape) for e in expected]
    real = batch["attention_mask"].bool()
    for record, wanted in zip(cap.records, expected, strict=True):
        if wanted.shape[-2] > 1:  # the prompt: padding tokens' rows are zeros here, uniform in eager
            wanted = torch.where(real[:, None, :, None], wanted, 0.0)
        torch.testing.assert_close(record.value, wanted, rtol=1e-5, atol=2e-6)


def test_generate_with_queries_keeps_the_last_row_of_every_step() -> None:
    """queries=-1 during generate(): the prompt's last row, then each new token's row."""
    eager, sdpa = _llama()
    batch = _batch("left", length=6)
    with torch.no_grad():
        reference = _generate(eager, batch, output_attentions=True, return_dict_in_generate=True)
        with capture_attention(model=sdpa, values="tensor", queries=-1) as cap:
            _generate(sdpa, batch)
    expected = [layer[..., -1:, :] for step in reference.attentions for layer in step]
    for record, wanted in zip(cap.records, expected, strict=True):
        torch.testing.assert_close(record.value, wanted, rtol=1e-5, atol=2e-6)
    with pytest.raises(ValueError, match="every step must hold all its query rows"):
        generation_map(cap.by_path("attn")["model.layers.0.self_attn"])


@pytest.mark.parametrize("padding", ["left", None])
def test_generation_map_equals_a_full_eager_forward(padding: str | None) -> None:
    """The generate() steps of one layer, joined, equal that layer's eager map over the generated sequence."""
    eager, sdpa = _llama()
    batch = _batch(padding, length=6)
    with torch.no_grad(), capture_attention(model=sdpa) as cap:
        sequences = _generate(sdpa, batch)
    mask = torch.cat([batch["attention_mask"], torch.ones(2, 4, dtype=torch.long)], dim=1)
    with torch.no_grad():
        full = eager(input_ids=sequences, attention_mask=mask, output_attentions=True).attentions
    real = mask.bool()[:, None, :, None]
    for layer, path in enumerate(["model.layers.0.self_attn", "model.layers.1.self_attn"]):
        joined = generation_map(cap.by_path("attn")[path])
        assert joined.shape == (2, 4, 9, 9)  # 6 prompt tokens and 3 of the 4 new ones went through the model
        wanted = torch.where(real, full[layer], 0.0)[:, :, :9, :9].numpy()
        np.testing.assert_allclose(joined, wanted, rtol=1e-5, atol=2e-6)
        np.testing.assert_array_equal(generation_map(cap.by_path("attn")[path], head=3, batch=1), joined[1, 3])
        assert np.all(np.triu(joined, 1) == 0)  # the causal zeros


def test_generation_map_of_tensors_and_bad_steps() -> None:
    """Tensor steps give a tensor; steps that are not maps, or disagree on heads, are refused by number."""
    prompt, step = torch.tensor([[[[1.0]]]]), torch.tensor([[[[0.25, 0.75]]]])
    assert torch.equal(generation_map([prompt, step], head=0), torch.tensor([[[1.0, 0.0], [0.25, 0.75]]]))
    with pytest.raises(ValueError, match="got no steps"):
        generation_map([])
    with pytest.raises(ValueError, match=r"step 1 has shape \(2, 2\)"):
        generation_map([prompt, torch.zeros(2, 2)])
    with pytest.raises(ValueError, match="step 1 has shape"):
        generation_map([prompt, torch.zeros(1, 2, 1, 2)])


@pytest.fixture(params=["fused softmax", "in place"])
def softmax_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways a chunk becomes probabilities: torch.softmax (small chunks) and in place (large ones)."""
    from anycapture import _attention

    if request.param == "in place":
        monkeypatch.setattr(_attention, "_IN_PLACE_BYTES", 0)
    return str(request.param)


@pytest.mark.parametrize("mask_kind", ["bool", "-inf"])
def test_fully_masked_rows_are_the_kernels_zeros(mask_kind: str, softmax_path: str) -> None:
    """A row whose every key is masked is zeros, as the CPU kernel outputs: probs @ v equals its output."""
    torch.manual_seed(2)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 6, 8), torch.randn(2, 3, 6, 8)
    keep = torch.rand(2, 1, 5, 6) > 0.4
    keep[:, :, 1] = False  # row 1: nothing to attend to
    keep[:, :, 3] = keep[:, :, 3] | (torch.arange(6) == 2)
    mask = keep if mask_kind == "bool" else torch.where(keep, 0.0, float("-inf"))
    with capture_attention(values="tensor") as cap:
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    (probs,) = cap[KEY]
    assert torch.all(out[:, :, 1] == 0)
    assert torch.all(probs[:, :, 1] == 0)
    assert not torch.isnan(probs).any()
    torch.testing.assert_close(probs @ v, out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs.sum(-1)[:, :, [0, 2, 3, 4]].numpy(), 1.0, rtol=1e-6)


def test_chunked_maps_equal_unchunked(softmax_path: str) -> None:
    """chunk= changes how the map is computed, never the numbers: causal, masked, grouped, any rows."""
    torch.manual_seed(3)
    q, k = torch.randn(2, 8, 11, 16), torch.randn(2, 2, 11, 16)
    mask = torch.randn(2, 1, 11, 11)
    for queries in (None, -1, slice(2, 9, 3), [10, 0, 4]):
        whole = attention_probabilities(q, k, mask, is_causal=True, enable_gqa=True, queries=queries)
        for chunk in (1, 2, 5):
            parts = attention_probabilities(q, k, mask, is_causal=True, enable_gqa=True, queries=queries, chunk=chunk)
            torch.testing.assert_close(parts, whole, rtol=0, atol=1e-7)
    reference = torch.softmax(
        (q @ k.repeat_interleave(4, 1).transpose(-2, -1)) / 4 + mask + torch.full((11, 11), -torch.inf).triu(1), -1
    )
    torch.testing.assert_close(attention_probabilities(q, k, mask, True, None, True), reference, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(
        attention_probabilities(q, k, mask, True, None, True, queries=[10, 0])[..., 1, :], reference[..., 0, :]
    )


def test_rowwise_reduce_runs_on_chunks_and_equals_the_whole_map_reduced() -> None:
    """A rowwise() reduce sees chunks of rows and its results are joined; a plain reduce still gets the whole map."""
    torch.manual_seed(4)
    q, k, v = torch.randn(1, 4, 10, 8), torch.randn(1, 4, 10, 8), torch.randn(1, 4, 10, 8)
    seen: list[tuple[int, ...]] = []

    def head_mean(p: Any) -> Any:
        seen.append(tuple(p.shape))
        return p.mean(1)

    def entropy(p: Any) -> Any:
        return -(p * p.clamp_min(1e-30).log()).sum(-1)

    with (
        capture_attention(values="tensor") as whole,
        capture_attention(values="tensor", reduce=rowwise(head_mean), chunk=4) as mean,
        capture_attention(values="tensor", reduce=rowwise(entropy, dim=-1), chunk=3, queries=slice(1, None)) as ent,
        capture_attention(values="tensor", reduce=lambda p: p.shape, chunk=3) as plain,
    ):
        F.scaled_dot_product_attention(q, k, v, is_causal=True)
    (full,) = whole[KEY]
    assert seen == [(1, 4, 4, 10), (1, 4, 4, 10), (1, 4, 2, 10)]
    torch.testing.assert_close(mean[KEY][0], full.mean(1), rtol=0, atol=1e-7)
    torch.testing.assert_close(ent[KEY][0], entropy(full[:, :, 1:]), rtol=1e-6, atol=1e-6)
    assert plain[KEY] == [torch.Size([1, 4, 10, 10])]  # existing reduce= users see what they saw before
    assert rowwise(head_mean)(full).shape == (1, 10, 10)  # called on a whole map, it is the function


def test_rowwise_reduce_that_loses_the_rows_warns_and_records_nothing() -> None:
    """A row-wise reduce whose result does not keep the chunk's rows along dim= is one warning naming the fix."""
    q = torch.randn(1, 2, 6, 4)
    with pytest.warns(CaptureWarning, match=r"does not keep the chunk's 4 query row\(s\) along dim=-2.*rowwise\(fn"):
        with capture_attention(reduce=rowwise(lambda p: p.mean(-1)), chunk=4) as cap:
            F.scaled_dot_product_attention(q, q, q)
    assert cap.records == []


def test_queries_are_checked_and_out_of_range_rows_warn() -> None:
    """Bad queries= are refused with the value and the fix; a row a call does not have is one warning."""
    for bad in ("last", 1.5, [], [1, "2"], slice(0, 1.0)):
        with pytest.raises(TypeError, match=r"queries="):
            capture_attention(queries=bad)
    with pytest.raises(ValueError, match="step cannot be zero"):
        capture_attention(queries=slice(None, None, 0))
    for chunk in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match=r"chunk=.* is not a number of query rows"):
            capture_attention(chunk=chunk)
    with pytest.raises(TypeError, match="rowwise"):
        rowwise("mean")  # type: ignore[arg-type]
    q = torch.randn(1, 1, 1, 4)
    with pytest.warns(CaptureWarning, match=r"queries=3 is out of range for a call with 1 query row"):
        with capture_attention(queries=3) as cap:
            F.scaled_dot_product_attention(q, q, q)
    assert cap.records == []


def test_query_rows_stream_to_a_sink(tmp_path: Any) -> None:
    """queries= with sink= writes the chosen rows, read back equal to the in-memory records."""
    pytest.importorskip("safetensors")
    q = torch.randn(2, 3, 7, 4)
    with capture_attention(values="tensor", queries=[-1, 0]) as memory:
        F.scaled_dot_product_attention(q, q, q, is_causal=True)
    with capture_attention(values="tensor", queries=[-1, 0], sink=tmp_path / "rows") as streamed:
        F.scaled_dot_product_attention(q, q, q, is_causal=True)
    assert streamed.stack("attn").shape == (1, 2, 3, 2, 7)
    np.testing.assert_array_equal(streamed.stack("attn"), memory.stack("attn").numpy())


def test_attention_sink_weights_by_rows_equal_eager() -> None:
    """docs/capture.md's attention sinks: a rowwise head mean of the weight on token 0, in small chunks,
    equals eager's, layer by layer."""
    eager, sdpa = _llama()
    batch = _batch(None)
    with torch.no_grad():
        reference = eager(**batch, output_attentions=True).attentions
        sink = rowwise(lambda p: p[..., 0].mean(1), dim=-1)
        with capture_attention(model=sdpa, values="tensor", reduce=sink, chunk=2) as cap:
            sdpa(**batch)
    expected = torch.stack([layer[..., 0].mean(1) for layer in reference])
    torch.testing.assert_close(cap.stack("attn"), expected, rtol=1e-5, atol=2e-6)


def test_any_rows_any_chunk_equal_the_whole_map_rows(softmax_path: str) -> None:
    """For random shapes, masks, causality, grouped heads, rows and chunk sizes, the rows computed
    directly equal those rows of a plain softmax over the whole map (fully masked rows: zeros)."""
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies

    @hypothesis.settings(max_examples=40, deadline=None, derandomize=True)
    @hypothesis.given(
        st.integers(1, 2), st.sampled_from([(1, 1), (2, 1), (4, 2), (6, 3)]), st.integers(1, 7), st.integers(1, 7),
        st.sampled_from(["none", "bool", "float"]), st.booleans(), st.integers(1, 8), st.data(),
    )  # fmt: skip
    def check(batch: int, heads: Any, length: int, keys: int, kind: str, causal: bool, chunk: int, data: Any) -> None:
        torch.manual_seed(length * 7 + keys)
        q = torch.randn(batch, heads[0], length, 4)
        k = torch.randn(batch, heads[1], keys, 4)
        mask = None
        if kind == "bool":
            mask = torch.rand(batch, 1, length, keys) > 0.3
        elif kind == "float":
            mask = torch.where(torch.rand(1, heads[0], length, keys) > 0.3, 0.0, -torch.inf)
        rows = data.draw(st.lists(st.integers(-length, length - 1), min_size=1, max_size=5))
        got = attention_probabilities(q, k, mask, causal, None, True, queries=rows, chunk=chunk)
        scores = q.double() @ k.double().repeat_interleave(heads[0] // heads[1], 1).transpose(-2, -1) / 2
        if causal:
            scores = scores.masked_fill(torch.ones(length, keys, dtype=torch.bool).tril().logical_not(), -torch.inf)
        if mask is not None:
            scores = scores.masked_fill(~mask, -torch.inf) if mask.dtype == torch.bool else scores + mask.double()
        whole = torch.softmax(scores, -1).nan_to_num(0.0)  # a fully masked row: zeros, as the kernel gives
        torch.testing.assert_close(got.double(), whole[..., rows, :], rtol=1e-5, atol=1e-6)

    check()


def test_generation_map_refuses_a_sliding_window_cache() -> None:
    """Mistral's sliding-window cache keeps 4 keys a decode step: its steps cannot be joined, and the error says why."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.MistralConfig(
        vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64, sliding_window=4,
    )  # fmt: skip
    model = transformers.MistralForCausalLM(config).eval()
    model.set_attn_implementation("sdpa")
    with torch.no_grad(), capture_attention(model=model, values="tensor") as cap:
        _generate(model, {"input_ids": torch.randint(1, 100, (1, 6))})
    steps = cap.by_path("attn")["model.layers.0.self_attn"]
    assert [tuple(step.shape) for step in steps] == [(1, 4, 6, 6)] + [(1, 4, 1, 4)] * 3
    with pytest.raises(ValueError, match=r"step 1 has 1 query row.* over 4 keys.*sliding-window cache drops them"):
        generation_map(steps)
