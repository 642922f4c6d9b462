"""Who calls the host's API, and what of it they may touch.

A client sends its API key in the `x-twinforge-api-key` metadata; the interceptor resolves it to a
`Caller` before any client RPC runs. A "user" key acts for its own user, a "service" key (the bot)
for the person it names in `x-twinforge-on-behalf-of`, an "operator" key on everything. Every RPC
reaches avatars, runs and artifacts only through `avatar`, `run` and `artifact` here, which answer
for someone else's exactly as for one that does not exist (NOT_FOUND, same words), so ids cannot
be probed.

Keys are 256 random bits; only their sha256 is stored, and a key is found by looking its hash up
in a unique index. No comparison ever runs over the secret character by character, so how many
characters of a guess match changes nothing a caller could time.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import peewee

from host import use_cases
from host.channels import API_KEY_HEADER, ON_BEHALF_HEADER
from host.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from host.storage import models
from host.storage.models import utcnow

ROLES = ("user", "service", "operator")
KEY_PREFIX = "tfk_"
ISSUE_ADVICE = "set TWINFORGE_API_KEY to a key an operator issued with `twinforge keys issue --user ID --role user`"


@dataclass(frozen=True)
class Caller:
    external_id: str  # the user acted for: the key's own, or the person a service names
    role: str

    @property
    def operator(self) -> bool:
        return self.role == "operator"

    def owns(self, owner_external_id: str) -> bool:
        return self.operator or owner_external_id == self.external_id


_caller: ContextVar[Caller] = ContextVar("twinforge_caller")


def act_as(caller: Caller) -> None:
    """Set by the interceptor in the RPC's task; threads started with asyncio.to_thread inherit it."""
    _caller.set(caller)


def current() -> Caller:
    """The caller of the RPC being served. Unset means the RPC bypassed the interceptor: refused, never
    served as anyone."""
    try:
        return _caller.get()
    except LookupError:
        raise Unauthenticated(code="no_caller", cause="this call carries no resolved API key", advice=ISSUE_ADVICE) from None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _external_id(value: str, what: str) -> str:
    if not value or len(value) > 128:
        raise InvalidArgument(code="bad_user", cause=f"{what} must be a user identity of 1 to 128 characters",
                              advice="name the user as e.g. 'telegram:12345' or 'cli:anna'")
    return value


def issue(external_id: str, role: str, label: str = "") -> tuple[models.ApiKey, str]:
    """A new key for the user (created if new); the key itself is returned once and never stored."""
    if role not in ROLES:
        raise InvalidArgument(code="bad_role", cause=f"{role!r} is not a role", advice=f"use one of {', '.join(ROLES)}")
    user = use_cases.ensure_user(_external_id(external_id, "the key's user"))
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = models.ApiKey.create(id=models.new_id()[:16], key_hash=hash_key(key), user=user, role=role, label=label[:128])
    return row, key


def keys() -> list[models.ApiKey]:
    return list(models.ApiKey.select(models.ApiKey, models.User).join(models.User).order_by(models.ApiKey.created_at))


def revoke(key_id: str) -> models.ApiKey:
    row = models.ApiKey.get_or_none(models.ApiKey.id == key_id)
    if row is None:
        raise NotFound(code="unknown_api_key", cause=f"there is no API key {key_id!r}", advice="list the keys with `twinforge keys ls`")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        row.save()
    return row


