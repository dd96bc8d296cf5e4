"""What a recommend request may ask for, importable without loading any model code (the CLI's
argument parser and the web app's validation use it before anything heavy is imported)."""
from __future__ import annotations

MODES = ("full", "retrieval", "cooccurrence", "popularity")
"""full: the cascade; retrieval: FAISS alone; cooccurrence: behaviour alone; popularity."""
SCOPES = ("all", "new")
"""``new``: only items nobody has interacted with yet (the "new for you" shelf)."""
MAX_K = 100
