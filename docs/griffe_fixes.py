"""A Griffe extension for the API reference (``extensions: [docs/griffe_fixes.py]`` in
mkdocs.yml).

The reference reads the imported package (``force_inspection``), and inspecting a class
attribute takes ``value.__doc__``, which for ``training = True`` is the documentation of
``bool`` and for a ``__slots__`` entry (``Tensor.data``) prints ``<member 'data' of 'Tensor'
objects>`` as its value. This extension drops both: such an attribute shows its name and kind
only (and its own docstring, if the package gives it one).
"""
from __future__ import annotations

import types
from typing import Any

from griffe import Extension


class DocsFixes(Extension):
    def on_attribute_instance(self, *, node: Any, attr: Any, agent: Any, **kwargs: Any) -> None:
        obj = getattr(node, "obj", None)  # an ObjectNode when inspecting; an ast node otherwise
        if obj is None:
            return
        try:
            self._fix(obj, attr)
        except Exception:  # never let a cosmetic fix make griffe drop a module
            pass

    @staticmethod
    def _fix(obj: Any, attr: Any) -> None:
        if isinstance(obj, (types.MemberDescriptorType, types.GetSetDescriptorType)):
            attr.value = None
            if attr.docstring is not None and not isinstance(obj.__doc__, str):
                attr.docstring = None
            return
        type_doc = getattr(type(obj), "__doc__", None)
        if attr.docstring is not None and not isinstance(obj, type) and isinstance(type_doc, str) \
                and attr.docstring.value.strip() == type_doc.strip():
            attr.docstring = None  # the docstring of the value's type, not of the attribute
