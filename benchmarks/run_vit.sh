#!/usr/bin/env bash
# Run benchmarks/bench_vit.py (a timm ViT forward with its attention maps captured, against the other ways to get
# them) in a Python 3.11 venv with timm, torchlens and nnsight, with anycapture taken from src/ (PYTHONPATH).
#
#   bash benchmarks/run_vit.sh                    # about 5 minutes on a 2-core machine
#   bash benchmarks/run_vit.sh --quick            # arguments go to bench_vit.py
#   VENV=/tmp/vtimm bash benchmarks/run_vit.sh    # an existing venv with torch and timm: used as it is, plus extras
#
# Without VENV, the venv is benchmarks/.venvs/vit-3.11.7 (git-ignored), made once. torch is pinned to the build that
# lies on this machine's disk (timm needs torchvision, which needs torch 2.14.1 here, as in noxfile.py's timm
# session); every later install gets it as a constraint (-c), so pip can never replace it with a multi-GB download.
# torchlens and nnsight are installed where pip can do so without changing torch; if they cannot be, the benchmark
# prints a row saying why. AnyCapture 0.1.4 is installed by the script itself into benchmarks/.cache.
# REBUILD=1 makes the default venv anew.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
version="${PYTHON_VERSION:-3.11.7}"
pins=(torch==2.14.1 torchvision==0.29.1)
constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
printf '%s\n' "${pins[@]}" >"$constraints"
pip_install=(-m pip install --quiet --disable-pip-version-check -c "$constraints")

if [[ -n "${VENV:-}" ]]; then
    venv="$VENV"
else
    venv="$here/.venvs/vit-$version"
    if [[ "${REBUILD:-0}" == 1 ]]; then
        rm -rf "$venv"
    fi
    # The marker is written last, so a venv whose installs failed half way is made again next time.
    if [[ ! -f "$venv/.bench-ready" ]]; then
        echo "== making $venv" >&2
        rm -rf "$venv"
        "$(pyenv prefix "$version")/bin/python" -m venv "$venv"
        "$venv/bin/python" "${pip_install[@]}" "${pins[@]}" timm numpy bytecode
        touch "$venv/.bench-ready"
    fi
fi
python="$venv/bin/python"

# The optional comparisons: a dry run first, so that nothing is installed if pip would have to touch torch.
for extra in torchlens nnsight; do
    if ! "$python" -c "import $extra" 2>/dev/null; then
        if "$python" "${pip_install[@]}" --dry-run "$extra" >/dev/null 2>&1; then
            "$python" "${pip_install[@]}" "$extra" || echo "== could not install $extra; its rows will say so" >&2
        else
            echo "== $extra cannot be installed beside ${pins[*]}; its rows will say so" >&2
        fi
    fi
done

echo "== $python benchmarks/bench_vit.py $*" >&2
cd "$root"
PYTHONPATH="$root/src${PYTHONPATH:+:$PYTHONPATH}" "$python" "$here/bench_vit.py" "$@"
