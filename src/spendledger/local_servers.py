"""Self-hosted inference servers: which providers are local, and which addresses serve them.

A call is self-hosted when its provider is one of `LOCAL_PROVIDERS` (the ledger's names,
model_names.PROVIDER_NAMES unifies the spellings). Clients that speak OpenAI's API to a
local server report "openai", so the server's address decides instead, wherever a way
in knows it (the tracker's client `base_url`, an OTLP span's `server.address` and
`server.port`):

- an address in the configured mapping (`SPENDLEDGER_LOCAL_SERVERS`,
  "host[:port]=provider,..."; a host without a port matches every port) names its
  provider, whatever the host;
- else a loopback host (localhost, 127.0.0.0/8, ::1, host.docker.internal) at a server's
  default port is that server: 11434 Ollama, 1234 LM Studio, 8000 vLLM, 8080 llama.cpp;
- any other address keeps the provider the client reported. A loopback host at another
  port is not assumed local: it may be a proxy (LiteLLM's 4000) forwarding to a paid API.

Standard library only: the tracker imports it in applications that have nothing else of ours.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

# The self-hosted servers the ledger knows by name; `self-hosted` is any other one (TGI,
# SGLang, LocalAI...), for calls sent through the events API or a configured address.
LOCAL_PROVIDERS: frozenset[str] = frozenset(
    {"ollama", "lmstudio", "vllm", "llamacpp", "gpt4all", "self-hosted"}
)

# Each server's default port, as its documentation gives it.
DEFAULT_PORTS: dict[int, str] = {11434: "ollama", 1234: "lmstudio", 8000: "vllm", 8080: "llamacpp"}

LOCAL_HOSTS = frozenset({"localhost", "host.docker.internal"})

ENV_LOCAL_SERVERS = "SPENDLEDGER_LOCAL_SERVERS"
SERVERS_EXAMPLE = "gpu-box.lan:8000=vllm,localhost:9090=llamacpp"

# (host lower-cased, port or None for any port) → provider
Servers = Mapping[tuple[str, int | None], str]


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine (or the Docker host seen from a container)."""
    host = host.strip().strip("[]").lower()
    if host in LOCAL_HOSTS or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def server_provider(host: str, port: int | None, servers: Servers = {}) -> str | None:  # noqa: B006 - read only
    """The provider serving `host`:`port` by the module's rules, or None when it is not known."""
    host = host.strip().strip("[]").lower()
    if not host:
        return None
    found = servers.get((host, port)) or servers.get((host, None))
    if found:
        return found
    if port is not None and is_loopback(host):
        return DEFAULT_PORTS.get(port)
    return None


def url_provider(url: object, servers: Servers = {}) -> str | None:  # noqa: B006 - read only
    """The provider serving base URL `url` (a str or httpx.URL), or None; never raises."""
    try:
        parts = urlsplit(str(url))
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return None
    return server_provider(parts.hostname or "", port, servers)


def split_address(address: str, port: int | None) -> tuple[str, int | None]:
    """(host, port) of `server.address`, which may carry a port ("localhost:11434", "[::1]:8000")
    though the convention puts it in `server.port`; `port` wins when given."""
    address = address.strip()
    host, sep, tail = address.rpartition(":")
    if sep and tail.isdigit() and (host.endswith("]") or ":" not in host):
        return host, port if port is not None else int(tail)
    return address, port


def parse_servers(text: str) -> tuple[dict[tuple[str, int | None], str], list[str]]:
    """`SPENDLEDGER_LOCAL_SERVERS` ("host[:port]=provider,...") → (servers, problems); an entry
    with a problem is left out and the problem says what to write instead."""
    servers: dict[tuple[str, int | None], str] = {}
    problems: list[str] = []
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            continue
        address, sep, provider = entry.partition("=")
        provider = provider.strip().lower()
        host, port = split_address(address, None)
        host = host.strip().strip("[]").lower()
        if not sep or not provider or not host or ":" in host and not _is_ipv6(host) or " " in host:
            problems.append(
                f"{ENV_LOCAL_SERVERS}: {entry!r} is not host[:port]=provider; write e.g. {SERVERS_EXAMPLE}"
            )
            continue
        if port is not None and not 0 < port < 65536:
            problems.append(f"{ENV_LOCAL_SERVERS}: {entry!r} has port {port}; a port is 1 to 65535")
            continue
        servers[(host, port)] = provider
    return servers, problems


def _is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False
