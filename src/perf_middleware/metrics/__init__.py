"""Request metrics: in-process counters (``counters``), their shareable state (``state``),
Prometheus exposition (``prometheus``, imported only by the admin API) and ``Server-Timing``.
"""
