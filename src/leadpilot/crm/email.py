"""New-lead notices by e-mail over SMTP (``smtplib``; STARTTLS unless turned off)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from leadpilot.crm.retry import CrmCallError

__all__ = ["SmtpSender"]


class SmtpSender:
    """Sends one plain-text message per call; failures become ``CrmCallError`` (a 4xx
    SMTP reply or no answer is retried, a 5xx reply is permanent)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self._username, self._password = username, password
        self._starttls, self._timeout = starttls, timeout

    def send(self, to: str, subject: str, text: str) -> None:
        """Deliver the message to the SMTP server."""
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message.set_content(text)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self._timeout) as smtp:
                if self._starttls:
                    smtp.starttls()
                if self._username and self._password:
                    smtp.login(self._username, self._password)
                smtp.send_message(message)
        except smtplib.SMTPResponseException as exc:
            status = 400 if 500 <= exc.smtp_code < 600 else 503
            raise CrmCallError(
                f"SMTP {self.host}: reply {exc.smtp_code} to the message for {to}", status=status
            ) from None
        except smtplib.SMTPRecipientsRefused:
            raise CrmCallError(f"SMTP {self.host}: recipient {to} refused", status=400) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise CrmCallError(f"SMTP {self.host}: {type(exc).__name__} (no answer)") from None
