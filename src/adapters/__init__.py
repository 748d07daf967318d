"""Adapters: one package per technology, each implementing ports of `portal_core.ports`."""
