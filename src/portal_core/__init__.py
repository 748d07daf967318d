"""portal_core: the pure domain of the client portal.

Cases, organisations and access rules, billing rules, idempotent event handling, use cases and
the ports they need. Imports only the standard library and attrs; nothing here does I/O.
"""
