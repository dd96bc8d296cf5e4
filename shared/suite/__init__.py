"""`nlpsuite run`: prepare every installed product and run them together (see runner.py)."""
from shared.suite.parts import SuiteContext, SuitePart, load_parts
from shared.suite.services import Service, ServiceError, Supervisor, http_ready, smtp_ready
from shared.suite.settings import SuiteSettings

__all__ = ["Service", "ServiceError", "SuiteContext", "SuitePart", "SuiteSettings", "Supervisor", "http_ready",
           "load_parts", "smtp_ready"]
