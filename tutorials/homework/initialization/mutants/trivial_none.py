# mutant: trivial submission: every function returns None
# loses: 19
# caught by: 1.1 Xavier uniform (−2), 1.2 He normal (−2), 1.3 orthogonal (−2), 1.4 init_mlp (−2),
#   1.5 100 ReLU layers with He init keep the activation scale (−2), 2.1 init_mlp draws each layer
#   with its method, in order (−3), 2.2 orthogonal for wide and tall weights (−2), 2.3 Xavier
#   uniform (−1), 2.4 N(0, 1) weights without a nonlinearity explode by sqrt(width) per layer (−1),
#   2.5 zero init (−1), 2.6 orthogonal weights preserve the scale of a deep linear net (−1).
# A trivial submission must score at most 10 %.
def xavier_uniform_(w, rng):
    return None


def he_normal_(w, rng):
    return None


def orthogonal_(w, rng):
    return None


def init_mlp(sizes, method, rng):
    return None


def activation_stds(x, depth, method, activation, rng):
    return None
