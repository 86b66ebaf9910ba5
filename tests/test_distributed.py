"""Many processes: a real 2-rank torchrun job, gather() and folders of ranks, fork and DataLoader workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest

import anycapture
from anycapture import Record, distributed

SRC = str(Path(__file__).resolve().parents[1] / "src")
JOB = Path(__file__).resolve().parent / "_torchrun_job.py"
FORKED = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
# Forking a process that runs threads (pytest's, the writer's) is what this file tests on purpose.
QUIET_FORK = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")


def scaled(x: Any) -> Any:
    """The function captured in the parent and in forked children."""
    y = x * 2
    return y


def without_launcher(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(name, raising=False)


# -- rank(), gather() in one process ---------------------------------------------------------------


def test_rank_and_world_size_come_from_torchrun_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a process group, RANK and WORLD_SIZE say where this process is; alone, both are None."""
    without_launcher(monkeypatch)
    assert (distributed.rank(), distributed.world_size()) == (None, None)
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert (distributed.rank(), distributed.world_size()) == (3, 4)
    monkeypatch.setenv("RANK", "not a number")
    assert distributed.rank() is None


def test_ranked_record_is_a_record_with_its_rank() -> None:
    """RankedRecord is a Record (one record type), with every field of it, so nothing captured is lost on the way."""
    assert issubclass(distributed.RankedRecord, Record)
    assert distributed.RankedRecord._fields == Record._fields
    ranked = distributed.RankedRecord._make(Record("f.x", "x", 1, "m:f", None, 0, 0, 0))._replace(rank=2)
    assert (ranked.rank, ranked.key, ranked.value) == (2, "f.x", 1)


