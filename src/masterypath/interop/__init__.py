"""Reading and writing the formats institutions already have (adapters; may do I/O)."""
