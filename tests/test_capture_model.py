"""capture(..., model=): which calls are filed directly, and the layer paths their records get.

A block alone on a method of an ``nn.Module`` class files its calls directly: the function's own code
appends the call's module, values and thread (one C append), and the layers are looked up when the block
is read. The records must equal those of the two other ways: through ``_Dispatcher.record`` (filing
directly turned off) and per call (``max_size=``).
"""

from __future__ import annotations

from typing import Any

import pytest

import anycapture._dispatch
from anycapture import capture

torch = pytest.importorskip("torch")
nn = torch.nn


class Scale(nn.Module):
    def forward(self, x: Any) -> Any:
        score = x * 2
        return score


class Net(nn.Module):
    """Three layers, and one module it calls that is not among its submodules."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList([Scale() for _ in range(3)])
        self.stray = [Scale()]  # a plain list: not a submodule, so not in named_modules()

    def forward(self, x: Any, stray: bool = False) -> Any:
        for layer in self.layers:
            x = layer(x)
        if stray:
            self.stray[0](x)
        return x


def with_module(module: Any, x: Any) -> Any:
    """A plain function that takes a module: its layer may come from its callers' frames."""
    score = x + 1
    return score


class Caller(nn.Module):
    def forward(self, x: Any) -> Any:
        return with_module(object(), x)


class NotAModule:
    def forward(self, x: Any) -> Any:
        score = x
        return score

    @staticmethod
    def static(x: Any) -> Any:
        return x


def test_methods_of_module_classes_are_told_apart() -> None:
    """Only a function found on an nn.Module class under its qualified name counts as a module's method."""

    class Local(nn.Module):
        def forward(self, x: Any) -> Any:
            return x

    method_of_module = anycapture._dispatch._method_of_module
    assert method_of_module(Scale.forward)
    assert not method_of_module(with_module)
    assert not method_of_module(Local.forward)  # defined in a function: not found by name
    assert not method_of_module(NotAModule.forward)
    assert not method_of_module(NotAModule.static)


class _RaisingMeta(type):
    def __getattr__(cls, name: str) -> Any:
        if name == "inner":
            raise RuntimeError("a class whose attribute lookup fails")
        raise AttributeError(name)


class Weird(metaclass=_RaisingMeta):
    pass


def test_a_class_whose_lookups_raise_is_not_taken_for_a_module() -> None:
    """Finding the class runs the class's own code (a metaclass __getattr__); if that raises, no."""

    def forward(self: Any, x: Any) -> Any:
        y = x
        return y

    forward.__qualname__ = "Weird.inner.forward"  # getattr(Weird, "inner") raises RuntimeError
    assert not anycapture._dispatch._method_of_module(forward)
    with capture(forward, "y", values="raw") as cap:
        forward(None, 3)
    assert cap["Weird.inner.forward.y"] == [3]


def _records(way: str, monkeypatch: pytest.MonkeyPatch) -> tuple[list[tuple[Any, ...]], bool]:
    monkeypatch.setattr(anycapture._dispatch, "_FILE_DIRECTLY", way == "direct")
    torch.manual_seed(0)
    net = Net()
    x = torch.ones(2)
    options: dict[str, Any] = {"max_size": 10**9} if way == "per-call" else {}
    with torch.no_grad(), capture(Scale.forward, "score", model=net, values="raw", **options) as cap:
        net(x)
        direct = anycapture._dispatch._dispatcher(Scale.forward)._direct_recorder is not None
        len(cap)  # read mid-block: the calls so far become records now
        net.layers.append(Scale())  # a layer added during the block: found by indexing again
        net(x, stray=True)
        Scale()(x)  # a module outside the model
    records = [(r.key, r.value.tolist(), r.path, r.call, r.order) for r in cap.records]
    return records, direct


def test_direct_filing_gives_the_records_of_the_other_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    """Paths (a layer added during the block, modules outside the model), calls and order: the same three ways."""
    direct, direct_used = _records("direct", monkeypatch)
    through_record, record_used = _records("through-record", monkeypatch)
    per_call, _ = _records("per-call", monkeypatch)
    assert (direct_used, record_used) == (True, False)
    assert direct == through_record == per_call
    assert [r[2] for r in direct] == [
        "layers.0",
        "layers.1",
        "layers.2",
        "layers.0",
        "layers.1",
        "layers.2",
        "layers.3",
        None,  # net.stray[0]: not a submodule
        None,  # Scale() called on its own
    ]
    assert [r[3] for r in direct] == list(range(9))


