"""Server settings, read from the environment (prefix ``RENEWAL_``)."""

from __future__ import annotations

import hmac
import os
from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """``RENEWAL_STORE``, ``RENEWAL_EDIT_TOKENS`` ("name:token,name:token"),
    ``RENEWAL_READ_TOKENS`` (same form; empty = reads open), ``RENEWAL_UPLOAD_LIMIT_MB``
    (file imports and feature edits), ``RENEWAL_JSON_LIMIT_MB`` (analysis request bodies),
    ``RENEWAL_RASTER_DIRS`` (folders whose rasters a site-selection criterion may read over
    HTTP, separated by ``:``; empty = none), ``RENEWAL_TIANDITU_TOKEN``,
    ``RENEWAL_PUBLIC_URL`` (base URL behind a proxy), ``RENEWAL_WARM`` (false: no cache
    warming as a worker starts, ``api.warm``)."""

    model_config = SettingsConfigDict(env_prefix="RENEWAL_", extra="ignore")

    store: str = "data/renewal.gpkg"
    edit_tokens: str = ""
    read_tokens: str = ""
    upload_limit_mb: float = 50.0
    json_limit_mb: float = 1.0
    raster_dirs: str = ""
    tianditu_token: str = ""
    public_url: str = ""
    warm: bool = True

    def tokens(self, which: str) -> dict[str, str]:
        """token → user name."""
        text = self.edit_tokens if which == "edit" else self.read_tokens
        out = {}
        for item in filter(None, (t.strip() for t in text.split(","))):
            name, _, token = item.partition(":")
            out[token or name] = name if token else "user"
        return out

    def user_for(self, token: str | None, which: str) -> str | None:
        """The user a token belongs to in role ``which`` ("read" also takes editors), compared
        in constant time (``hmac.compare_digest``) so timing does not leak a token."""
        if not token:
            return None
        roles = [self.tokens("edit")] + ([self.tokens("read")] if which == "read" else [])
        found = None
        for table in roles:
            for known, user in table.items():
                if hmac.compare_digest(known.encode("utf-8", "replace"), token.encode("utf-8", "replace")) and found is None:
                    found = user
        return found

    def raster_folders(self) -> list[str]:
        return [d for d in self.raster_dirs.split(os.pathsep) if d.strip()]


@lru_cache
def get_settings() -> Settings:
    return Settings()
