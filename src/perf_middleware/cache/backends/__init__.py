"""Storage backends for the response cache: one protocol (``base``), memory and Redis."""
