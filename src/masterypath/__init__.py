"""masterypath: a competency-based education engine.

The package is layered (imports point inward only)::

    api, cli, web  ->  services  ->  domain
    interop, store ----------------^

``domain`` is pure: no I/O, no clock, no global randomness.
"""

from masterypath.errors import MasterypathError

__version__ = "0.1.0"

__all__ = ["MasterypathError", "__version__"]
