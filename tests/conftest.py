"""Shared fixtures: the devices and dtypes every check runs on (shipped to students)."""
import pytest
import torch

# The checks use tiny tensors, for which one CPU thread is fastest: a thread
# pool only adds waiting (badly so on a busy machine).
torch.set_num_threads(1)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
DTYPES = [torch.float32, torch.float64]


@pytest.fixture(params=[(d, t) for d in DEVICES for t in DTYPES],
                ids=lambda p: f"{p[0]}-{str(p[1]).replace('torch.', '')}")
def device_dtype(request):
    """Each (device, dtype) pair: CPU float32 and float64, and CUDA when present."""
    return request.param


@pytest.fixture(params=DEVICES)
def device(request):
    """Each available device."""
    return torch.device(request.param)

