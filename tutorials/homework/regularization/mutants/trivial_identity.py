# mutant: trivial submission: no regularization at all (identity everywhere)
# loses: 15.5
# caught by: 1.1 L2 cost (−2), 1.2 L2 gradient (−1.5), 1.3 decoupled weight decay (−2), 1.4 dropout
#   in training (−2), 1.5 dropout at test time (−2), 2.1 SGD + L2 (lambda) takes the same step as
#   decoupled decay with wd = lambda / m (−2), 2.2 both dropouts keep the expected activation (−2),
#   2.3 weight decay steps over several iterations shrink the weights (−1), 2.4 arguments are not
#   modified (−1).
# A trivial submission must score at most 10 %.
def l2_cost(data_cost, params, lam, m):
    return float(data_cost)


def l2_grads(grads, params, lam, m):
    return {k: v.copy() for k, v in grads.items()}


def l2_step(params, x, y, lr, lam):
    return {k: v.copy() for k, v in params.items()}


def decoupled_weight_decay_step(params, x, y, lr, wd):
    return {k: v.copy() for k, v in params.items()}


def dropout(a, keep_prob, training, mode, rng):
    return a.copy()
