"""The recommender as the suite's app finds it: entry point ``nlpsuite.products`` (shared.product.Product)."""
from shared.product.product import Product

PRODUCT = Product("recommender", commands="recommender.cli:register", web="recommender.web:plugin", suite="recommender.suite:part")
