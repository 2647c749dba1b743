import os

# Two OpenMP threads on the 2-core CI machines sometimes make torch 100x slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)
