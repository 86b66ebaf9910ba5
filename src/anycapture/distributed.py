"""Captures in jobs of many processes: torchrun ranks, and the records of every rank in one place.

Each rank captures its own records, as in a single process. Two ways bring them together:

* in memory, :func:`gather` sends every rank's records to one rank through ``torch.distributed``
  (all ranks call it, as any collective), each record tagged with the rank that captured it::

      from anycapture import distributed

      with anycapture.capture(Attention.forward, "attn", model=model) as cap:
          model(batch)
      records = distributed.gather(cap)          # on rank 0: every rank's records; None elsewhere
      if records is not None:
          [(r.rank, r.path, r.value.shape) for r in records]

* on disk, ``capture(..., sink="captures/")`` writes ``captures/rank-<r>/`` on each rank, and
  ``anycapture.open_captures("captures/")`` reads the folder of ranks as one capture, after the
  job or once every rank has closed its block (``torch.distributed.barrier()``).

Records captured in a forked DataLoader worker stay in that worker: they are not written to a
sink (one warning there) and never reach the parent's records, which hold the parent's own
calls exactly. See docs/scale.md, "torchrun and DataLoader workers".

torch is imported only by :func:`gather`, and only when a process group is initialised.
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Iterable
from typing import Any

from ._capture import Capture
from ._disk import launch
from ._errors import CaptureError
from ._records import RankedRecord, Record, StoredRecord

__all__ = ["RankedRecord", "gather", "rank", "world_size"]


def rank() -> int | None:
    """This process's rank: ``torch.distributed``'s once initialised, else torchrun's ``RANK``; ``None`` alone.

    >>> from anycapture import distributed
    >>> distributed.rank() is None or distributed.rank() >= 0
    True
    """
    return launch()[0]


def world_size() -> int | None:
    """How many ranks the job has (``torch.distributed``, else ``WORLD_SIZE``); ``None`` in a single process.

    >>> from anycapture import distributed
    >>> distributed.world_size() is None or distributed.world_size() >= 1
    True
    """
    return launch()[1]


def _portable(value: Any) -> Any:
    """``value`` with its torch tensors on the CPU: rank ``dst`` may have no such device, or another."""
    torch = sys.modules.get("torch")
    if torch is None:
        return value
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if type(value) in (list, tuple):  # not named tuples or subclasses: they are rebuilt differently
        return type(value)(_portable(item) for item in value)
    if type(value) is dict:
        return {key: _portable(item) for key, item in value.items()}
    return value


def _records_of(capture: Capture | Iterable[Record]) -> list[Record]:
    if isinstance(capture, Capture):
        if capture.sink is not None:
            raise TypeError(
                "this capture block streamed its records to disk (sink=); every rank wrote its own rank-<r> "
                "folder there: read them all with anycapture.open_captures(<the sink folder>) once every rank has "
                "closed its block, instead of gathering"
            )
        return capture.records
    records = list(capture)
    for record in records:
        if not isinstance(record, Record) or isinstance(record, StoredRecord):  # a folder's: values on disk
            raise TypeError(
                f"gather() takes a capture block or records of one (anycapture.Record); got {type(record).__name__!r}"
            )
    return records


def _ranked(rank: int, records: list[Record]) -> list[RankedRecord]:
    # Every field kept, by position (one record type), the rank set.
    return [RankedRecord._make(record)._replace(rank=rank) for record in records]


def gather(capture: Capture | Iterable[Record], *, dst: int | None = 0, group: Any = None) -> list[RankedRecord] | None:
    """The records of every rank, on rank ``dst`` (every rank with ``dst=None``); a collective.

    Every rank of the group calls it, with its capture block (in memory, not ``sink=``) or some of
    its records (``cap.select(...)``). Rank ``dst`` gets a list of :class:`RankedRecord`, ordered by
    rank then by capture order, each tagged with the rank that captured it; the other ranks get
    ``None`` (with ``dst=None``, every rank gets the list). Torch tensors are moved to the CPU
    before they are sent. Without an initialised process group (a single process), the records of
    this process are returned, tagged with its :func:`rank` (0 when there is none).

    Records travel pickled, through ``torch.distributed.gather_object`` (``all_gather_object`` for
    ``dst=None``): between the ranks of one job, which trust each other, as torch itself does. A
    rank whose records cannot be pickled still takes part, so no rank waits forever; the error is
    raised on that rank and on ``dst`` (a rank that gives a block with ``sink=`` takes part too, then
    raises its :class:`TypeError`). Everything is held in memory on ``dst``: gather a few
    batches, and stream larger captures to a ``sink=`` folder.

    Example::

        with anycapture.capture(Attention.forward, "attn", model=model) as cap:
            model(batch)
        records = distributed.gather(cap)
        if records is not None:                              # rank 0
            by_rank = {r.rank: r.value for r in records if r.path == "blocks.0.attn"}
    """
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return _ranked(rank() or 0, _records_of(capture))
    me = int(dist.get_rank())
    failure: Exception | None = None
    why = ""
    try:
        records = _records_of(capture)
        payload: tuple[int, bytes | str] = (
            me,
            pickle.dumps([record._replace(value=_portable(record.value)) for record in records]),
        )
    except Exception as exc:  # reported after the collective, so that no rank waits forever
        failure, why = exc, f"{type(exc).__name__}: {exc}"
        payload = (me, why)
    if dst is None:
        received: list[Any] | None = [None] * int(dist.get_world_size(group))
        dist.all_gather_object(received, payload, group=group)
    else:
        received = [None] * int(dist.get_world_size(group)) if me == dst else None
        dist.gather_object(payload, received, dst=dst, group=group)
    if isinstance(failure, TypeError):  # a block with sink=, or not records: the caller's mistake
        raise failure
    if failure is not None:
        raise CaptureError(f"the records of rank {me} could not be sent: {why}") from failure
    if received is None:
        return None
    result: list[RankedRecord] = []
    for sender, data in sorted(received, key=lambda item: item[0]):
        if isinstance(data, str):
            raise CaptureError(f"the records of rank {sender} could not be sent to rank {me}: {data}")
        # Pickles from the other ranks of this job, which torch's own *_object collectives trust too.
        result += _ranked(sender, pickle.loads(data))  # noqa: S301
    return result
