"""Shared fixtures: the devices and dtypes every check runs on."""
import pytest
import torch

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
