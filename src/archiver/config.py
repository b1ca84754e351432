"""Settings: every field has a default and one line of help.

Values come, lowest precedence first, from the defaults here, an `archiver.toml` file (section
`[archiver]`), `ARCHIVER_*` environment variables, and command-line flags.

Why the layering is done here and not by a settings library: click's `auto_envvar_prefix` names a
variable per command and flag (ARCHIVER_CRAWL_MAX_PAGES) and covers only settings that have a
flag, while every setting, flag or not, is `ARCHIVER_<NAME>` for every command (cron lines set
them); pydantic-settings would bring pydantic and its compiled core into every command for the
forty lines below, and its errors do not say which layer a bad value came from, where ours name
the file, the variable or the flag. The layers are a loop over `Settings`' fields, each value
coerced by the field's type and range-checked (`setting_problem`) with its source in the message.
"""

from __future__ import annotations

import ipaddress
import math
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from archiver import __version__
from archiver.errors import ConfigError

DEFAULT_DB = "data/archive.db"
DEFAULT_USER_AGENT = (
    f"archiver/{__version__} (+https://github.com/archiver-news/archiver; news archiving bot)"
)


@dataclass(frozen=True)
class Settings:
    user_agent: str = field(default=DEFAULT_USER_AGENT, metadata={"help": "User-Agent header sent with every request"})
    connect_timeout: float = field(default=10.0, metadata={"help": "seconds to wait for a TCP/TLS connection"})
    read_timeout: float = field(default=20.0, metadata={"help": "seconds to wait between bytes of a response"})
    deadline: float = field(default=60.0, metadata={"help": "seconds one attempt may take in all, however the server drips"})
    url_budget: float = field(default=90.0, metadata={"help": "seconds one URL may take across all its attempts and the waits between them"})
    max_redirects: int = field(default=10, metadata={"help": "redirect hops followed before giving up"})
    retries: int = field(default=3, metadata={"help": "extra attempts on transport errors and 408/429/5xx"})
    backoff_base: float = field(default=1.0, metadata={"help": "first retry wait in seconds, doubled each time (with jitter)"})
    backoff_max: float = field(default=30.0, metadata={"help": "longest wait between retries in seconds"})
    retry_after_cap: float = field(default=120.0, metadata={"help": "longest Retry-After honoured, in seconds"})
    max_body_bytes: int = field(default=10 * 1024 * 1024, metadata={"help": "largest body kept, after decompression"})
    allow_private: bool = field(default=False, metadata={"help": "allow fetching loopback, private and link-local addresses"})
    allow_networks: tuple[str, ...] = field(default=(), metadata={"help": "non-public networks (CIDR) allowed even without allow_private, e.g. an intranet"})
    proxy: str = field(default="", metadata={"help": "HTTP proxy for every request (http://HOST:PORT); empty: HTTP_PROXY / HTTPS_PROXY / ALL_PROXY / NO_PROXY from the environment"})
    trust_env: bool = field(default=True, metadata={"help": "read proxies and SSL_CERT_FILE / SSL_CERT_DIR from the environment, as httpx does"})
    http2: bool = field(default=False, metadata={"help": "offer HTTP/2 to https servers (needs the h2 package: archiver[http2])"})
    max_connections: int = field(default=100, metadata={"help": "connections open at once in all (a new one waits up to connect_timeout for a free slot)"})
    host_delay: float = field(default=1.0, metadata={"help": "seconds between requests to one host during a crawl"})
    crawl_delay_cap: float = field(default=30.0, metadata={"help": "largest robots.txt Crawl-delay honoured, in seconds"})
    host_concurrency: int = field(default=1, metadata={"help": "requests in flight per host during a crawl"})
    max_hosts: int = field(default=16, metadata={"help": "hosts crawled in parallel"})
    respect_robots: bool = field(default=True, metadata={"help": "obey robots.txt during a crawl"})
    max_pages: int = field(default=0, metadata={"help": "stop a crawl after this many fetches (0: no limit)"})
    max_duration: float = field(default=0.0, metadata={"help": "stop starting fetches after this many seconds of a crawl (0: no limit)"})
    extract_workers: int = field(default=0, metadata={"help": "worker processes extracting during a crawl (0: one per CPU core)"})
    extract_timeout: float = field(default=30.0, metadata={"help": "seconds extracting one page may take; past it the worker process is killed and the page fails (kind timeout)"})
    max_sitemap_depth: int = field(default=3, metadata={"help": "sitemap indexes followed this many levels deep"})
    revisit_days: float = field(default=30.0, metadata={"help": "revisit articles for changes until this many days after publication (0: never)"})
    cluster: str = field(default="", metadata={"help": "Dask scheduler (tcp://HOST:8786) that runs crawl and import work; empty: this machine"})

    def __post_init__(self) -> None:
        for f in fields(self):
            problem = setting_problem(f.name, getattr(self, f.name))
            if problem:
                raise ConfigError(f"{f.name}: {problem}")

    def with_overrides(self, **values: Any) -> Settings:
        """A copy with the given fields replaced; None values are ignored (unset flags)."""
        given = {k: v for k, v in values.items() if v is not None}
        unknown = set(given) - {f.name for f in fields(self)}
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **given)


