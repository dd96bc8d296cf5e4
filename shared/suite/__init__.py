"""`nlpsuite run`: prepare every installed product and run them together (see runner.py)."""
from shared.suite.parts import PROFILE_NAMES, ClassifierSpec, SuiteContext, SuitePart, classifier_specs, load_parts
from shared.suite.services import Service, ServiceError, Supervisor, http_ready, smtp_ready
from shared.suite.settings import SuiteSettings

__all__ = ["PROFILE_NAMES", "ClassifierSpec", "classifier_specs", "Service", "ServiceError", "SuiteContext", "SuitePart", "SuiteSettings", "Supervisor", "http_ready",
           "load_parts", "smtp_ready"]
