"""Server settings, read from the environment (prefix ``RENEWAL_``)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """``RENEWAL_STORE``, ``RENEWAL_EDIT_TOKENS`` ("name:token,name:token"),
    ``RENEWAL_READ_TOKENS`` (same form; empty = reads open), ``RENEWAL_UPLOAD_LIMIT_MB``,
    ``RENEWAL_TIANDITU_TOKEN``, ``RENEWAL_PUBLIC_URL`` (base URL behind a proxy)."""

    model_config = SettingsConfigDict(env_prefix="RENEWAL_", extra="ignore")

    store: str = "data/renewal.gpkg"
    edit_tokens: str = ""
    read_tokens: str = ""
    upload_limit_mb: float = 50.0
    tianditu_token: str = ""
    public_url: str = ""

    def tokens(self, which: str) -> dict[str, str]:
        """token → user name."""
        text = self.edit_tokens if which == "edit" else self.read_tokens
        out = {}
        for item in filter(None, (t.strip() for t in text.split(","))):
            name, _, token = item.partition(":")
            out[token or name] = name if token else "user"
        return out


@lru_cache
def get_settings() -> Settings:
    return Settings()
