"""The README's Python examples run as written (a README that lies is worse than none)."""
import os
import re

import minidl

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def python_blocks():
    with open(README, encoding="utf-8") as f:
        return re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)


def test_readme_training_step_trains_and_uses_the_scheduler():
    blocks = [b for b in python_blocks() if "optimizer.step()" in b]
    assert blocks, "README lost its training-step example"
    ns = {}
    exec(compile(blocks[0], "README.md", "exec"), ns)
    assert ns["loss"] < 0.5                          # it learned the digits
    assert ns["optimizer"].get_lr() == ns["scheduler"]() == 0.0   # cosine reached eta_min at T_max


def test_readme_backend_snippet_names_real_functions():
    block = next(b for b in python_blocks() if "minidl.backend" in b)
    for name in re.findall(r"minidl\.backend\.(\w+)\(", block):
        assert callable(getattr(minidl.backend, name))
    assert re.findall(r"minidl\.backend\.(\w+)\(", block), "the backend snippet lost its calls"
