"""The ``>>>`` examples in the docstrings of minidl.nn, minidl.optim (with its learning-rate
schedules), minidl.metrics and the synthetic data sets run, on both backends, and every
public layer, loss and optimizer has one (its class docstring is the reference: formula,
Args, Shape, Attributes, example)."""
import doctest
import importlib

import numpy as np
import pytest

import minidl
from minidl import nn, optim

MODULES = sorted({f"minidl.nn.{m}" for m in nn._EXPORTS.values() if not m.endswith(":")}
                 | {f"minidl.optim.{m}" for m in optim._EXPORTS.values() if not m.endswith(":")}
                 | {"minidl.dtypes", "minidl.nn.init", "minidl.optim.lr", "minidl.optim.lr.base",
                    "minidl.optim.lr.trace", "minidl.metrics.classification", "minidl.metrics.confusion",
                    "minidl.metrics.regression", "minidl.metrics.report", "minidl.data.synthetic"})
PUBLIC_CLASSES = [name for name in nn.__all__ + optim.__all__
                  if name[0].isupper() and name not in ("Module", "Optimizer")]


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name, backend_name):
    module = importlib.import_module(module_name)
    previous = minidl.get_default_dtype()
    minidl.set_default_dtype(np.float32)          # the examples assume the documented default
    try:
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    finally:
        minidl.set_default_dtype(previous)
    assert result.failed == 0, f"{result.failed} doctest example(s) failed in {module_name}"


@pytest.mark.parametrize("name", PUBLIC_CLASSES)
def test_every_public_layer_loss_and_optimizer_documents_itself(name):
    cls = getattr(nn, name, None) or getattr(optim, name)
    doc = cls.__doc__ or ""
    examples = doctest.DocTestFinder().find(cls, name, globs={})
    assert any(test.examples for test in examples if test.name == name), f"{name} has no >>> example"
    assert len(doc.splitlines()) >= 5, f"{name}: a one-line docstring"
