"""Content codings (zstd, br, gzip): configuration and encoders (``codecs``), and the memo of
encoded bodies (``memo``). Negotiation rules live in ``perf_middleware.http.accept_encoding``.
"""
