"""Notices by e-mail: the plain-text message of a digest (From, To, Subject, Date, Message-ID) sent to the SMTP
server of [mail] in node.toml, with STARTTLS and a login when configured. The standard library's smtplib runs in a
worker thread: one short message per digest does not need aiosmtplib as a new dependency. What goes wrong becomes a
NoticeError saying what to do, permanent only when the server refused the recipient or the message for good."""

import asyncio
import smtplib
import ssl
from datetime import datetime, timezone
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from federation.client import outgoing_ssl_context
from node.commons.notify_digest import Digest, NoticeError
from node.config import MailConfig

SMTP_TIMEOUT_SECONDS = 30


def message_id(domain: str) -> str:
    """A new Message-ID on the node's host name (kept with the notice: a retry sends the same one)."""
    return make_msgid(domain=domain.rsplit(":", 1)[0] if not domain.endswith("]") else domain)


def mail_of(digest: Digest, *, sender: str, sender_name: str, to: str, message_id: str, sent_at: float) -> EmailMessage:
    message = EmailMessage(policy=SMTP)
    local, _, domain = sender.rpartition("@")
    message["From"] = Address(display_name=sender_name, username=local, domain=domain)
    message["To"] = to
    message["Subject"] = digest.subject
    message["Date"] = format_datetime(datetime.fromtimestamp(sent_at, timezone.utc))
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a notice
    message.set_content(digest.text())
    return message


class Mailer:
    def __init__(self, mail: MailConfig, *, timeout: float = SMTP_TIMEOUT_SECONDS):
        self.mail = mail
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        """Hand the message to the SMTP server; NoticeError when it cannot be done now (or ever)."""
        if not self.mail.enabled:
            raise NoticeError("no SMTP server is configured: set host (and from) under [mail] in node.toml, "
                              "then restart the node")
        await asyncio.to_thread(self._send_now, message)

    def _send_now(self, message: EmailMessage) -> None:
        mail = self.mail
        where = f"the SMTP server {mail.host}:{mail.port}"
        try:
            with smtplib.SMTP(mail.host, mail.port, timeout=self.timeout) as server:
                server.ehlo()
                if mail.starttls:
                    server.starttls(context=outgoing_ssl_context())
                    server.ehlo()
                if mail.username:
                    server.login(mail.username, mail.password)
                server.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            raise NoticeError(f"{where} refused the recipient {message['To']}: {_answers(error.recipients)}",
                              permanent=all(code >= 500 for code in codes)) from None
        except smtplib.SMTPAuthenticationError as error:
            raise NoticeError(f"{where} refused the login ({error.smtp_code} {_text(error.smtp_error)}): check "
                              "username and password under [mail] in node.toml") from None
        except smtplib.SMTPNotSupportedError:
            raise NoticeError(f"{where} does not offer STARTTLS: set starttls = false under [mail] only if it is "
                              "on this machine or a trusted network") from None
        except smtplib.SMTPDataError as error:
            raise NoticeError(f"{where} refused the message: {error.smtp_code} {_text(error.smtp_error)}",
                              permanent=error.smtp_code >= 500) from None
        except smtplib.SMTPResponseException as error:
            raise NoticeError(f"{where} answered {error.smtp_code} {_text(error.smtp_error)}") from None
        except ssl.SSLError as error:
            raise NoticeError(f"STARTTLS with {where} failed: {error}") from None
        except (smtplib.SMTPException, OSError) as error:
            raise NoticeError(f"cannot reach {where}: {error or type(error).__name__}") from None


def _answers(recipients: dict) -> str:
    return "; ".join(f"{code} {_text(text)}" for code, text in recipients.values())


def _text(answer) -> str:
    return answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)
