#!/usr/bin/env bash
# Run benchmarks/bench_overhead.py on CPython 3.11, 3.12 and 3.13, one after the other (timings need the cores).
#
#   bash benchmarks/run_all.sh                 # every Python in PYTHONS
#   bash benchmarks/run_all.sh --quick         # arguments go to bench_overhead.py
#   PYTHONS="3.12.1" bash benchmarks/run_all.sh
#
# Each Python gets a venv under benchmarks/.venvs/<version> (made once, with `pip install -e .`; on 3.11 also the
# pinned torch, whose wheel lies on this machine's disk: never install an unpinned torch, it would download GBs).
# AnyCapture 0.1.4 is installed by the script itself into benchmarks/.cache. Both folders are git-ignored.
# REBUILD=1 makes the venvs anew.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
pythons="${PYTHONS:-3.11.7 3.12.1 3.13.0}"
torch_pin="torch==2.13.0"

for version in $pythons; do
    venv="$here/.venvs/$version"
    if [[ "${REBUILD:-0}" == 1 ]]; then
        rm -rf "$venv"
    fi
    # The marker is written last, so a venv whose installs failed half way is made again next time.
    if [[ ! -f "$venv/.bench-ready" ]]; then
        echo "== making $venv" >&2
        rm -rf "$venv"
        base="$(pyenv prefix "$version")/bin/python"
        "$base" -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$root"
        if [[ "$version" == 3.11.* ]]; then
            # torch only here: the nn.Module rows need it, and its 3.11 wheel is the one on this machine's disk.
            "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$torch_pin" numpy
        fi
        touch "$venv/.bench-ready"
    fi
    echo "== $version: $venv/bin/python benchmarks/bench_overhead.py $*" >&2
    (cd "$root" && "$venv/bin/python" "$here/bench_overhead.py" "$@")
    echo
done
