"""Methods added to this checkout by ``poseboard new-method``: name → ``"module:Class"``.

Kept apart from :data:`poseboard.methods.registry.BUILTIN_METHODS` so that adding a method
edits no file the built-in methods' DVC stages depend on: ``dvc.yaml`` lists their code file
by file (not the whole ``poseboard/methods`` folder), and each method block's ``code`` names
the module its own stages depend on. After ``poseboard new-method`` (or adding a line here by
hand), ``dvc status`` shows only the new method's stages as new, never the built-in ones as
changed.
"""

from __future__ import annotations

#: name → "module:Class" of the methods added with ``poseboard new-method`` (empty as shipped).
ADDED_METHODS: dict[str, str] = {}
