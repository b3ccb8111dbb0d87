"""Numba kernels for Bayesian Knowledge Tracing (two hidden states: unknown, learned).

Sequences are concatenated: ``obs[starts[k]:starts[k] + lengths[k]]`` is sequence k.
``ggroup[t]`` indexes the guess/slip parameters of the item at step t and ``lgroup[t]``
the learn/forget parameters of the transition *after* step t (practising that item).
All kernels are pure functions of their arguments.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_TINY = 1e-300


@njit(cache=True, nogil=True)
def _emission(o: int, learned: int, guess: float, slip: float) -> float:
    if learned:
        return 1.0 - slip if o == 1 else slip
    return guess if o == 1 else 1.0 - guess


@njit(cache=True, nogil=True)
def e_step(obs, ggroup, lgroup, starts, lengths, prior, learn, forget, guess, slip):
    """Forward-backward over every sequence; returns the expected sufficient statistics
    and the log-likelihood.

    Returns ``(prior_num, n_seq, learn_num, learn_den, forget_num, forget_den,
    guess_num, guess_den, slip_num, slip_den, loglik)``.
    """
    n_l = learn.shape[0]
    n_g = guess.shape[0]
    learn_num = np.zeros(n_l)
    learn_den = np.zeros(n_l)
    forget_num = np.zeros(n_l)
    forget_den = np.zeros(n_l)
    guess_num = np.zeros(n_g)
    guess_den = np.zeros(n_g)
    slip_num = np.zeros(n_g)
    slip_den = np.zeros(n_g)
    prior_num = 0.0
    loglik = 0.0
    max_len = 0
    for k in range(starts.shape[0]):
        if lengths[k] > max_len:
            max_len = lengths[k]
    alpha = np.empty((max_len, 2))
    beta = np.empty((max_len, 2))
    scale = np.empty(max_len)
    for k in range(starts.shape[0]):
        s0 = starts[k]
        n = lengths[k]
        # forward
        p_l = prior
        for t in range(n):
            i = s0 + t
            g = ggroup[i]
            o = obs[i]
            a0 = (1.0 - p_l) * _emission(o, 0, guess[g], slip[g])
            a1 = p_l * _emission(o, 1, guess[g], slip[g])
            c = a0 + a1
            if c < _TINY:
                c = _TINY
            scale[t] = c
            alpha[t, 0] = a0 / c
            alpha[t, 1] = a1 / c
            loglik += np.log(c)
            lg = lgroup[i]
            p_l = alpha[t, 1] * (1.0 - forget[lg]) + alpha[t, 0] * learn[lg]
        # backward
        beta[n - 1, 0] = 1.0
        beta[n - 1, 1] = 1.0
        for t in range(n - 2, -1, -1):
            i = s0 + t
            j = i + 1
            lg = lgroup[i]
            gj = ggroup[j]
            e0 = _emission(obs[j], 0, guess[gj], slip[gj])
            e1 = _emission(obs[j], 1, guess[gj], slip[gj])
            b0 = (1.0 - learn[lg]) * e0 * beta[t + 1, 0] + learn[lg] * e1 * beta[t + 1, 1]
            b1 = forget[lg] * e0 * beta[t + 1, 0] + (1.0 - forget[lg]) * e1 * beta[t + 1, 1]
            c = scale[t + 1]
            beta[t, 0] = b0 / c
            beta[t, 1] = b1 / c
        # statistics
        for t in range(n):
            i = s0 + t
            g0 = alpha[t, 0] * beta[t, 0]
            g1 = alpha[t, 1] * beta[t, 1]
            z = g0 + g1
            if z < _TINY:
                z = _TINY
            g0 /= z
            g1 /= z
            if t == 0:
                prior_num += g1
            g = ggroup[i]
            guess_den[g] += g0
            slip_den[g] += g1
            if obs[i] == 1:
                guess_num[g] += g0
            else:
                slip_num[g] += g1
            if t < n - 1:
                j = i + 1
                lg = lgroup[i]
                gj = ggroup[j]
                e0 = _emission(obs[j], 0, guess[gj], slip[gj])
                e1 = _emission(obs[j], 1, guess[gj], slip[gj])
                c = scale[t + 1]
                x01 = alpha[t, 0] * learn[lg] * e1 * beta[t + 1, 1] / c
                x10 = alpha[t, 1] * forget[lg] * e0 * beta[t + 1, 0] / c
                learn_num[lg] += x01
                learn_den[lg] += g0
                forget_num[lg] += x10
                forget_den[lg] += g1
    return (
        prior_num,
        starts.shape[0],
        learn_num,
        learn_den,
        forget_num,
        forget_den,
        guess_num,
        guess_den,
        slip_num,
        slip_den,
        loglik,
    )


@njit(cache=True, nogil=True)
def predict(obs, ggroup, lgroup, starts, lengths, prior, learn, forget, guess, slip):
    """P(correct) of every step given the steps before it, and P(learned) before each step."""
    n_total = obs.shape[0]
    p_correct = np.empty(n_total)
    p_known = np.empty(n_total)
    for k in range(starts.shape[0]):
        p_l = prior
        for t in range(lengths[k]):
            i = starts[k] + t
            g = ggroup[i]
            p_known[i] = p_l
            p_correct[i] = p_l * (1.0 - slip[g]) + (1.0 - p_l) * guess[g]
            if obs[i] == 1:
                num = p_l * (1.0 - slip[g])
                den = p_correct[i]
            else:
                num = p_l * slip[g]
                den = 1.0 - p_correct[i]
            post = num / den if den > _TINY else p_l
            lg = lgroup[i]
            p_l = post * (1.0 - forget[lg]) + (1.0 - post) * learn[lg]
    return p_correct, p_known


@njit(cache=True, nogil=True)
def fit_em(
    obs,
    ggroup,
    lgroup,
    starts,
    lengths,
    inits,
    n_guess,
    n_learn,
    forgets,
    max_guess,
    max_slip,
    max_iter,
    tol,
):
    """EM from each row of ``inits`` (prior, learn, forget, guess, slip); the run with the
    best log-likelihood wins. Returns (prior, learn, forget, guess, slip, loglik, iters)."""
    eps = 1e-6
    n_obs = max(obs.shape[0], 1)
    best_ll = -np.inf
    best_prior = 0.0
    best_learn = np.zeros(n_learn)
    best_forget = np.zeros(n_learn)
    best_guess = np.zeros(n_guess)
    best_slip = np.zeros(n_guess)
    best_iters = 0
    for r in range(inits.shape[0]):
        prior = inits[r, 0]
        learn = np.full(n_learn, inits[r, 1])
        forget = np.full(n_learn, inits[r, 2] if forgets else 0.0)
        guess = np.full(n_guess, inits[r, 3])
        slip = np.full(n_guess, inits[r, 4])
        previous = -np.inf
        loglik = -np.inf
        iters = 0
        for it in range(max_iter):
            iters = it + 1
            (
                prior_num,
                n_seq,
                learn_num,
                learn_den,
                forget_num,
                forget_den,
                guess_num,
                guess_den,
                slip_num,
                slip_den,
                loglik,
            ) = e_step(obs, ggroup, lgroup, starts, lengths, prior, learn, forget, guess, slip)
            if n_seq > 0:
                prior = min(max(prior_num / n_seq, eps), 1.0 - eps)
            for j in range(n_learn):
                if learn_den[j] > 0:
                    learn[j] = min(max(learn_num[j] / learn_den[j], eps), 1.0 - eps)
                if forgets and forget_den[j] > 0:
                    forget[j] = min(max(forget_num[j] / forget_den[j], eps), 1.0 - eps)
            for j in range(n_guess):
                if guess_den[j] > 0:
                    guess[j] = min(max(guess_num[j] / guess_den[j], eps), max_guess)
                if slip_den[j] > 0:
                    slip[j] = min(max(slip_num[j] / slip_den[j], eps), max_slip)
            if (loglik - previous) / n_obs < tol:
                break
            previous = loglik
        if loglik > best_ll:
            best_ll = loglik
            best_prior = prior
            best_learn[:] = learn
            best_forget[:] = forget
            best_guess[:] = guess
            best_slip[:] = slip
            best_iters = iters
    return best_prior, best_learn, best_forget, best_guess, best_slip, best_ll, best_iters
