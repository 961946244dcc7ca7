"""HTTP rules as pure functions: no I/O, no ASGI, exhaustively tested."""