def resolve(key: str, on_behalf_of: str = "") -> Caller:
    """The caller a key stands for. A service key becomes the person it names (a user row is made
    for someone new); no other key may name anyone."""
    row = (
        models.ApiKey.select(models.ApiKey, models.User).join(models.User).where(models.ApiKey.key_hash == hash_key(key)).first()
        if key else None
    )
    if row is None or row.revoked_at is not None:
        raise Unauthenticated(
            code="missing_api_key" if not key else "bad_api_key",
            cause="this call carries no API key" if not key else "the API key is unknown or revoked",
            advice=f"send it in the {API_KEY_HEADER!r} metadata: {ISSUE_ADVICE}",
        )
    if row.role == "service":
        if not on_behalf_of:
            raise PermissionDenied(code="on_behalf_of_missing", cause="a service key must name the person it acts for",
                                   advice=f"send the person's identity (e.g. telegram:12345) in the {ON_BEHALF_HEADER!r} metadata")
        return Caller(use_cases.ensure_user(_external_id(on_behalf_of, ON_BEHALF_HEADER)).external_id, "user")
    if on_behalf_of:
        raise PermissionDenied(code="on_behalf_of_not_allowed", cause=f"a {row.role} key cannot act on behalf of someone else",
                               advice=f"leave out {ON_BEHALF_HEADER!r}, or use a service key (`twinforge keys issue --role service`)")
    return Caller(row.user.external_id, row.role)


def operator_only(what: str) -> None:
    """Refuses the call unless an operator key makes it: `what` names what only an operator does."""
    if not current().operator:
        raise PermissionDenied(code="operator_only", cause=f"only an operator key may {what}",
                               advice="ask the operator of this platform, who runs it with the operator key (`twinforge up` leaves one)")


def avatar(avatar_id: str) -> models.Avatar:
    """The avatar, when the caller may touch it; otherwise the very answer for an unknown id."""
    row = models.Avatar.select(models.Avatar, models.User).join(models.User).where(models.Avatar.id == avatar_id).first()
    if row is None or not current().owns(row.owner.external_id):
        raise use_cases.unknown_avatar(avatar_id)
    return row


def run(run_id: str) -> models.StageRun:
    row = models.StageRun.get_or_none(models.StageRun.id == run_id)
    if row is None or not visible(row.avatar_id):
        raise use_cases.unknown_run(run_id)
    return row


def artifact(key: str) -> models.Artifact:
    row = models.Artifact.get_or_none(models.Artifact.key == key)
    if row is None or not visible(row.avatar_id):
        raise NotFound(code="unknown_artifact", cause=f"no artifact is stored under {key!r}", advice="use a key from a stage run's outputs")
    return row


def visible(avatar_id: str) -> bool:
    caller = current()
    if caller.operator:
        return True
    return models.Avatar.select().join(models.User).where(
        (models.Avatar.id == avatar_id) & (models.User.external_id == caller.external_id)
    ).exists()


def visibility() -> Callable[[str], bool]:
    """`visible`, remembered per avatar: for a stream that checks every notification it passes."""
    seen: dict[str, bool] = {}

    def check(avatar_id: str) -> bool:
        if avatar_id not in seen:
            seen[avatar_id] = visible(avatar_id)
        return seen[avatar_id]

    return check


def avatars() -> peewee.ModelSelect:
    """The avatars the caller may list: its own, or every one for an operator."""
    query = models.Avatar.select(models.Avatar, models.User).join(models.User)
    caller = current()
    return query if caller.operator else query.where(models.User.external_id == caller.external_id)


def new_owner(requested: str) -> str:
    """A user or service creates avatars for itself: an empty owner means the caller, another
    person's is refused (the avatar would be made for someone who never asked). An operator may
    name anyone."""
    caller = current()
    if not requested or requested == caller.external_id:
        return caller.external_id
    if caller.operator:
        return requested
    raise PermissionDenied(code="owner_not_caller", cause=f"this key creates avatars for {caller.external_id}, not for {requested!r}",
                           advice="leave the owner empty (or name yourself); only an operator key creates avatars for others")


def ensure_key_file(path: Path, external_id: str, role: str, label: str) -> str:
    """The key in `path`, issued and written (mode 0600) when the file is missing or holds a key
    this database does not accept; how `twinforge up` gives one machine working keys."""
    try:
        key = path.read_text().strip()
    except OSError:
        key = ""
    if key:
        found = models.ApiKey.get_or_none(models.ApiKey.key_hash == hash_key(key))
        if found is not None and found.revoked_at is None and found.role == role:
            return key
    _, key = issue(external_id, role, label)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(key + "\n")
    return key
