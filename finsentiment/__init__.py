"""nlpsuite finsentiment product (see README.md)."""
