"""The wheel as a user installs it: built by maturin, installed into a fresh venv."""