def test_gather_in_a_single_process_tags_its_own_records(monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    """With no process group, gather() returns this process's records as RankedRecords (rank 0, or RANK)."""
    without_launcher(monkeypatch)
    with anycapture.capture(scaled, "y", values="raw") as cap:
        scaled(1)
        scaled(2)
    gathered = distributed.gather(cap)
    assert gathered is not None
    assert [(r.rank, r.value, r.call, r.key) for r in gathered] == [(0, 2, 0, "scaled.y"), (0, 4, 1, "scaled.y")]
    monkeypatch.setenv("RANK", "5")
    assert [r.rank for r in distributed.gather(cap.select(name="y"), dst=None) or []] == [5, 5]


def test_gather_refuses_sinks_and_foreign_objects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A block streamed to disk is read with open_captures, not gathered; anything but records is refused."""
    pytest.importorskip("numpy")
    pytest.importorskip("safetensors")
    without_launcher(monkeypatch)
    with anycapture.capture(scaled, "y", sink=tmp_path / "run") as cap:
        scaled(1)
    with pytest.raises(TypeError, match="open_captures"):
        distributed.gather(cap)
    with pytest.raises(TypeError, match="'int'"):
        distributed.gather([1, 2])  # type: ignore[list-item]


def test_importing_distributed_imports_no_torch() -> None:
    """anycapture.distributed imports torch.distributed only inside gather(), when torch is in use."""
    code = "import sys, anycapture.distributed; print(sorted({'numpy', 'torch'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": SRC}, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# -- a real torchrun job ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run tests/_torchrun_job.py on 2 ranks (gloo, CPU) once; its outputs lie in the returned folder."""
    pytest.importorskip("torch.distributed.run")
    pytest.importorskip("safetensors")
    import torch.distributed

    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    out = tmp_path_factory.mktemp("torchrun")
    paths = [SRC, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(paths)}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID"):
        env.pop(name, None)  # this test may itself run under a launcher
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(JOB), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    return out


def results(job: Path) -> list[dict[str, Any]]:
    return [json.loads((job / f"result-{rank}.json").read_text()) for rank in (0, 1)]


def test_torchrun_ranks_know_their_rank(job: Path) -> None:
    """Inside the job, rank() and world_size() follow torch.distributed."""
    assert [(r["rank"], r["world_size"]) for r in results(job)] == [(0, 2), (1, 2)]


def test_torchrun_gather_brings_every_rank_to_rank_0(job: Path) -> None:
    """Rank 0 gets both ranks' records, tagged 0 and 1, with the values each rank computed (tensors, on the CPU)."""
    np = pytest.importorskip("numpy")
    first, second = results(job)
    assert "gathered" not in second
    paths = ["blocks.0.attn", "blocks.1.attn"]
    assert [(r[0], r[2], r[3], r[5]) for r in first["gathered"]] == [
        (rank, path, call, "Tensor") for rank in (0, 1) for call, path in enumerate(paths)
    ]
    assert {r[1] for r in first["gathered"]} == {"Attention.forward.attn"}
    with np.load(job / "gathered.npz") as gathered:
        values = [gathered[f"arr_{i}"] for i in range(4)]
    for rank in (0, 1):
        with np.load(job / f"computed-{rank}.npz") as computed:
            for i, path in enumerate(paths):
                np.testing.assert_array_equal(values[2 * rank + i], computed[path])
                assert computed[path].shape == (2, 2, 5, 5)
    assert not np.allclose(values[0], values[2])  # each rank ran its own batch


def test_torchrun_gather_to_every_rank_and_its_failures(job: Path) -> None:
    """dst=None gives every rank the same list; a rank whose records cannot be pickled fails both ranks, no hang."""
    first, second = results(job)
    assert first["everywhere"] == second["everywhere"] == [[0, "blocks.1.attn"], [1, "blocks.1.attn"]]
    assert "records of rank 1 could not be sent" in first["unpicklable"]
    assert "records of rank 1 could not be sent" in second["unpicklable"]
    # A rank that gives its sink block is told so, after taking part; the receiving rank names it.
    assert first["mixed_sink"].startswith("CaptureError: the records of rank 1 could not be sent to rank 0: TypeError")
    assert second["mixed_sink"].startswith("TypeError: this capture block streamed its records to disk")


def test_torchrun_sinks_write_one_folder_per_rank(job: Path) -> None:
    """sink= under torchrun writes captures/rank-<r>/; each rank reads its own, open_captures reads all."""
    np = pytest.importorskip("numpy")
    assert sorted(path.name for path in (job / "captures").iterdir()) == ["rank-0", "rank-1"]
    for rank, result in enumerate(results(job)):
        assert result["streamed"] == [
            [rank, "blocks.0.attn", "shard-00000.safetensors"],
            [rank, "blocks.1.attn", "shard-00000.safetensors"],
        ]
        index = json.loads((job / "captures" / f"rank-{rank}" / "index.json").read_text())
        assert (index["rank"], index["world_size"], index["complete"]) == (rank, 2, True)
    assert results(job)[0]["folder"] == {"ranks": [0, 1], "complete": True, "shape": [4, 2, 2, 5, 5]}
    folder = anycapture.open_captures(job / "captures")
    assert [(r.rank, r.path, r.shard) for r in folder.records] == [
        (rank, f"blocks.{block}.attn", f"rank-{rank}/shard-00000.safetensors") for rank in (0, 1) for block in (0, 1)
    ]
    for rank in (0, 1):
        with np.load(job / f"computed-{rank}.npz") as computed:
            for block, value in enumerate(folder.by_path("attn", rank=rank).values()):
                np.testing.assert_allclose(value[0], computed[f"blocks.{block}.attn"])


# -- fork and DataLoader workers -------------------------------------------------------------------


def in_child(body: str, names: dict[str, Any]) -> int:
    """Run ``body`` in a forked child (killed after 20 s, so a deadlock fails instead of hanging); its exit code."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its result is its exit code
        code = 1
        try:
            import signal

            signal.alarm(20)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                exec(textwrap.dedent(body), {**names, "caught": caught})
            code = 0
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@FORKED
@QUIET_FORK
def test_fork_child_records_stay_in_the_child(backend: str) -> None:
    """Records of a forked child never reach the parent's block: the parent holds its own calls, once each."""
    with anycapture.capture(scaled, "y", values="raw") as cap:
        scaled(1)
        body = """
            for i in range(5):
                scaled(100 + i)
            assert cap["scaled.y"] == [2, 200, 202, 204, 206, 208]  # the child's own copy of the block
        """
        assert in_child(body, {"scaled": scaled, "cap": cap}) == 0
        scaled(2)
    assert cap["scaled.y"] == [2, 4]
    assert [r.call for r in cap.records] == [0, 1]


@FORKED
@QUIET_FORK
def test_fork_child_of_a_sink_writes_nothing(tmp_path: Path, backend: str) -> None:
    """A forked child's captures are dropped with one warning; the parent's folder holds the parent's records only."""
    np = pytest.importorskip("numpy")
    pytest.importorskip("safetensors")
    folder = tmp_path / "run"
    with anycapture.capture(scaled, "y", sink=folder) as cap:
        scaled(np.float32(1))
        body = """
            for i in range(3):
                scaled(np.float32(100 + i))
            writer = cap._writer
            assert writer.lost == 3
            writer.flush()
            writer.close()
            (message,) = [str(w.message) for w in caught]
            assert "only that process writes that folder" in message, message
        """
        assert in_child(body, {"scaled": scaled, "cap": cap, "np": np}) == 0
        scaled(np.float32(2))
    assert [float(value) for value in cap["scaled.y"]] == [2.0, 4.0]
    assert sorted(path.name for path in folder.iterdir()) == ["index.json", "shard-00000.safetensors"]


class Data:
    """A map-style dataset whose items pass through the captured function, in the DataLoader's workers."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> Any:
        import numpy

        return scaled(numpy.full(3, i, dtype=numpy.float32))


@QUIET_FORK
@pytest.mark.parametrize("sink", [False, True], ids=["memory", "sink"])
def test_dataloader_workers_neither_duplicate_nor_corrupt(tmp_path: Path, backend: str, sink: bool) -> None:
    """A torch DataLoader with 2 forked workers calling the captured function: the parent's records are its own."""
    torch = pytest.importorskip("torch")
    np = pytest.importorskip("numpy")
    if sink:
        pytest.importorskip("safetensors")
    loader = torch.utils.data.DataLoader(Data(), batch_size=2, num_workers=2, multiprocessing_context="fork")
    folder = tmp_path / "run" if sink else None
    with anycapture.capture(scaled, "y", sink=folder) as cap:
        batches = []
        for j, batch in enumerate(loader):
            batches.append(batch)
            scaled(np.full(3, 100 + j, dtype=np.float32))  # the parent's own call, one per batch
    assert torch.cat(batches).tolist() == [[2.0 * i] * 3 for i in range(8)]  # the workers' results are intact
    values = cap["scaled.y"]
    assert [value.tolist() for value in values] == [[200.0 + 2 * j] * 3 for j in range(4)]
    assert [r.call for r in cap.records] == [0, 1, 2, 3]
    if folder is not None:
        assert sorted(path.name for path in folder.iterdir()) == ["index.json", "shard-00000.safetensors"]
        assert anycapture.open_captures(folder).complete


def _open_worker_block(worker: int) -> None:
    """worker_init_fn: a capture block of the worker's own, never closed by a `with` (the worker ends first)."""
    folder = Path(os.environ["ANYCAPTURE_TEST_FOLDER"]) / f"worker-{worker}"
    anycapture.capture(scaled, "y", sink=folder).__enter__()


@QUIET_FORK
def test_a_block_opened_in_each_worker_is_complete_when_the_worker_ends(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/scale.md's way to capture inside workers: each worker's folder is closed at the worker's exit
    (workers end with os._exit, where atexit does not run), holding every call the worker made."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    monkeypatch.setenv("ANYCAPTURE_TEST_FOLDER", str(tmp_path))
    loader = torch.utils.data.DataLoader(
        Data(), batch_size=2, num_workers=2, multiprocessing_context="fork", worker_init_fn=_open_worker_block
    )
    assert torch.cat(list(loader)).tolist() == [[2.0 * i] * 3 for i in range(8)]
    del loader
    found = {}
    for worker in (0, 1):
        folder = anycapture.open_captures(tmp_path / f"worker-{worker}")
        assert folder.complete
        found.update({int(v[0]) // 2: worker for v in folder["scaled.y"]})
    assert sorted(found) == list(range(8))  # every item once, in one worker or the other
