"""The web entrypoint: a Litestar app built by `create_app(container)`."""

from entrypoints.web.app import create_app

__all__ = ["create_app"]
