"""Registries that tests run in real `relay worker` processes."""
