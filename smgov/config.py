"""The settings as every door reads them: a bad setting is one `error:` line naming the setting
and the rule, never its value."""

from __future__ import annotations

from models.errors import Refused
from models.settings import Settings


def load_settings() -> Settings:
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:  # name the setting and the rule, one line, no value
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise Refused(
            "settings", f"{'SMGOV_' + name.upper() + ': ' if name else ''}{message}"
        ) from exc
    except Exception as exc:  # e.g. SMGOV_SECRETS_DIR is not a directory
        lines = str(exc).splitlines()
        detail = lines[1:3] if len(lines) > 2 else lines
        raise Refused("settings", " ".join(s.strip() for s in detail)) from exc
