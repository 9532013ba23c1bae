"""One package per framework, the same file names in each (see shared/protocol.py).

Importing ``backends`` or a backend package imports no framework; ``model.py`` does.
"""