def test_a_plain_function_taking_a_module_is_not_filed_directly() -> None:
    """Its layer is found in its callers' frames while it runs, so its calls go through record()."""
    model = nn.Sequential(Caller(), Caller())
    with torch.no_grad(), capture(with_module, "score", model=model, values="raw") as cap:
        model(torch.zeros(1))
        assert anycapture._dispatch._dispatcher(with_module)._direct_recorder is None
    assert [r.path for r in cap.records] == ["0", "1"]


def test_direct_filing_switches_with_blocks_coming_and_going() -> None:
    """A held block files directly until a second block joins, and again once it leaves; its
    records stay in call order with their layers, and the second block gets only its own calls."""
    net = Net()
    x = torch.ones(1)
    dispatcher = anycapture._dispatch._dispatcher(Scale.forward)
    with torch.no_grad(), capture(Scale.forward, "score", model=net, values="raw") as held:
        net(x, stray=True)
        assert dispatcher._direct_recorder is not None
        with capture(Scale.forward, "score", model=net, values="raw") as inner:
            assert dispatcher._direct_recorder is None
            net(x * 10, stray=True)
        assert dispatcher._direct_recorder is not None
        net(x * 100, stray=True)
    assert dispatcher._direct_recorder is None
    assert [r.value.item() for r in held.records] == [
        v * scale for scale in (1, 10, 100) for v in (2.0, 4.0, 8.0, 16.0)
    ]
    assert [r.call for r in held.records] == list(range(12))
    assert [r.path for r in held.records][:4] == ["layers.0", "layers.1", "layers.2", None]
    assert [r.value.item() for r in inner.records] == [20.0, 40.0, 80.0, 160.0]
    assert held._recorders[0].direct == []
    assert all(sink.append == sink.late for sink in dispatcher._filers.values())


def _paths(way: str, monkeypatch: pytest.MonkeyPatch, net: Net, x: Any) -> list[str | None]:
    monkeypatch.setattr(anycapture._dispatch, "_FILE_DIRECTLY", way == "direct")
    options: dict[str, Any] = {"max_size": 10**9} if way == "per-call" else {}
    with torch.no_grad(), capture(Scale.forward, "score", model=net, values="raw", **options) as cap:
        net(x)
    return [r.path for r in cap.records]


