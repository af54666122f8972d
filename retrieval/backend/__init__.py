"""Building retrieval models for serving: export and quantisation (no runtime code)."""
