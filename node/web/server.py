"""Running the web server: listen address, optional TLS termination, and a clear message when it cannot start."""

import asyncio
import errno
import ssl
import sys
from pathlib import Path

from aiohttp import web

from node import config as node_config, runtime
from node.store.data_dir import AlreadyServing, already_serving, is_served
from node.web.app import SERVER_OPTIONS, create_app


def tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise node_config.ConfigError("give both --tls-cert and --tls-key to terminate TLS, or neither")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as error:
        raise node_config.ConfigError(f"cannot load the TLS certificate {cert} and key {key}: {error}") from error
    return context


def serve(config: node_config.NodeConfig, ssl_context: ssl.SSLContext | None = None) -> int:
    if is_served(config.data_dir):
        raise AlreadyServing(already_serving(config.data_dir))
    for warning in asyncio.run(runtime.check_servable(config)):
        print(f"coopnode: warning: {warning}", file=sys.stderr)
    scheme = "https" if ssl_context else "http"
    print(f"coopnode: serving {config.base_url} on {scheme}://{config.listen_host}:{config.listen_port}",
          file=sys.stderr, flush=True)
    if config.scheme == "https" and ssl_context is None and not config.dev:
        print("coopnode: ids use https: put a TLS proxy in front (see deploy/), or pass --tls-cert/--tls-key",
              file=sys.stderr)
    try:
        web.run_app(create_app(config), host=config.listen_host, port=config.listen_port,
                    ssl_context=ssl_context, print=None, access_log=None, handle_signals=True, **SERVER_OPTIONS)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise node_config.ConfigError(
                f"{config.listen_host}:{config.listen_port} is already in use by another program (no other coopnode "
                "serves this data directory): stop it, or listen elsewhere with --port or [serve] port in node.toml"
            ) from error
        raise node_config.ConfigError(f"cannot listen on {config.listen_host}:{config.listen_port}: {error}") from error
    return 0
