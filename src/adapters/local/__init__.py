"""Embedded defaults that need no outside service: files on local disk (`adapters.local.files`)
and local sign-in."""
