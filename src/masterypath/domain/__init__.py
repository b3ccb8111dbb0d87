"""The pure domain core: no I/O, no clock, no global randomness."""
