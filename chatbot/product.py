"""The chatbot as the suite's app finds it: entry point ``nlpsuite.products`` (shared.product.Product)."""
from shared.product.product import Product

PRODUCT = Product("chatbot", commands="chatbot.cli:register", web="chatbot.web:plugin", suite="chatbot.suite:part")
