"""``Idempotency-Key``: a retried POST gets the first response again.

The key's row (SubmissionKey) is written in the same transaction as the
case, so every gunicorn worker sees it, and its unique constraint settles a
race between two identical requests: the loser rolls back and answers with
the winner's stored response. Keys count for 24 hours.

The stored key is a digest of the caller (token or anonymous), the key and
the request body, so nobody can fetch someone else's response by reusing
their key. The response's private access token is stored sealed with a
keystream derived from the secret key and the caller's own key, never in
clear: the database alone cannot open a case.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from flask import current_app, request
from sqlalchemy import delete, select

from ..extensions import db
from ..jobs import IDEMPOTENCY_TTL
from ..models import SubmissionKey, hash_token, utcnow
from .auth import bearer_token
from .errors import ApiError

HEADER = "Idempotency-Key"
LIFETIME = IDEMPOTENCY_TTL  # the sweeper drops older keys
KEY_SHAPE = re.compile(r"[\x21-\x7e]{1,128}")  # printable ASCII, no spaces
SEALED = "access_token_sealed"
PLACEHOLDER = "{access_token}"


@dataclass
class IdempotencyKey:
    material: bytes  # what the caller sent, never stored
    digest: str  # what is stored

    @classmethod
    def from_request(cls, body: Any) -> IdempotencyKey | None:
        raw = request.headers.get(HEADER)
        if raw is None:
            return None
        if not KEY_SHAPE.fullmatch(raw):
            raise ApiError(400, f"{HEADER} must be 1 to 128 printable ASCII characters without spaces.",
                           fields={HEADER: "Invalid key."}, reason="bad_idempotency_key")
        caller = hash_token(bearer_token() or "anonymous")
        canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        material = "\n".join((caller, raw, canonical)).encode("utf-8")
        return cls(material, "api:" + hashlib.sha256(b"key\n" + material).hexdigest())

    def stored(self) -> tuple[int, dict[str, Any]] | None:
        """The status and body answered the first time, while the key lasts."""
        row = db.session.execute(select(SubmissionKey).where(
            SubmissionKey.key == self.digest, SubmissionKey.created_at > utcnow() - LIFETIME)).scalar_one_or_none()
        if row is None or row.response_body is None:
            return None
        body = dict(row.response_body)
        if SEALED in body:
            token = self._unseal(body.pop(SEALED))
            body["access_token"] = token
            if body.get("private_url"):
                body["private_url"] = body["private_url"].replace(PLACEHOLDER, token)
        return row.response_status, body

    def remember(self, case_id: int, status: int, body: dict[str, Any]) -> None:
        """Add the key and the response to the current transaction; an
        expired row for the same key makes way for the new one."""
        db.session.execute(delete(SubmissionKey).where(SubmissionKey.key == self.digest,
                                                       SubmissionKey.created_at <= utcnow() - LIFETIME))
        kept = dict(body)
        token = kept.pop("access_token", None)
        if token:
            # The private URL holds the token too: keep it with a placeholder.
            if kept.get("private_url"):
                kept["private_url"] = kept["private_url"].replace(token, PLACEHOLDER)
            kept[SEALED] = self._seal(token)
        db.session.add(SubmissionKey(key=self.digest, case_id=case_id, response_status=status, response_body=kept))

    def _keystream(self, length: int) -> bytes:
        secret = current_app.config["SECRET_KEY"].encode("utf-8")
        seed = hmac.new(secret, b"seal\n" + self.material, hashlib.sha256).digest()
        return hashlib.shake_256(seed).digest(length)

    def _seal(self, token: str) -> str:
        data = token.encode("utf-8")
        return bytes(a ^ b for a, b in zip(data, self._keystream(len(data)), strict=False)).hex()

    def _unseal(self, sealed: str) -> str:
        data = bytes.fromhex(sealed)
        return bytes(a ^ b for a, b in zip(data, self._keystream(len(data)), strict=False)).decode("utf-8")
