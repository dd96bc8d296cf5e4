"""The app layer: what runs the suite on top of the products and the core.

The ``nlpsuite`` command (``cli``), `nlpsuite run` (``runner``: prepare, start, watch, stop),
the one process supervisor (``supervisor``), the web host (``web``), the local mail outbox
(``outbox``), the log format (``logging_setup``), ``config check`` and the fine-tuning of the
classifiers products declare (``quickstart``). It finds products by entry point
(``discovery``) and imports none of them; nothing below it imports it.
"""
