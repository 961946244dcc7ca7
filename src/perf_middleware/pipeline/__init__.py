"""The per-request response pipeline: policy -> ETag -> conditional -> compression.

``settings`` holds what a middleware resolves once (``Pipeline``, response plans), ``responder``
the per-request ``send`` wrapper, ``headers`` the pure header helpers a cache stage shares, and
``observe`` the bridge to the metrics.
"""
