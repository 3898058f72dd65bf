"""Batch buffers that DataLoader workers fill in place and hand over without a copy."""

from __future__ import annotations

import math

import torch
from torch.utils.data import get_worker_info


def batch_buffer(shape: tuple[int, ...], dtype: torch.dtype = torch.uint8) -> torch.Tensor:
    """An uninitialised tensor for a whole batch.

    Inside a DataLoader worker it is allocated in shared memory, as torch's own collate does,
    so that handing the batch to the main process copies nothing.
    """
    if get_worker_info() is None:
        return torch.empty(shape, dtype=dtype)
    elem = torch.empty(0, dtype=dtype)
    storage = elem._typed_storage()._new_shared(math.prod(shape), device=elem.device)
    return elem.new(storage).resize_(*shape)
