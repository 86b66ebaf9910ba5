"""Captures on disk: a background writer of safetensors shards, and a lazy reader of them.

A capture folder holds ``index.json`` and shards ``shard-00000.safetensors``, ``shard-00001...``.
Each shard is an ordinary safetensors file: its tensors are named by record number (``"17"``) and
its ``__metadata__`` holds one entry, ``"anycapture"``, the JSON of its records (key, variable,
function, module path, call, thread, order, ...; small scalars are stored there as values). A
record too big to hold is stored in row parts, tensors ``"17.0"``, ``"17.512"``, ... whose entries
say their ``rows: [start, stop]`` (format version 2), which the reader joins back. The index lists
the complete shards; it is replaced atomically whenever a shard is written and at every flush, so
a job that dies leaves a folder whose listed shards are all complete and readable.

Under torchrun (a rank known from ``torch.distributed`` or the ``RANK`` variable), each rank's
writer uses ``<folder>/rank-<r>/``, whose index records the rank, so ranks never share a file; the
reader opens such a folder as one capture whose records know their rank. A process forked from the
one that opened a writer (a DataLoader worker) never touches the folder: its records are dropped
with one warning, so nothing is written twice or half.

Nothing is ever unpickled: the reader parses JSON and safetensors headers only, and a file that
is not what the index says raises :class:`CaptureFileError` naming it.

numpy, safetensors and torch are imported inside the functions that need them.

The package's modules, top to bottom: ``_reader`` (:class:`CaptureFolder`, :func:`open_captures`) and
``_writer`` (:class:`Writer`); ``_shards`` (the writer's queue, shards and folder checks) and
``_storable`` (what a folder can hold); ``_format`` (names, dtypes, errors, index checks).
"""

from __future__ import annotations

from .._records import StoredRecord
from ._format import FORMAT, VERSION, CaptureFileError, CaptureWriteError, launch
from ._reader import CaptureFolder, open_captures
from ._writer import Writer
from ._writer import _writers as _writers

__all__ = [
    "FORMAT",
    "VERSION",
    "CaptureFileError",
    "CaptureFolder",
    "CaptureWriteError",
    "StoredRecord",
    "Writer",
    "launch",
    "open_captures",
]
