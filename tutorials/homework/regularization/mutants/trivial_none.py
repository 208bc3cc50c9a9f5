# mutant: trivial submission: every function returns None
# loses: 16
# caught by: 1.1 L2 cost (−2), 1.2 L2 gradient (−2), 1.3 decoupled weight decay (−2), 1.4 dropout in
#   training (−2), 1.5 dropout at test time (−2), 2.1 SGD + L2 (lambda) takes the same step as
#   decoupled decay with wd = lambda / m (−2), 2.2 both dropouts keep the expected activation (−2),
#   2.3 weight decay steps over several iterations shrink the weights (−1), 2.4 arguments are not
#   modified (−1).
# A trivial submission must score at most 10 %.
def l2_cost(data_cost, params, lam, m):
    return None


def l2_grads(grads, params, lam, m):
    return None


def l2_step(params, x, y, lr, lam):
    return None


def decoupled_weight_decay_step(params, x, y, lr, wd):
    return None


def dropout(a, keep_prob, training, mode, rng):
    return None
