"""Settings as data: every setting has a name, an environment variable, a default and help.

``Settings.from_env()`` reads ``EXPLORER_*`` variables; tests build ``Settings(...)`` directly.
A test fails when a setting is missing from the README, so the table below is the documentation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import platformdirs


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: object
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("home", "EXPLORER_HOME", None,
            "Folder for the registry database, the download store and the cache "
            "(default: the per-user data directory, e.g. ~/.local/share/london-data-explorer)."),
    Setting("data_dir", "EXPLORER_DATA_DIR", None,
            "A local folder that already holds data files; resources are looked up here first "
            "by their relative path, before the store and before any download."),
    Setting("data_links_to", "EXPLORER_DATA_LINKS_TO", "",
            "Folders (separated by ':') that symbolic links in the data folder may lead to; a "
            "link that leads elsewhere outside the data folder is refused, with that reason. Links "
            "that stay inside the data folder are always followed."),
    Setting("cache_url", "EXPLORER_CACHE_URL", "",
            "Cache backend: empty for the filesystem cache under EXPLORER_HOME, 'simple' for "
            "in-process memory, 'null' for none, or redis://host:port/db for a shared Redis."),
    Setting("cache_timeout", "EXPLORER_CACHE_TIMEOUT", 86400,
            "Seconds a loaded layer or computed payload stays in the cache."),
    Setting("allow_private_urls", "EXPLORER_ALLOW_PRIVATE_URLS", False,
            "Allow harvesting and downloading from loopback and private-network addresses "
            "(refused by default: a harvested catalogue must not make the server probe its own network)."),
    Setting("max_download_bytes", "EXPLORER_MAX_DOWNLOAD_BYTES", 512 * 1024 * 1024,
            "Largest download accepted, in bytes; also the cap on bytes extracted from one zip member."),
    Setting("http_timeout", "EXPLORER_HTTP_TIMEOUT", 30.0,
            "Seconds to wait for a server to connect or send data."),
    Setting("download_deadline", "EXPLORER_DOWNLOAD_DEADLINE", 120.0,
            "Most seconds one download or catalogue request may take in all (every redirect and "
            "retry included), however steadily the server sends: a server trickling bytes cannot "
            "hold a worker longer."),
    Setting("http_retries", "EXPLORER_HTTP_RETRIES", 3,
            "Attempts for a download or catalogue request that fails with a network error or 5xx."),
    Setting("offline", "EXPLORER_OFFLINE", False,
            "Never download: resolve resources only from the local data folder and the store."),
    Setting("harvest_bundled", "EXPLORER_HARVEST_BUNDLED", True,
            "Harvest the catalogue sources into an empty registry on first start."),
    Setting("sources", "EXPLORER_SOURCES", "",
            "The sources file listing the catalogues to federate (kind, URL, local copy under the "
            "data folder, refresh interval); empty uses the packaged geodata/sources.yaml (the "
            "bundled catalogue and the London Datastore); 'bundled' harvests the bundled catalogue only."),
    Setting("frame_ancestors", "EXPLORER_FRAME_ANCESTORS", "'self'",
            "Who may show the app in a frame: the CSP frame-ancestors sources, space-separated "
            "('self', 'none', or origins such as https://www.london.gov.uk); widen it to allow "
            "embedding (?embed=1) on other sites."),
    Setting("public_url", "EXPLORER_PUBLIC_URL", "",
            "The app's public address (e.g. https://data.example.london), used in the links printed "
            "in exported images and data downloads; empty uses the address of the request "
            "(http://127.0.0.1:8050 for the command line)."),
    Setting("allowed_hosts", "EXPLORER_ALLOWED_HOSTS", "",
            "With EXPLORER_PUBLIC_URL unset, the host names (space- or comma-separated, e.g. "
            "'data.example.london 10.0.0.5'; '.example.london' for its subdomains too) that requests may "
            "name in their Host header, besides localhost, 127.0.0.1, ::1 and the address given to "
            "`explorer serve --host`; any other Host is refused (400), so a forged Host never reaches "
            "a link. Unused when EXPLORER_PUBLIC_URL is set (links then use it)."),
    Setting("export_timeout", "EXPLORER_EXPORT_TIMEOUT", 30.0,
            "Seconds one chart or map image may take to render before the renderer (headless "
            "Chromium) is restarted and the request answered with an error."),
    Setting("tile_url", "EXPLORER_TILE_URL", "",
            "XYZ tile URL template ({s}, {z}, {x}, {y}, {r}) for the basemap under exported map "
            "images, e.g. a self-hosted tile server; empty uses the map's basemap (CARTO). Tiles are "
            "cached under EXPLORER_HOME/cache/tiles; a private address also needs "
            "EXPLORER_ALLOW_PRIVATE_URLS."),
    Setting("tile_credit", "EXPLORER_TILE_CREDIT", "",
            "The credit printed under exported maps for the tiles of EXPLORER_TILE_URL (e.g. "
            "'© OpenStreetMap contributors, tiles by Example'); empty prints 'Basemap: <host of "
            "the tile URL>'. Not used for the bundled CARTO basemaps, which carry their own credit."),
    Setting("shorten_rate", "EXPLORER_SHORTEN_RATE", 30,
            "Short links one client (remote address) may create through /api/shorten per minute, "
            "in any 60 seconds; more are answered 429 with Retry-After. Counted in Redis when "
            "EXPLORER_CACHE_URL is a redis:// URL (one budget across every worker and host), else "
            "per worker process; 0 turns the limit off."),
    Setting("link_unopened_days", "EXPLORER_LINK_UNOPENED_DAYS", 180,
            "Days after which a short link made through /api/shorten that was never opened is "
            "removed. Links made for exported images or by \"Copy link\", and any link once "
            "opened, are kept for good; 0 keeps every link."),
    Setting("trusted_proxies", "EXPLORER_TRUSTED_PROXIES", 0,
            "How many reverse proxies (nginx, a load balancer) stand in front of the app and set "
            "X-Forwarded-For, -Proto and -Host; their headers are then believed, so rate limits count "
            "each visitor rather than the proxy and links use the public scheme and host. 0 (the "
            "default) believes none: set it only behind such proxies, or clients could claim any address."),
    Setting("secret_key", "EXPLORER_SECRET_KEY", "",
            "Key that signs the app's cookies (sign-in state of OpenID Connect). Empty: a random key "
            "is generated once and kept in EXPLORER_HOME/secret_key (mode 0600), shared by every "
            "worker using that folder. Set it when workers do not share EXPLORER_HOME."),
    Setting("max_upload_bytes", "EXPLORER_MAX_UPLOAD_BYTES", 50 * 1024 * 1024,
            "Largest file a publisher may upload (web form or API), in bytes."),
    Setting("database_url", "EXPLORER_DATABASE_URL", "",
            "Where short links, accounts, tokens, publishing versions, the audit log and access "
            "requests are kept: empty for SQLite files under EXPLORER_HOME (one machine), or "
            "postgresql://user:password@host:port/name for one PostgreSQL database shared by every "
            "host. Its schema is brought up to date on start and by `explorer db upgrade`."),
    Setting("refresh_check_seconds", "EXPLORER_REFRESH_CHECK_SECONDS", 300.0,
            "How often each server process looks for catalogue sources due a refresh, in seconds. "
            "However many hosts and workers look, a due source is harvested once (a lock in the "
            "database, or in EXPLORER_HOME on one machine)."),
    Setting("store_folder", "EXPLORER_STORE_DIR", "",
            "Folder for downloaded and uploaded files; empty uses EXPLORER_HOME/store. Give every "
            "host the same shared folder (NFS, a mounted volume) so a file written by one is read "
            "by all; files are written to a temporary name and renamed, and read back against "
            "their sha256."),
    Setting("oidc_issuer", "EXPLORER_OIDC_ISSUER", "",
            "OpenID Connect provider for sign-in (its issuer URL, e.g. https://login.example.gov.uk); "
            "its /.well-known/openid-configuration is read. Empty: local accounts only."),
    Setting("oidc_client_id", "EXPLORER_OIDC_CLIENT_ID", "",
            "This app's client id at the OpenID Connect provider."),
    Setting("oidc_client_secret", "EXPLORER_OIDC_CLIENT_SECRET", "",
            "This app's client secret at the OpenID Connect provider."),
    Setting("oidc_label", "EXPLORER_OIDC_LABEL", "your organisation's account",
            "How the sign-in page names the OpenID Connect provider (\"Sign in with …\")."),
)


def _default_home() -> Path:
    return Path(platformdirs.user_data_dir("london-data-explorer", appauthor=False))


def _coerce(value: str, default: object) -> object:
    if isinstance(default, bool):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    return value


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=_default_home)
    data_dir: Path | None = None
    data_links_to: str = ""
    cache_url: str = ""
    cache_timeout: int = 86400
    allow_private_urls: bool = False
    max_download_bytes: int = 512 * 1024 * 1024
    http_timeout: float = 30.0
    download_deadline: float = 120.0
    http_retries: int = 3
    offline: bool = False
    harvest_bundled: bool = True
    sources: str = ""
    frame_ancestors: str = "'self'"
    public_url: str = ""
    allowed_hosts: str = ""
    export_timeout: float = 30.0
    tile_url: str = ""
    tile_credit: str = ""
    shorten_rate: int = 30
    link_unopened_days: int = 180
    trusted_proxies: int = 0
    secret_key: str = ""
    max_upload_bytes: int = 50 * 1024 * 1024
    database_url: str = ""
    store_folder: str = ""
    refresh_check_seconds: float = 300.0
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_label: str = "your organisation's account"

    def __post_init__(self) -> None:
        object.__setattr__(self, "home", Path(self.home).expanduser())
        if self.data_dir is not None:
            object.__setattr__(self, "data_dir", Path(self.data_dir).expanduser())

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> "Settings":
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for setting in SETTINGS:
            raw = environ.get(setting.env)
            if raw is None or raw == "":
                continue
            default = setting.default
            if default is None:
                values[setting.name] = Path(raw)
            else:
                try:
                    values[setting.name] = _coerce(raw, default)
                except ValueError as exc:
                    raise ValueError(f"{setting.env}={raw!r}: {exc}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes: object) -> "Settings":
        return replace(self, **changes)

    # Paths under EXPLORER_HOME -------------------------------------------------------------
    @property
    def registry_path(self) -> Path:
        return self.home / "registry.sqlite3"

    @property
    def store_dir(self) -> Path:
        return Path(self.store_folder).expanduser() if self.store_folder else self.home / "store"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    def ensure_dirs(self) -> None:
        for path in (self.home, self.store_dir, self.cache_dir):
            path.mkdir(parents=True, exist_ok=True)


def setting_names() -> list[str]:
    return [f.name for f in fields(Settings)]
