"""Build step: minify, fingerprint, precompress, manifest, CDN upload, service worker."""

__version__ = "0.1.0"
