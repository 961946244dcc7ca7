"""Example Starlette app wrapped in PerformanceMiddleware (``make demo``)."""
