"""nlpsuite chatbot product (see README.md)."""
