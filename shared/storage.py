"""Object stores for backups and reports: a local folder or an S3-compatible bucket.

`open_store("file:///path")` or `open_store("s3://bucket/prefix")` gives the
same small interface, so jobs and the health check never care which one is
configured. boto3 is imported only when an S3 store is opened (cold start).
S3 writes ask for server-side encryption (AES256), which R2, MinIO and
Railway buckets accept or ignore.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, Protocol, TypeVar, cast
from urllib.parse import unquote, urlparse

if TYPE_CHECKING:
    from collections.abc import Callable

_P = ParamSpec("_P")
_T = TypeVar("_T")


class StoreError(RuntimeError):
    """The store could not be reached or the object is missing."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: datetime


class Store(Protocol):  # pragma: no cover - typing only
    url: str

    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None: ...
    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def download(self, key: str, path: Path) -> None: ...
    def list(self, prefix: str = "") -> list[StoredObject]: ...
    def delete(self, key: str) -> None: ...
    def check(self) -> None: ...


class LocalStore:
    def __init__(self, root: Path, url: str) -> None:
        self.root = root
        self.url = url

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents and path != self.root.resolve():
            raise StoreError("key escapes the store")
        return path

    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)  # readers never see a half-written object

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, target)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise StoreError(f"{key} not found") from None

    def download(self, key: str, path: Path) -> None:
        try:
            shutil.copyfile(self._path(key), path)
        except FileNotFoundError:
            raise StoreError(f"{key} not found") from None

    def list(self, prefix: str = "") -> list[StoredObject]:
        if not self.root.exists():
            return []
        out = []
        for p in self.root.rglob("*"):
            if p.is_file() and not p.name.endswith(".part"):
                key = p.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    st = p.stat()
                    out.append(StoredObject(key, st.st_size, datetime.fromtimestamp(st.st_mtime, timezone.utc)))
        return sorted(out, key=lambda o: o.key)

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        parent = path.parent
        while parent != self.root.resolve() and parent.exists() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store folder: {exc.strerror}") from None
        if not os.access(self.root, os.W_OK):
            raise StoreError("the store folder is not writable")


class S3Store:
    def __init__(self, bucket: str, prefix: str, url: str, endpoint_url: str | None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = url
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            config=Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"}),
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*args, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise StoreError(f"S3 {code}") from None
        except BotoCoreError as exc:
            raise StoreError(f"S3 unreachable: {type(exc).__name__}") from None

    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None:
        self._call(self.client.upload_file, str(path), self.bucket, self._key(key),
                   ExtraArgs={"ServerSideEncryption": "AES256", "ContentType": content_type})

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._call(self.client.put_object, Bucket=self.bucket, Key=self._key(key), Body=data,
                   ServerSideEncryption="AES256", ContentType=content_type)

    def get_bytes(self, key: str) -> bytes:
        resp = self._call(self.client.get_object, Bucket=self.bucket, Key=self._key(key))
        return cast(bytes, resp["Body"].read())  # boto3 is untyped: the body is a stream of bytes

    def download(self, key: str, path: Path) -> None:
        self._call(self.client.download_file, self.bucket, self._key(key), str(path))

    def list(self, prefix: str = "") -> list[StoredObject]:
        full = self._key(prefix) if prefix else (self.prefix + "/" if self.prefix else "")
        out: list[StoredObject] = []
        paginator = self.client.get_paginator("list_objects_v2")
        pages = self._call(lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=full)))
        strip = len(self.prefix) + 1 if self.prefix else 0
        for page in pages:
            for obj in page.get("Contents", []):
                out.append(StoredObject(obj["Key"][strip:], obj["Size"], obj["LastModified"]))
        return sorted(out, key=lambda o: o.key)

    def delete(self, key: str) -> None:
        self._call(self.client.delete_object, Bucket=self.bucket, Key=self._key(key))

    def check(self) -> None:
        self._call(self.client.head_bucket, Bucket=self.bucket)


def open_store(url: str) -> LocalStore | S3Store:
    """The store for a `file://` or `s3://` URL (`S3_ENDPOINT_URL` for compatible services)."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalStore(Path(unquote(parsed.netloc + parsed.path)), url)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise StoreError("an s3:// URL needs a bucket name")
        from shared.settings import get_settings

        return S3Store(parsed.netloc, parsed.path, url, get_settings().s3_endpoint_url)
    if parsed.scheme == "" and url:
        return LocalStore(Path(url), url)
    raise StoreError(f"unsupported store URL scheme {parsed.scheme!r}; use file:// or s3://")
