"""Helpers shared by the optimizer tests: run an optimizer on fixed gradients."""
import numpy as np

from minidl.nn.parameter import Parameter

SHAPES = [(4, 3), (3,), (2, 2, 2)]


def make_problem(seed=0, steps=5, shapes=SHAPES):
    """Initial values and one list of gradients per step (float64)."""
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(steps)]
    return init, grads


def run(make_optimizer, init, grads, dtype=np.float64, params=None):
    """Feed ``grads`` (one list per step) to an optimizer over Parameters made from ``init``.
    Returns (params, optimizer)."""
    if params is None:
        params = [Parameter(np.array(x), dtype=dtype) for x in init]
    opt = make_optimizer(params)
    for step_grads in grads:
        opt.zero_grad()
        for p, g in zip(params, step_grads):
            p.accumulate_grad(np.asarray(g, dtype=p.dtype))
        opt.step()
    return params, opt


def torch_run(torch, make_optimizer, init, grads):
    """The same run with torch.optim in float64; returns the final values as ndarrays."""
    tensors = [torch.tensor(np.array(x), dtype=torch.float64, requires_grad=True) for x in init]
    opt = make_optimizer(tensors)
    for step_grads in grads:
        for t, g in zip(tensors, step_grads):
            t.grad = torch.tensor(np.array(g), dtype=torch.float64)
        opt.step()
    return [t.detach().numpy() for t in tensors]


def assert_all_close(actual_params, expected, rtol=1e-12, atol=1e-14):
    for p, e in zip(actual_params, expected):
        values = p.data if isinstance(p, Parameter) else p
        np.testing.assert_allclose(values, e, rtol=rtol, atol=atol)
