# mutant: every function returns None (the handout's stubs with `pass` instead of raise)
# loses: 22
# caught by: every test, without an autograder error (the tests require a tuple / an array
# before they unpack or compare).


def dropout_forward(x, p, training, rng):
    return None


def dropout_backward(dout, cache):
    return None


def he_normal_(w, rng):
    return None
