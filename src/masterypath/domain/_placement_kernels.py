"""Numba kernel for placement: Gibbs sweeps over knowledge states on a prerequisite graph.

Pure: every random number comes in as ``uniforms``. ``states`` is updated in place (the
caller passes a copy) and ``marginal`` accumulates the Rao-Blackwellised P(known) of each
update, so that dividing by ``chains * sweeps`` gives the posterior marginals.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def gibbs_sweeps(
    states: np.ndarray,
    classes: np.ndarray,
    order: np.ndarray,
    pa_ptr: np.ndarray,
    pa_idx: np.ndarray,
    ch_ptr: np.ndarray,
    ch_idx: np.ndarray,
    logit_ready: np.ndarray,
    logit_unready: np.ndarray,
    ratio_known: np.ndarray,
    ratio_unknown: np.ndarray,
    evidence: np.ndarray,
    uniforms: np.ndarray,
    marginal: np.ndarray,
) -> None:
    """Update node ``order[t]`` of every chain from its full conditional, for each t.

    ``classes[k]`` is chain k's latent learner class: the prior tables have one row per
    class. The conditional log-odds of competency c being known is its prior log-odds given its
    prerequisites, plus, for each dependent h whose other prerequisites are known, the
    log-ratio of h's state under "ready" versus "unready", plus the log-likelihood ratio
    of the answers on c (``evidence``).
    """
    chains = states.shape[0]
    for t in range(order.shape[0]):
        c = order[t]
        for k in range(chains):
            ready = True
            for j in range(pa_ptr[c], pa_ptr[c + 1]):
                if states[k, pa_idx[j]] == 0:
                    ready = False
                    break
            m = classes[k]
            z = (logit_ready[m, c] if ready else logit_unready[m, c]) + evidence[c]
            for j in range(ch_ptr[c], ch_ptr[c + 1]):
                h = ch_idx[j]
                others = True
                for i in range(pa_ptr[h], pa_ptr[h + 1]):
                    p = pa_idx[i]
                    if p != c and states[k, p] == 0:
                        others = False
                        break
                if others:
                    z += ratio_known[m, h] if states[k, h] == 1 else ratio_unknown[m, h]
            p1 = 1.0 / (1.0 + math.exp(-z)) if z > -700.0 else 0.0
            marginal[c] += p1
            states[k, c] = 1 if uniforms[k, t] < p1 else 0
