# mutant: trivial submission: parameters unchanged, state unchanged, learning rate 0
# loses: 16
# caught by: 1.1 SGD with momentum (−2), 1.2 SGD weight decay on the weights, never on the biases
#   (−2), 1.3 Adam's first step moves every weight by about lr (bias correction) (−2), 1.4 piecewise
#   decay (−2), 1.5 linear warm-up into cosine decay (−2), 2.1 Adam (−2), 2.2 SGD with momentum 0 is
#   plain gradient descent (−1), 2.3 schedules over a whole run (−2), 2.4 arguments are not modified
#   (−1).
# A trivial submission must score at most 10 %.
def sgd_momentum_step(params, grads, velocity, lr, momentum=0.9, weight_decay=0.0):
    return dict(params), dict(velocity)


def adam_step(params, grads, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    return dict(params), dict(m), dict(v)


def piecewise_lr(epoch, boundaries, values):
    return 0.0


def warmup_cosine_lr(step, base_lr, warmup_steps, total_steps, min_lr=0.0):
    return 0.0
