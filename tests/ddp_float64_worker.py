"""One process of a float64 distributed training run, for tests/test_distributed.py.

Started by torchrun like ``echobeat.stages.video_worker``, with the default dtype set to float64 first, so
that one process and several can be compared far below float32 rounding.
"""

import sys

import torch

torch.set_default_dtype(torch.float64)

from echobeat.stages.video_worker import main  # noqa: E402  (after the dtype: the model is built in it)

if __name__ == "__main__":
    main(sys.argv[1])
