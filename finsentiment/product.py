"""The finsentiment as the suite's app finds it: entry point ``nlpsuite.products`` (shared.product.Product)."""
from shared.product.product import Product

PRODUCT = Product("finsentiment", commands="finsentiment.cli:register", web="finsentiment.web:plugin", suite="finsentiment.suite:part")
