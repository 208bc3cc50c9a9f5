"""minidl/_memory.py: freed activations are kept for reuse instead of page-faulting each step."""
import platform
import subprocess
import sys

import pytest

import minidl
from minidl import _memory

SCRIPT = """
import resource, numpy as np
import minidl
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def step():   # three 3.2 MB activations allocated and freed, like a layer stack's outputs
    a = np.ones((64, 16, 28, 28), np.float32); b = a * 2; c = b + a; del a, b, c
for _ in range(5):
    step()
before = faults()
for _ in range(20):
    step()
print(faults() - before)
"""

glibc_only = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                reason="malloc tuning applies to glibc only")


def _page_faults(env_value):
    env = {**__import__("os").environ, "MINIDL_MALLOC_TUNING": env_value}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


@glibc_only
def test_repeated_steps_do_not_page_fault():
    tuned, untouched = _page_faults("1"), _page_faults("0")
    if untouched < 20 * 100:
        pytest.skip(f"this system's malloc keeps the memory anyway ({untouched} faults untuned)")
    # Untuned glibc returns the freed blocks and faults them back in: ~800 faults per 3.2 MB.
    assert tuned < untouched / 100


@glibc_only
@pytest.mark.skipif(__import__("os").environ.get("MINIDL_MALLOC_TUNING", "1").lower() in ("0", "false", "no", "off"),
                    reason="the test run itself has malloc tuning switched off")
def test_tuning_is_on_by_default_and_reported(capsys):
    assert _memory.malloc_tuned() is True
    assert minidl.info()["malloc_tuning"] is True
    capsys.readouterr()


@glibc_only
@pytest.mark.parametrize("value", ["0", "OFF", "False"])
def test_tuning_can_be_switched_off(value):
    code = "import minidl._memory as m, minidl; print(m.malloc_tuned())"
    env = {**__import__("os").environ, "MINIDL_MALLOC_TUNING": value}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