@pytest.mark.parametrize("way", ["direct", "through-record", "per-call"])
def test_paths_follow_the_model_when_layers_are_removed_swapped_or_moved(
    way: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model's paths are kept between blocks; each block checks them against the model as it is."""
    net = Net()
    net.layers.append(Scale())
    x = torch.ones(1)
    first, second, third, fourth = net.layers
    assert _paths(way, monkeypatch, net, x) == ["layers.0", "layers.1", "layers.2", "layers.3"]
    del net.layers[1]  # pruned: the layers after it move up
    assert _paths(way, monkeypatch, net, x) == ["layers.0", "layers.1", "layers.2"]
    assert list(net.layers) == [first, third, fourth]
    net.layers[0], net.layers[1] = net.layers[1], net.layers[0]  # swapped
    with torch.no_grad(), capture(Scale.forward, "score", model=net, values="raw") as cap:
        net(x)
    assert [(r.path, net.get_submodule(r.path)) for r in cap.records] == [
        ("layers.0", third),
        ("layers.1", first),
        ("layers.2", fourth),
    ]
    net.moved = net.layers[2]  # moved out of the list
    del net.layers[2]
    with torch.no_grad(), capture(Scale.forward, "score", model=net, values="raw") as cap:
        net(x)
        net.moved(x)
    assert [r.path for r in cap.records] == ["layers.0", "layers.1", "moved"]


def test_a_held_block_checks_paths_again_after_clear() -> None:
    """Over a data loader, a model pruned between batches is seen at the next batch."""
    net = Net()
    x = torch.ones(1)
    with torch.no_grad(), capture(Scale.forward, "score", model=net, values="raw") as cap:
        net(x)
        assert [r.path for r in cap.records] == ["layers.0", "layers.1", "layers.2"]
        cap.clear()
        del net.layers[0]
        net(x)
        assert [r.path for r in cap.records] == ["layers.0", "layers.1"]


@pytest.mark.parametrize("way", ["direct", "through-record", "per-call"])
@pytest.mark.parametrize("seen_before", [False, True])
def test_a_model_changed_inside_a_block_is_seen_by_later_calls(
    way: str, seen_before: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether the model was indexed in this block or an earlier one, a layer pruned inside the block before
    the forward is labelled where it is; pruned after the forward, calls filed one by one keep the paths
    they ran at, and calls filed directly (labelled when the block is read) get the paths at the read."""
    monkeypatch.setattr(anycapture._dispatch, "_FILE_DIRECTLY", way == "direct")
    options: dict[str, Any] = {"max_size": 10**9} if way == "per-call" else {}
    net = Net()
    x = torch.ones(1)
    net.layers.append(Scale())
    if seen_before:
        _paths(way, monkeypatch, net, x)
    with torch.no_grad(), capture(Scale.forward, "score", model=net, values="raw", **options) as cap:
        del net.layers[0]  # pruned inside the block, before the forward
        net(x)
        del net.layers[0]  # and after it, before the block is read
    assert [r.value.item() for r in cap.records] == [2.0, 4.0, 8.0]
    if way == "direct":
        assert [r.path for r in cap.records] == [None, "layers.0", "layers.1"]
    else:
        assert [r.path for r in cap.records] == ["layers.0", "layers.1", "layers.2"]


class Wrapper:
    """A model= that is not an nn.Module: named_modules() only, no _modules to check paths against."""

    def __init__(self, net: Net) -> None:
        self.net = net
        self.walks = 0

    def named_modules(self) -> Any:
        self.walks += 1
        return self.net.named_modules()


def test_a_model_whose_paths_cannot_be_checked_is_indexed_once() -> None:
    """A model= with named_modules() but no _modules is walked once for all blocks, and its paths are still given."""
    net = Net()
    model = Wrapper(net)
    with torch.no_grad(), capture(Scale.forward, "score", model=model, values="numpy") as cap:
        for _ in range(5):
            net(torch.ones(1))
    with torch.no_grad(), capture(Scale.forward, "score", model=model, values="raw") as cap:
        net(torch.ones(1))
    assert model.walks == 1
    assert [r.path for r in cap.records] == ["layers.0", "layers.1", "layers.2"]


class Forwarding(nn.Module):
    """A model whose named_modules() names are not its own _modules tree (it forwards to the net inside)."""

    def __init__(self, net: Net) -> None:
        super().__init__()
        self.net = net
        self.walks = 0

    def named_modules(self, *args: Any, **kwargs: Any) -> Any:
        self.walks += 1
        return self.net.named_modules(*args, **kwargs)


@pytest.mark.parametrize("values", ["raw", "numpy"])
def test_paths_that_never_check_out_index_the_model_once_per_block(values: str) -> None:
    """A model whose named_modules() paths never match its own tree is walked at most twice in a block, not once per
    call."""
    model = Forwarding(Net())
    with torch.no_grad(), capture(Scale.forward, "score", model=model, values=values) as cap:
        for _ in range(10):
            model.net(torch.ones(1))
    assert model.walks <= 2  # indexed, then once more when the first path failed its check
    assert [r.path for r in cap.records][:3] == ["layers.0", "layers.1", "layers.2"]


def test_a_module_outside_the_model_does_not_walk_the_model_after_every_clear() -> None:
    """A call of a module outside the model gets no path, and walks the model only once more, not again after every
    clear()."""
    net, outsider = Wrapper(Net()), Scale()
    with torch.no_grad(), capture(Scale.forward, "score", model=net, values="numpy") as cap:
        for _ in range(10):
            net.net(torch.ones(1))
            outsider(torch.ones(1))
            assert [r.path for r in cap.records] == ["layers.0", "layers.1", "layers.2", None]
            cap.clear()
    assert net.walks == 2  # indexed, then once more to look for the outsider


def test_by_path_says_why_calls_outside_the_model_have_no_path() -> None:
    """by_path() on records whose modules are all outside the model raises a ValueError saying so."""
    with torch.no_grad(), capture(Scale.forward, "score", model=Net(), values="raw") as cap:
        Scale()(torch.ones(1))
    with pytest.raises(ValueError, match=r"none of the calls selected ran for a module of the model= given"):
        cap.by_path("score")


def test_a_layer_swapped_in_gets_its_path_at_the_block_end_and_is_not_held(backend: str) -> None:
    """A module the model's index does not know (swapped in since) gets its path when the block
    ends, as the model is then, and the block does not keep it alive, even read with ``cap[key]`` only."""
    import gc
    import weakref

    model = nn.Sequential(Scale(), Scale())
    x = torch.ones(1)
    with capture(Scale.forward, "score", model=model, values="raw") as first:
        model(x)
    assert [record.path for record in first.records] == ["0", "1"]
    new = Scale()
    model[1] = new
    with capture(Scale.forward, "score", model=model, values="raw") as cap:
        model(x)
    assert len(cap["Scale.forward.score"]) == 2
    held = weakref.ref(new)
    model[1] = Scale()  # swapped again after the block, before the records are read
    del new
    gc.collect()
    assert held() is None
    assert [record.path for record in cap.records] == ["0", "1"]
