"""Name resolution: turning stored 32-bit name hashes back into names.

A :class:`NameResolver` holds candidate names (a bundled dictionary of common Windows and Linux
process, module, driver and export names, plus names harvested from JSON sources) and finds the one
whose hash under a field's :class:`~hvmiex.names.HashRule` equals a stored value.
"""

from hvmiex.namedb.resolver import NameResolver, builtin_names, harvest_names
from hvmiex.namedb.rules import FieldRule, exception_field_rule, export_function_rule, export_library_rule

__all__ = [
    "FieldRule",
    "NameResolver",
    "builtin_names",
    "exception_field_rule",
    "export_function_rule",
    "export_library_rule",
    "harvest_names",
]
