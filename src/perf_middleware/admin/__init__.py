"""The operator API, mounted by ``PerformanceMiddleware`` only when ``AdminConfig`` has a token.

``config`` is light (the middleware reads it); ``app`` and the Prometheus exposition it serves
are imported only when the API is enabled.
"""