# The range each numeric setting must lie in: (lowest, highest), both included; None: unbounded.
# Every float must be finite: `deadline = inf` would switch the drip guard off.
LIMITS: dict[str, tuple[float | None, float | None]] = {
    "connect_timeout": (0.001, None),
    "read_timeout": (0.001, None),
    "deadline": (0.001, None),
    "url_budget": (0.001, None),
    "max_redirects": (0, 100),
    "retries": (0, 20),
    "backoff_base": (0, None),
    "backoff_max": (0, None),
    "retry_after_cap": (0, None),
    "max_body_bytes": (1024, None),
    "max_connections": (1, 100_000),
    "host_delay": (0, None),
    "crawl_delay_cap": (0, None),
    "host_concurrency": (1, 64),
    "max_hosts": (1, 10_000),
    "max_pages": (0, None),
    "max_duration": (0, None),
    "extract_workers": (0, 1024),
    "extract_timeout": (0.001, None),
    "max_sitemap_depth": (0, 20),
    "revisit_days": (0, None),
}


def setting_problem(name: str, value: Any) -> str | None:
    """Why `value` is not a valid `name` setting (None when it is)."""
    if name == "user_agent":
        if not str(value).strip():
            return "must not be empty"
        if any(ch in str(value) for ch in "\r\n\0"):
            return "must be one line (no line breaks or NUL bytes)"
        return None
    if name == "proxy":
        if value and not str(value).lower().startswith(("http://", "https://")):
            return f"must be an http:// or https:// URL such as http://proxy.example:3128, got {value!r}"
        return None
    bounds = LIMITS.get(name)
    if bounds is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {value!r}"
    low, high = bounds
    if low is not None and value < low:
        return f"must be at least {low:g}, got {value!r}" if low else f"must not be negative, got {value!r}"
    if high is not None and value > high:
        return f"must be at most {high:g}, got {value!r}"
    return None


# The example site files installed with the package (in a source checkout, a link to selectors/).
BUNDLED_SITES = Path(__file__).resolve().parent / "examples"
SITES_HELP = (
    "directory of site files (*.toml); without it: $ARCHIVER_SITES, else ./selectors in the "
    "working directory, else the examples installed with archiver"
)


def sites_dir(explicit: str | Path | None = None, env: dict[str, str] | None = None,
              cwd: Path | None = None) -> Path | None:
    """Where the site files are, first found of: `--sites DIR` (`explicit`), `ARCHIVER_SITES`,
    `selectors/` in the working directory, the examples installed with the package; None when
    none of these is there. A directory named by the flag or the variable must exist."""
    env = dict(os.environ) if env is None else env
    for given, source in ((explicit, "--sites"), (env.get("ARCHIVER_SITES"), "ARCHIVER_SITES")):
        if given:
            path = Path(given)
            if not path.is_dir():
                raise ConfigError(f"{source} {path}: site files directory not found; give a directory "
                                  "of selectors/<site>.toml files")
            return path
    for candidate in ((cwd or Path.cwd()) / "selectors", BUNDLED_SITES):
        if candidate.is_dir():
            return candidate
    return None


def _coerce(name: str, raw: Any, kind: type, source: str) -> Any:
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        if kind is int and isinstance(raw, bool):
            raise ValueError(raw)
        if kind is tuple:
            items = raw.split(",") if isinstance(raw, str) else raw
            if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
                raise ValueError(raw)
            return tuple(i.strip() for i in items if i.strip())
        return kind(raw)
    except (TypeError, ValueError):
        expected = "a list of strings" if kind is tuple else kind.__name__
        raise ConfigError(f"{source}: {name}: expected {expected}, got {raw!r}") from None


def _checked(name: str, value: Any, source: str) -> Any:
    problem = setting_problem(name, value)
    if problem:
        raise ConfigError(f"{source}: {problem}; see the settings table in the README")
    return value


def load_settings(
    config_path: str | Path | None = None, env: dict[str, str] | None = None, **flags: Any
) -> Settings:
    """Build Settings from defaults, an optional TOML file, the environment and flags."""
    env = dict(os.environ) if env is None else env
    types = {f.name: type(f.default) for f in fields(Settings)}
    values: dict[str, Any] = {}

    path = Path(config_path) if config_path else Path("archiver.toml")
    if config_path and not path.exists():
        raise ConfigError(f"{path}: config file not found")
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read config: {exc}") from exc
        section = data.get("archiver", {})
        if not isinstance(section, dict):
            raise ConfigError(f"{path}: archiver: expected a table")
        for key, raw in section.items():
            if key not in types:
                raise ConfigError(f"{path}: archiver.{key}: unknown setting")
            values[key] = _checked(key, _coerce(key, raw, types[key], str(path)), f"{path}: archiver.{key}")

    for name, kind in types.items():
        raw = env.get(f"ARCHIVER_{name.upper()}")
        if raw is not None:
            source = f"ARCHIVER_{name.upper()}"
            values[name] = _checked(name, _coerce(name, raw, kind, source), source)

    for name, raw in flags.items():
        if raw is None:
            continue
        if name not in types:
            raise ConfigError(f"unknown setting: {name}")
        values[name] = _checked(name, raw, f"{name} (from the command line)")
    settings = Settings(**values)
    for network in settings.allow_networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(
                f"allow_networks: {network!r} is not a network; give CIDR such as 10.0.0.0/8"
            ) from None
    return settings
