"""The per-request response pipeline: policy -> ETag -> conditional -> compression.

``settings`` holds what a middleware resolves once (``Pipeline``), ``plans`` the responses
already worked out, ``request`` the request fields the pipeline reads, ``responder`` the
per-request ``send`` wrapper, ``capture`` what a cache stage records of a response,
``headers`` the pure header helpers a cache stage shares, and ``observe`` the bridge to the
metrics.
"""
