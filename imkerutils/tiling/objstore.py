"""Canvases on S3 through obstore (Rust ``object_store``) instead of fsspec / s3fs: opt-in, ``imkerutils[obstore]``.

``IMKERUTILS_OBJECT_STORE=obstore`` in a process's environment makes every ``s3://`` canvas it opens go through
:class:`zarr.storage.ObjectStore` over :class:`obstore.store.S3Store`; unset (or ``fsspec``), canvases go
through :class:`zarr.storage.FsspecStore` as before.  The stored keys and bytes are the same either way, so
one canvas may be opened by both.  Measured on a loopback S3 server (``docs/benchmarks.md``, "I/O stack"),
obstore reads, pastes, steps, exports and verifies 1.1 to 3x faster.  Processes that open the canvas
themselves (a ``dask.distributed`` cluster's workers) choose by their own environment.  Export outputs at a
URL are still written through fsspec.

The fsspec ``storage_options`` a canvas is opened with are translated (``key``, ``secret``, ``token``,
``anon``, ``endpoint_url`` and ``client_kwargs``' ``endpoint_url`` / ``region_name``); anything else is
refused with :class:`~imkerutils.errors.StoreConfigError` rather than silently dropped.  Without options,
obstore reads the usual ``AWS_*`` variables itself (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ...), and
fsspec's ``FSSPEC_S3_ENDPOINT_URL`` is honoured too.  An ``http://`` endpoint (a local test server) is
allowed, as fsspec allows it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from imkerutils.errors import StoreConfigError

if TYPE_CHECKING:
    from zarr.abc.store import Store

__all__ = ["ENV", "backend", "obstore_store", "s3_options"]

ENV = "IMKERUTILS_OBJECT_STORE"
BACKENDS = ("fsspec", "obstore")
_ENDPOINT_VARS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT", "FSSPEC_S3_ENDPOINT_URL")
_OPTIONS = {"key": "access_key_id", "secret": "secret_access_key", "token": "session_token", "endpoint_url": "endpoint"}
_CLIENT_OPTIONS = {"endpoint_url": "endpoint", "region_name": "region"}


def backend() -> str:
    """Return the object-store backend this process's environment asks for: ``"fsspec"`` (default) or ``"obstore"``."""
    value = os.environ.get(ENV, "").strip().lower() or "fsspec"
    if value not in BACKENDS:
        raise StoreConfigError(f"{ENV}={value!r} is not a backend: use one of {', '.join(BACKENDS)}")
    return value


def s3_options(storage_options: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return obstore's S3 ``config`` and ``client_options`` for fsspec (s3fs) ``storage_options``.

    >>> s3_options({"key": "k", "secret": "s", "client_kwargs": {"endpoint_url": "http://127.0.0.1:9000"}})
    ({'access_key_id': 'k', 'secret_access_key': 's', 'endpoint': 'http://127.0.0.1:9000'}, {'allow_http': True})
    """
    config: dict[str, Any] = {}
    for name, value in (storage_options or {}).items():
        if name in _OPTIONS:
            config[_OPTIONS[name]] = value
        elif name == "anon":
            config["skip_signature"] = bool(value)
        elif name == "client_kwargs" and value is None:
            continue  # s3fs's own default
        elif name == "client_kwargs" and isinstance(value, dict):
            for sub, v in value.items():
                if sub not in _CLIENT_OPTIONS:
                    raise StoreConfigError(f"storage option client_kwargs[{sub!r}] has no obstore equivalent")
                config[_CLIENT_OPTIONS[sub]] = v
        else:
            raise StoreConfigError(f"storage option {name!r} has no obstore equivalent (unset {ENV} to use fsspec)")
    if "endpoint" not in config and os.environ.get("FSSPEC_S3_ENDPOINT_URL"):
        config["endpoint"] = os.environ["FSSPEC_S3_ENDPOINT_URL"]
    endpoint = config.get("endpoint") or next((os.environ[v] for v in _ENDPOINT_VARS if os.environ.get(v)), "")
    return config, ({"allow_http": True} if str(endpoint).startswith("http://") else {})


def obstore_store(url: str, *, read_only: bool, storage_options: dict[str, Any] | None) -> Store:
    """Return the Zarr store of the canvas at ``s3://bucket/prefix``, through obstore."""
    scheme, _, rest = url.partition("://")
    if scheme not in ("s3", "s3a"):
        raise StoreConfigError(f"{ENV}=obstore opens s3:// canvases only, not {url!r} (unset it to use fsspec)")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise StoreConfigError(f"{url!r} names no bucket")
    try:
        from obstore.store import S3Store
    except ImportError:
        raise StoreConfigError(f"{ENV}=obstore needs the obstore package: pip install 'imkerutils[obstore]'") from None
    from zarr.storage import ObjectStore

    config, client = s3_options(storage_options)
    try:
        s3 = S3Store(bucket, prefix=prefix.strip("/") or None, config=config, client_options=client)  # type: ignore[arg-type]
    except Exception as exc:  # obstore's own configuration errors (a key without a secret, a wrong type...)
        raise StoreConfigError(f"cannot open {url!r} through obstore: {exc}") from exc
    return ObjectStore(s3, read_only=read_only)
