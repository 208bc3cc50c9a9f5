# mutant: trivial submission: zero gradients, difference 0, no bug found
# loses: 14
# caught by: 1.2 centred differences over every entry of every parameter (−3), 1.3 the seed's
#   relative difference (−2), 1.4 every perturbation is undone (−1), 1.5 with your default eps the
#   given backward passes the check (difference < 1e-7) (−2), 2.1 find_bugs locates the seed's
#   planted bugs (dW2 x 2, db1 x 4) (−2), 2.2 find_bugs accepts a correct backward pass (−1), 2.3
#   find_bugs sees one wrong entry (−1), 2.4 relative difference of two dicts (−1), 2.5 centred
#   differences are second-order accurate (−1).
# A trivial submission must score at most 10 %.
import numpy as np


def numerical_gradient(params, x, y, eps=1e-7):
    return {name: np.zeros_like(theta) for name, theta in params.items()}


def relative_difference(grad, approx):
    return 0.0


def find_bugs(params, x, y, grads, threshold=1e-7):
    return []
