"""anycapture: capture the local variables of any Python function while it runs.

Attention maps and other intermediate tensors computed deep inside a model, with no change to
the model's code and no cost while capture is off::

    from anycapture import get_local

    @get_local("attn")              # returns the very same function
    def attention(q, k):
        attn = (q @ k.T).softmax(-1)
        return attn @ k

    get_local.activate()            # before or after the model is imported
    attention(q, k)
    get_local.cache                 # {'attention.attn': [array(...)]}
    get_local.clear()

Decorating a function you cannot edit works the same way, after import::

    get_local("attn")(timm.models.vision_transformer.Attention.forward)

For one block only, labelled by layer::

    with anycapture.capture(Attention.forward, "attn", model=model) as cap:
        model(x)
    cap.stack("attn")                # [layers, batch, heads, q, k]
    cap.by_path("attn")              # {'blocks.0.attn': [...], ...}

Every assignment, not only the last (``when="each"``), and editing a local where it is assigned::

    anycapture.assignments(Attention.forward, "attn")     # where `attn` is assigned: at=0, 1, ...
    with anycapture.edit(Attention.forward, "attn", zero_head_3, at=-2):
        model(x)                                          # the rest of forward uses the edit

An interactive explorer (token, matrix, model and patch views) as one offline HTML file::

    anycapture.explore(cap, tokens=tokens).save("attention.html")
"""

from __future__ import annotations

from . import distributed, recipes
from ._attention import AttentionCapture, capture_attention, rowwise
from ._backends import BackendInfo, backend_info, backends
from ._capture import Capture, EmptyCaptureError, Record, capture
from ._copies import Pending
from ._disk import CaptureFileError, CaptureFolder, CaptureWriteError, StoredRecord, Writer, open_captures
from ._edit import Edit, Site, assignments, edit
from ._errors import BackendUnavailableError, CaptureError, CaptureWarning, UnknownVariableError
from ._explore import Explorer, explore
from ._generation import generation_map
from ._get_local import get_local

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "AttentionCapture",
    "BackendInfo",
    "BackendUnavailableError",
    "Capture",
    "CaptureError",
    "CaptureFileError",
    "CaptureFolder",
    "CaptureWarning",
    "CaptureWriteError",
    "Edit",
    "EmptyCaptureError",
    "Explorer",
    "Pending",
    "Record",
    "Site",
    "StoredRecord",
    "UnknownVariableError",
    "Writer",
    "assignments",
    "backend_info",
    "backends",
    "capture",
    "capture_attention",
    "distributed",
    "edit",
    "explore",
    "generation_map",
    "get_local",
    "open_captures",
    "recipes",
    "rowwise",
]
