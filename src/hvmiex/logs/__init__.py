"""Introspection-log parsing: line grammar, block grouping, violations, rendering and mining."""
