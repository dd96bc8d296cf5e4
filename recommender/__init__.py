"""nlpsuite recommender product (see README.md)."""
