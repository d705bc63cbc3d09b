"""CRM credentials and endpoints, from ``LEADPILOT_*`` environment variables (or a dotenv
file outside the repository named by ``LEADPILOT_CRM_ENV_FILE``). Secrets are
``SecretStr``: they never appear in a repr, a log line or an error message."""

from __future__ import annotations

import os
import re

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from leadpilot.errors import ConfigError

__all__ = ["CrmSettings", "load_crm_settings"]


class CrmSettings(BaseSettings):
    """Each field is the environment variable ``LEADPILOT_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="LEADPILOT_", extra="ignore", frozen=True)

    public_url: str | None = Field(
        None, description="leadpilot's URL as the CRMs call it (behind a proxy), no trailing /"
    )
    hubspot_client_secret: SecretStr | None = Field(
        None, description="the HubSpot app's client secret (verifies webhook signatures)"
    )
    hubspot_access_token: SecretStr | None = Field(
        None, description="private-app or OAuth access token (crm.objects.contacts.read/write)"
    )
    hubspot_base_url: str = "https://api.hubapi.com"
    salesforce_instance_url: str | None = Field(None, description="https://<org>.my.salesforce.com")
    salesforce_access_token: SecretStr | None = Field(None, description="OAuth access token")
    salesforce_organization_id: str | None = Field(
        None, description="the 18-character org id outbound messages must carry"
    )
    salesforce_shared_secret: SecretStr | None = Field(
        None, description="X-Leadpilot-Secret header value of Flow / Apex JSON callouts"
    )
    salesforce_api_version: str = "59.0"
    link_secret: SecretStr | None = Field(
        None, description="signs Accept/Decline links (default: derived from the webhook secret)"
    )
    link_hours: float = Field(24.0, gt=0, description="how long Accept/Decline links work")
    notify_webhook_url: str | None = Field(
        None,
        description="Slack-compatible incoming webhook for new-lead notices of reps without "
        "their own (reps.csv column notify_webhook_url)",
    )
    notify_pool_webhooks: dict[str, str] = Field(
        default_factory=dict,
        description='per-pool webhooks as JSON, e.g. {"sdr": "https://hooks.slack.com/..."}; '
        "a rep's own notify_webhook_url wins, then the pool's, then notify_webhook_url",
    )
    crm_sync_minutes: float | None = Field(
        None,
        gt=0,
        description="run the HubSpot outcome sync in the worker this often (unset: never)",
    )
    smtp_host: str | None = Field(None, description="SMTP server for new-lead e-mails to reps")
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "leadpilot@localhost"
    smtp_starttls: bool = True
    crm_max_attempts: int = Field(8, ge=1, description="write-back attempts before dead letter")
    crm_backoff_seconds: float = Field(2.0, gt=0)
    crm_backoff_cap_seconds: float = Field(600.0, gt=0)
    crm_timeout_seconds: float = Field(5.0, gt=0)
    crm_lease_seconds: float = Field(
        60.0, gt=0, description="a claimed row is taken up again after this if its worker died"
    )


def load_crm_settings() -> CrmSettings:
    """The CRM settings from the environment (and ``LEADPILOT_CRM_ENV_FILE`` if set);
    ``ConfigError`` naming the variable when one is malformed (never its value)."""
    env_file = os.environ.get("LEADPILOT_CRM_ENV_FILE")
    try:
        return CrmSettings(_env_file=env_file) if env_file else CrmSettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or "settings"
        message = f"invalid setting LEADPILOT_{name.upper()}: {first['msg']}"
    except SettingsError as exc:  # a JSON-valued variable that is not JSON
        found = re.search(r'field "(\w+)"', str(exc))
        name = found.group(1) if found else "settings"
        message = f"invalid setting LEADPILOT_{name.upper()}: not valid JSON"
    raise ConfigError(
        message,
        hint="fix the environment variable (JSON for LEADPILOT_NOTIFY_POOL_WEBHOOKS)",
        details={"setting": name},
    )
