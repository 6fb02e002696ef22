"""Race adapters, one module per system (see ../README.md)."""
