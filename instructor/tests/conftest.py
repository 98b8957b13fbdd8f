"""The instructor's tests use the fixtures of the shipped checks (devices and dtypes)."""
from tests.conftest import device, device_dtype  # noqa: F401 - fixtures, found by name
