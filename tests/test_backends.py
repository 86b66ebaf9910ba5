"""Backend selection, forcing, and the promise that importing anycapture stays light."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import anycapture
from anycapture import BackendUnavailableError, get_local
from anycapture._backends import KINDS, can, get_backend, preferred, require


def test_backends_lists_what_runs_here() -> None:
    """bytecode runs on 3.11-3.13; monitoring on 3.12+; reasons are given for the rest."""
    names = anycapture.backends()
    assert names[0] == "bytecode"
    assert ("monitoring" in names) == (sys.version_info >= (3, 12))
    for info in anycapture.backend_info():
        assert info.available == (info.name in names)
        assert info.available or info.reason


def test_forcing_an_unknown_backend_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """ANYCAPTURE_BACKEND naming a backend that cannot run says why."""
    monkeypatch.setenv("ANYCAPTURE_BACKEND", "nonsense")
    with pytest.raises(BackendUnavailableError, match="'nonsense' cannot be used: no backend is called"):
        preferred()
    with pytest.raises(BackendUnavailableError):
        get_local.activate()
    get_local.deactivate()


def test_each_backend_declares_what_it_can_do() -> None:
    """Every backend in the table declares its capabilities and why it cannot run; the selector and can() read them."""
    assert list(KINDS) == [info.name for info in anycapture.backend_info()]
    for name, kind in KINDS.items():
        assert kind.name == name
        assert isinstance(kind.sees_assignments, bool)
        assert isinstance(kind.can_edit, bool)
        assert kind.why_not() == {info.name: info.reason for info in anycapture.backend_info()}[name]
        assert can(name, "sees_assignments") == kind.sees_assignments
        assert can(name, "can_edit") == kind.can_edit
        if not kind.why_not():
            assert get_backend(name).name == name
    assert not can(None, "can_edit")
    assert not can("nonsense", "sees_assignments")


@pytest.mark.skipif("monitoring" not in anycapture.backends(), reason="sys.monitoring needs Python 3.12+")
def test_a_capability_the_forced_backend_lacks_names_the_one_that_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """require() under ANYCAPTURE_BACKEND=monitoring names the backend that can, and why it is not used."""
    monkeypatch.setenv("ANYCAPTURE_BACKEND", "monitoring")
    with pytest.raises(BackendUnavailableError) as raised:
        require("can_edit", "edit()")
    assert str(raised.value) == (
        "edit() needs the 'bytecode' backend, which rewrites the function's code; it cannot be used here: "
        "ANYCAPTURE_BACKEND='monitoring' forces another backend. sys.monitoring only sees returns."
    )
    monkeypatch.setenv("ANYCAPTURE_BACKEND", "bytecode")
    require("sees_assignments", "get_local(..., when='each')")  # no error


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="monitoring exists on 3.12+")
def test_forcing_monitoring_on_311_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    """Asking for sys.monitoring on 3.11 names the version it needs."""
    monkeypatch.setenv("ANYCAPTURE_BACKEND", "monitoring")
    with pytest.raises(BackendUnavailableError, match=r"needs Python 3\.12"):
        preferred()


def test_public_names_are_sorted_and_all_exist() -> None:
    """`__all__` lists dunders first, then every public name in sorted order, and each one exists."""
    names = list(anycapture.__all__)
    dunders = [n for n in names if n.startswith("__")]
    assert names == dunders + sorted(n for n in names if not n.startswith("__"))
    assert all(hasattr(anycapture, n) for n in names)


def test_import_pulls_in_no_heavy_modules() -> None:
    """`import anycapture` loads neither torch, numpy, matplotlib nor transformers."""
    code = (
        "import sys, anycapture\n"
        "heavy = [m for m in ('torch', 'numpy', 'matplotlib', 'transformers', 'safetensors') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_cli_demo_runs() -> None:
    """`python -m anycapture demo --minimal` captures and prints an attention map, with no torch."""
    out = subprocess.run(
        [sys.executable, "-m", "anycapture", "demo", "--minimal"], capture_output=True, text=True, check=True
    )
    assert "attention.attn" in out.stdout


def test_import_works_without_the_bytecode_package() -> None:
    """Where `bytecode` cannot be imported, anycapture still imports and says why it cannot rewrite."""
    code = (
        "import sys\n"
        "sys.modules['bytecode'] = None\n"  # makes `import bytecode` fail
        "import anycapture\n"
        "info = {i.name: i.reason for i in anycapture.backend_info()}\n"
        "print(info['bytecode'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "the 'bytecode' package cannot be imported" in out.stdout


@pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring is 3.12+")
def test_taken_tool_ids_are_told_once_not_as_a_function_that_never_ran() -> None:
    """With every tool id anycapture may use taken by other tools, the block says it could not capture
    (naming the tools), and its end-of-block report does not claim the function never ran."""
    code = (
        "import sys, warnings\n"
        "from anycapture import capture\n"
        "for i in range(6):\n"
        "    if sys.monitoring.get_tool(i) is None: sys.monitoring.use_tool_id(i, f'other{i}')\n"
        "def f(x):\n"
        "    attn = x\n"
        "    return attn\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    with capture(f, 'attn') as cap:\n"
        "        assert f(1) == 1\n"
        "print(len(cap.records))\n"
        "for x in w: print(x.message)\n"
    )
    env = {**os.environ, "ANYCAPTURE_BACKEND": "monitoring"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    lines = out.splitlines()
    assert lines[0] == "0"
    assert "every sys.monitoring tool id anycapture may use is taken" in lines[1]
    assert lines[2] == "nothing captured for: __main__:f could not be captured (the CaptureWarning above says why)"
    assert "never ran" not in out
