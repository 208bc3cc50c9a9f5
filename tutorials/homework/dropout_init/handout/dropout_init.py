"""Homework: inverted dropout and He initialisation.

Fill in the three functions below. Run the public tests with

    minidl-grade check dropout_init.py

(more tests are graded after the due date). Only the functions are graded: in the default
"defs" mode, top-level code such as a training loop is not executed by the grader.
"""
import numpy as np


def dropout_forward(x, p, training, rng):
    """Inverted dropout on an array x of any shape and float dtype. Returns (out, cache).

    p         probability of DROPPING a unit (keep probability 1 − p), 0 ≤ p ≤ 1
    training  False: return a copy of x and do not touch rng
    rng       a numpy.random.Generator — draw the mask with exactly one call
                  mask = rng.random(x.shape) >= p
              (the grader reproduces this draw from the same seed)

    In training, out = x · mask / (1 − p), with out.dtype == x.dtype; when p == 1 every unit
    is dropped and out is all zeros (no division by zero). Do not modify x. ``cache`` is
    whatever dropout_backward needs.
    """
    raise NotImplementedError


def dropout_backward(dout, cache):
    """Gradient of dropout_forward: dx = dout · mask / (1 − p) with the SAME mask the forward
    pass drew (all zeros when p == 1; dout itself in eval mode). Do not modify dout."""
    raise NotImplementedError


def he_normal_(w, rng):
    """Fill the weight array w IN PLACE with samples of N(0, 2 / fan_in) drawn from rng and
    return w. w has shape (fan_out, fan_in) for a linear layer or (fan_out, in, kh, kw) for a
    convolution, where fan_in = in · kh · kw."""
    raise NotImplementedError
