"""nlpsuite's device runtime: a packed classifier that answers and learns where it runs.

It needs numpy, onnxruntime and tokenizers and nothing else (an import-linter contract and a
test keep it so), and ships alone as the ``nlpsuite-device`` wheel (``make device-wheel``), in
which this package is named ``nlpsuite_device``; its modules therefore import each other
relatively. ``nlpsuite device pack`` (in the suite, with torch) makes the bundles it reads.

    from nlpsuite_device import DeviceClassifier       # in the suite: shared.device
    clf = DeviceClassifier("bundle/")
    clf.predict(["where is my card?"])[0].label
    clf.learn(["texts", ...], ["new_label", ...]); clf.rollback()
"""
from .bundle import Bundle, BundleError, DeviceError
from .classifier import DeviceClassifier, DevicePrediction, LearnReport

__all__ = ["Bundle", "BundleError", "DeviceClassifier", "DeviceError", "DevicePrediction", "LearnReport"]
__version__ = "0.1.0"
