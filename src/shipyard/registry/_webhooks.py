"""Webhooks: registry events POSTed to configured URLs, signed, retried, and recorded.

Each audit event queues one delivery per matching webhook in the same transaction (the outbox,
see ``store.sql._audit``); a ``Dispatcher`` thread in the server sends them. The body is JSON;
``X-Shipyard-Signature: sha256=<hex>`` is the HMAC-SHA256 of the raw body with the webhook's
secret. A failed attempt (network error or a non-2xx answer) is retried with exponential
backoff; after ``max_attempts`` the delivery is marked FAILED. Every attempt is recorded.

URLs are checked when a webhook is created and again before every attempt (a DNS answer can
change): a host that resolves to a loopback, private, link-local or otherwise non-public address
is refused unless ``allow_private`` is set, so a webhook cannot be aimed at the server's own
admin surfaces (CVE-2026-2393 in MLflow). Redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import socket
import threading
import time
from typing import Protocol
from urllib.parse import urlsplit

import httpx
import orjson

from shipyard.entities import AuditEvent, Webhook, WebhookDelivery
from shipyard.errors import InvalidParameter

__all__ = ["Dispatcher", "check_webhook_url", "event_payload", "sign"]

log = logging.getLogger("shipyard.webhooks")

SIGNATURE_HEADER = "X-Shipyard-Signature"


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def check_webhook_url(url: str, *, allow_private: bool) -> str:
    """Refuse URLs that are malformed or (unless allowed) reach non-public addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParameter(
            f"Invalid webhook URL {url!r}: it must be an http(s) URL with a host."
        )
    if parts.username or parts.password:
        raise InvalidParameter(f"Invalid webhook URL {url!r}: credentials in the URL are refused.")
    if allow_private:
        return url
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise InvalidParameter(
            f"Invalid webhook URL {url!r}: {parts.hostname} does not resolve ({exc})."
        ) from None
    for info in infos:
        address = str(info[4][0])
        if not _public(address):
            raise InvalidParameter(
                f"Webhook URL {url!r} resolves to {address}, a loopback, private or link-local "
                "address. Set SHIPYARD_WEBHOOKS_ALLOW_PRIVATE=true to allow internal targets."
            )
    return url


def event_payload(delivery: WebhookDelivery, event: AuditEvent) -> bytes:
    body = {
        "delivery_id": delivery.id,
        "event": {
            "seq": event.seq,
            "time_ms": event.time_ms,
            "actor": event.actor,
            "action": event.action,
            "model": event.model_name,
            "version": event.version,
            "alias": event.alias,
            "before": event.before,
            "after": event.after,
            "reason": event.reason,
            "details": event.details,
            "hash": event.hash,
        },
    }
    return orjson.dumps(body)


class DeliveryStore(Protocol):
    def claim_deliveries(
        self, now: int, lease_ms: int, limit: int = 20
    ) -> list[tuple[WebhookDelivery, Webhook, AuditEvent]]: ...

    def finish_delivery(
        self,
        delivery_id: int,
        *,
        delivered: bool,
        status_code: int | None,
        error: str | None,
        retry_at: int | None,
    ) -> None: ...


class Dispatcher:
    """Sends due deliveries from a background thread; ``nudge`` after a write wakes it early."""

    def __init__(
        self,
        store: DeliveryStore,
        *,
        allow_private: bool = False,
        interval: float = 1.0,
        timeout: float = 5.0,
        max_attempts: int = 6,
        backoff: float = 1.0,
    ) -> None:
        self.store = store
        self.allow_private = allow_private
        self.interval = interval
        self.max_attempts = max_attempts
        self.backoff = backoff
        self._http = httpx.Client(timeout=timeout, follow_redirects=False)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="shipyard-webhooks", daemon=True)
        self._thread.start()

    def nudge(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._http.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a broken database must not kill the thread; try again later
                log.exception("webhook dispatch failed")
            self._wake.wait(self.interval)
            self._wake.clear()

    def run_once(self) -> int:
        """Send every due delivery once; returns how many were attempted."""
        now = int(time.time() * 1000)
        due = self.store.claim_deliveries(now, lease_ms=60_000)
        for delivery, hook, event in due:
            self._attempt(delivery, hook, event)
        return len(due)

    def _attempt(self, delivery: WebhookDelivery, hook: Webhook, event: AuditEvent) -> None:
        body = event_payload(delivery, event)
        code: int | None = None
        try:
            check_webhook_url(hook.url, allow_private=self.allow_private)
            response = self._http.post(
                hook.url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: sign(hook.secret, body),
                    "X-Shipyard-Event": event.action,
                    "X-Shipyard-Delivery": str(delivery.id),
                },
            )
            code = response.status_code
            if 200 <= code < 300:
                self.store.finish_delivery(
                    delivery.id, delivered=True, status_code=code, error=None, retry_at=None
                )
                return
            error = f"HTTP {code}"
        except (httpx.HTTPError, InvalidParameter) as exc:
            error = str(exc) or type(exc).__name__
        attempts = delivery.attempts + 1
        retry_at = None
        if attempts < self.max_attempts:
            retry_at = int((time.time() + self.backoff * 2 ** (attempts - 1)) * 1000)
        log.warning("webhook %s delivery %s failed (%s)", hook.id, delivery.id, error)
        self.store.finish_delivery(
            delivery.id, delivered=False, status_code=code, error=error, retry_at=retry_at
        )
