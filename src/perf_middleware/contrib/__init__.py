"""Framework integrations of the runtime: ``contrib.django`` (serving, template tags,
invalidation from signals) and ``contrib.litestar`` (an ``InitPluginProtocol`` plugin).

Each imports its framework, so none of them is imported by ``import perf_middleware``.
"""
