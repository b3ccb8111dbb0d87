"""Mastery models: estimators that turn a competency's evidence into an estimate.

Conventions (scikit-learn style): keyword-only ``__init__`` that only stores its
hyperparameters; ``fit(log) -> self`` validates and learns attributes ending in
``_``; using a model before ``fit`` raises :class:`masterypath.errors.NotFittedError`.
Every model also has a pure ``update(state, evidence) -> (state, log)`` for streaming.
"""
