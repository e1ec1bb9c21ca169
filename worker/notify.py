"""Sending the outbox (store.outbox): pluggable senders, retried, each message once.

The worker process sends: it leases due messages, hands each to the configured sender and
marks it sent, or schedules a retry with backoff. A sender that fails after sending (the
process dies before marking) may send a message again once its lease ends: the webhook
carries the message id (``X-OneTrip-Delivery``) so that a gateway drops a repeat.

Senders:
- ``LogSender`` (no webhook configured; ``onetrip dev``): a log line per message; the
  message stays readable through the API (``GET /cases/{id}/notifications``).
- ``WebhookSender``: a JSON POST to an SMS or mail gateway, signed with HMAC-SHA256 of the
  body under a shared secret (``X-OneTrip-Signature: sha256=<hex>``); any answer but 2xx, or
  no answer within the timeout, is a failure to retry.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
from typing import Protocol

import httpx
import structlog

from store import outbox
from store.db import Store
from store.outbox import NotificationRow

log = structlog.get_logger("notify")


class Sender(Protocol):
    async def send(self, message: NotificationRow) -> None:
        """Deliver the message, or raise."""


class LogSender:
    """Dev mode and installations without a gateway: the message is logged and kept."""

    async def send(self, message: NotificationRow) -> None:
        log.info(
            "notification",
            case_id=message.case_id,
            kind=message.kind,
            to=message.applicant_id,
            text=message.text,
        )


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the exact body bytes under the shared secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    """POST each message as JSON to a gateway, signed."""

    def __init__(
        self, url: str, secret: str, timeout: float = 10.0, client: httpx.AsyncClient | None = None
    ) -> None:
        self.url = url
        self.secret = secret
        self.client = client or httpx.AsyncClient(timeout=timeout)

    async def send(self, message: NotificationRow) -> None:
        body = json.dumps(
            {
                "id": message.id,
                "case_id": message.case_id,
                "to": message.applicant_id,
                "kind": message.kind,
                "title": {"zh": message.title_zh, "en": message.title_en},
                "text": message.text,
                "data": message.data,
                "created_at": message.created_at.isoformat(),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        response = await self.client.post(
            self.url,
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-OneTrip-Delivery": message.id,
                "X-OneTrip-Signature": signature(self.secret, body),
            },
        )
        if not 200 <= response.status_code < 300:
            raise RuntimeError(f"gateway answered {response.status_code}")

    async def close(self) -> None:
        await self.client.aclose()


async def send_due(store: Store, sender: Sender, now: dt.datetime | None = None) -> int:
    """Send what is due now; returns how many were sent."""
    at = now or dt.datetime.now(dt.UTC)
    messages = await asyncio.to_thread(outbox.take, store, at)
    done = 0
    for message in messages:
        try:
            await sender.send(message)
        except Exception as error:  # any failure of the gateway: retry later
            log.warning("notification not sent", id=message.id, error=str(error)[:200])
            await asyncio.to_thread(outbox.failed, store, message, str(error), at)
            continue
        await asyncio.to_thread(outbox.sent, store, message.id, dt.datetime.now(dt.UTC))
        done += 1
    return done


async def keep_sending(store: Store, sender: Sender, every: float) -> None:
    """Send due messages every ``every`` seconds (runs until cancelled)."""
    while True:
        try:
            await send_due(store, sender)
        except Exception as error:  # the store may be down for a while: try again later
            log.warning("notifications not sent", error=str(error)[:200])
        await asyncio.sleep(every)


def sender_from(url: str | None, secret: str | None) -> Sender:
    """The webhook when configured, else the log."""
    if url:
        if not secret:
            raise ValueError(
                "ONETRIP_NOTIFY_WEBHOOK_SECRET is required with ONETRIP_NOTIFY_WEBHOOK_URL"
            )
        return WebhookSender(url, secret)
    return LogSender()
