"""Amazon S3 adapters: the file store."""

from adapters.s3.files import S3FileStore

__all__ = ["S3FileStore"]
