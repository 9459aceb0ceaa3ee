"""A sync scenario with a client generated from openapi/openapi.json by
openapi-python-client (package ``outpost_client``). Run by .ci/clients.sh
against ``outpost serve --demo``; OUTPOST_URL says where.

Two workers' phones: one pushes a person and a contact with kit lines, pulls
them back, both edit the person's alias from the same version, the second
push conflicts, the worker resolves it, and a list of contacts is paged
through with ``limit`` and ``after``. Any wrong answer exits non-zero.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from outpost_client import AuthenticatedClient, Client
from outpost_client.api.auth import login
from outpost_client.api.me import get_me
from outpost_client.api.records import list_contacts
from outpost_client.api.sync import get_conflict, resolve_conflict, sync_pull, sync_push
from outpost_client.models import (
    ChangeOp,
    ConflictStatus,
    ContactView,
    EntityKind,
    FieldValues,
    LoginDevice,
    LoginRequest,
    MutationIn,
    MutationOp,
    MutationResult,
    MutationStatus,
    PersonView,
    Problem,
    PushRequest,
    Resolution,
    ResolutionChoice,
    ResolveConflict,
)
from outpost_client.types import UNSET, Unset

BASE_URL = os.environ.get("OUTPOST_URL", "http://127.0.0.1:8080")
PASSWORD = "outpost-demo"


class ScenarioFailed(Exception):
    """A check failed."""


def check(condition: bool, what: str) -> None:
    if not condition:
        raise ScenarioFailed(what)


def uuid7() -> uuid.UUID:
    """A UUID v7 (time-ordered), as the API asks devices to generate."""
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return uuid.UUID(int=value)


class Phone:
    """A device: its session and the records it pulled."""

    def __init__(self, email: str, device_name: str) -> None:
        device_id = uuid7()
        answer = login.sync_detailed(
            client=Client(base_url=BASE_URL),
            body=LoginRequest(
                email=email,
                password=PASSWORD,
                device=LoginDevice(id=device_id, name=device_name, platform="android"),
            ),
        )
        check(answer.status_code == 200, f"login {email}: {answer.status_code} {answer.content!r}")
        session = answer.parsed
        check(not isinstance(session, (Problem, type(None))), "login answers a session")
        assert session is not None and not isinstance(session, Problem)
        check(session.me.user.email == email, "login answers the signed-in user")
        check(
            not isinstance(session.me.device, (Unset, type(None))) and session.me.device.id == device_id,
            "login registers the device",
        )
        self.client = AuthenticatedClient(base_url=BASE_URL, token=session.token)
        self.records: dict[tuple[str, uuid.UUID], Any] = {}
        self.cursor: str | Unset = UNSET

    def push(self, mutations: list[MutationIn]) -> list[MutationResult]:
        answer = sync_push.sync_detailed(client=self.client, body=PushRequest(mutations=mutations))
        check(answer.status_code == 200, f"push: {answer.status_code} {answer.content!r}")
        pushed = answer.parsed
        assert pushed is not None and not isinstance(pushed, Problem)
        check(len(pushed.results) == len(mutations), "one result per mutation")
        return pushed.results

    def pull(self) -> None:
        """Pulls from its cursor until nothing more is waiting."""
        while True:
            answer = sync_pull.sync_detailed(client=self.client, cursor=self.cursor, limit=100)
            check(answer.status_code == 200, f"pull: {answer.status_code} {answer.content!r}")
            page = answer.parsed
            assert page is not None and not isinstance(page, Problem)
            for change in page.changes:
                key = (change.entity.value, change.id)
                if change.op == ChangeOp.UPSERT:
                    self.records[key] = change.record
                else:
                    self.records.pop(key, None)
            self.cursor = page.cursor
            if not page.has_more:
                return


def contact_fields(site_id: uuid.UUID, person_id: uuid.UUID) -> FieldValues:
    return FieldValues.from_dict(
        {
            "occurred_at": datetime.now(timezone.utc).isoformat(),
            "site_id": str(site_id),
            "person_id": str(person_id),
            "contact_type": "street_outreach",
            "living_situation": "rough_sleeping",
            "interventions": ["harm_reduction_advice"],
            "substances": [{"substance": "Spice", "known_by": "self_reported"}],
            "note": "Seen by the arches.",
            "kit_lines": [
                {"item": "foil", "quantity": 10},
                {"item": "naloxone_nasal", "quantity": 1, "for_others": 0},
            ],
        }
    )


def create(entity: EntityKind, record_id: uuid.UUID, fields: FieldValues) -> MutationIn:
    return MutationIn(mutation_id=uuid7(), entity=entity, id=record_id, op=MutationOp.CREATE, fields=fields)


def edit_alias(person_id: uuid.UUID, base_version: int, alias: str) -> MutationIn:
    return MutationIn(
        mutation_id=uuid7(),
        entity=EntityKind.PERSON,
        id=person_id,
        op=MutationOp.UPDATE,
        base_version=base_version,
        fields=FieldValues.from_dict({"alias": alias}),
    )


def main() -> None:
    phone = Phone("worker1@demo.outpost.test", "phone (Python scenario)")
    desk = Phone("worker2@demo.outpost.test", "desk (Python scenario)")

    me = get_me.sync(client=phone.client)
    check(me is not None and not isinstance(me, Problem) and len(me.sites) > 0, "the demo worker has a site")
    assert me is not None and not isinstance(me, Problem)
    site_id = me.sites[0].id

    # 1. Push a batch: a person and a contact with two kit lines.
    person_id, contact_id = uuid7(), uuid7()
    results = phone.push(
        [
            create(EntityKind.PERSON, person_id, FieldValues.from_dict({"alias": "Jay", "name_quality": "street_name"})),
            create(EntityKind.CONTACT, contact_id, contact_fields(site_id, person_id)),
        ]
    )
    for r in results:
        check(r.status == MutationStatus.APPLIED and r.version == 1, f"applied at version 1: {r.to_dict()}")

    # 2. Pull it back: the contact comes with its kit lines.
    phone.pull()
    raw = phone.records.get(("contact", contact_id))
    assert isinstance(raw, dict), "the contact comes back in a pull"
    contact = ContactView.from_dict(raw)
    check(contact.person_id == person_id, "the contact names the person")
    kit = sorted(f"{line.quantity} {line.item}" for line in contact.kit_lines)
    check(kit == ["1 naloxone_nasal", "10 foil"], f"kit lines: {kit}")
    check(contact.substances[0].substance == "synthetic_cannabinoid", "street name mapped to its code")

    # 3. A conflict: both phones edit the alias from version 1; the desk is first.
    desk.pull()
    [first] = desk.push([edit_alias(person_id, 1, "J-Bird")])
    check(first.status == MutationStatus.APPLIED, f"the first edit applies: {first.to_dict()}")
    [second] = phone.push([edit_alias(person_id, 1, "Jay B")])
    check(second.status == MutationStatus.CONFLICT, f"the second edit conflicts: {second.to_dict()}")
    conflict_id = second.conflict_id
    check(isinstance(conflict_id, uuid.UUID), "a conflict id")
    assert isinstance(conflict_id, uuid.UUID)
    check(
        isinstance(second.record, dict) and PersonView.from_dict(second.record).alias == "J-Bird",
        f"the server keeps its value: {second.to_dict()}",
    )

    conflict = get_conflict.sync(conflict_id, client=phone.client)
    assert conflict is not None and not isinstance(conflict, Problem), "get_conflict"
    field = conflict.fields[0]
    check(
        (field.field, field.base, field.mine, field.theirs) == ("alias", "Jay", "Jay B", "J-Bird"),
        f"conflict fields: {conflict.to_dict()['fields']}",
    )

    # 4. Resolve it with a merged value; the resolution syncs down.
    resolved = resolve_conflict.sync(
        conflict_id,
        client=phone.client,
        body=ResolveConflict(
            resolution=ResolutionChoice.MERGED,
            values=FieldValues.from_dict({"alias": "Jay (J-Bird)"}),
        ),
    )
    assert resolved is not None and not isinstance(resolved, Problem), f"resolve: {resolved}"
    check(
        resolved.status == ConflictStatus.RESOLVED and resolved.resolution == Resolution.MERGED,
        "resolved as merged",
    )
    again = resolve_conflict.sync_detailed(
        conflict_id, client=phone.client, body=ResolveConflict(resolution=ResolutionChoice.TAKE_MINE)
    )
    check(
        again.status_code == 409 and isinstance(again.parsed, Problem) and again.parsed.code == "already_resolved",
        f"a second resolve is refused: {again.status_code} {again.content!r}",
    )
    check(again.headers["content-type"].startswith("application/problem+json"), "errors are problem+json")
    phone.pull()
    desk.pull()
    on_phone = phone.records.get(("person", person_id))
    check(
        isinstance(on_phone, dict) and PersonView.from_dict(on_phone).alias == "Jay (J-Bird)",
        f"the resolved alias syncs: {on_phone}",
    )
    check(on_phone == desk.records.get(("person", person_id)), "both phones converge")

    # 5. Page through the contacts, two at a time, with `limit` and `after`.
    more = [uuid7() for _ in range(4)]
    pushed = phone.push([create(EntityKind.CONTACT, i, contact_fields(site_id, person_id)) for i in more])
    check(all(r.status == MutationStatus.APPLIED for r in pushed), "four more contacts applied")
    listed: list[uuid.UUID] = []
    after: uuid.UUID | Unset = UNSET
    pages = 0
    while True:
        page = list_contacts.sync(client=phone.client, limit=2, after=after)
        assert page is not None and not isinstance(page, Problem), f"list_contacts: {page}"
        pages += 1
        check(len(page.items) <= 2, "a page holds at most `limit` items")
        listed.extend(c.id for c in page.items)
        if page.next_after is None or isinstance(page.next_after, Unset):
            break
        after = page.next_after
        check(pages < 1000, "paging ends")
    check(len(set(listed)) == len(listed), "no contact listed twice")
    for i in [contact_id, *more]:
        check(i in listed, f"contact {i} listed")
    check(pages in (-(-len(listed) // 2), -(-len(listed) // 2) + 1), "page count")

    print(
        f"python scenario: ok, pushed 1 contact with {len(contact.kit_lines)} kit lines, pulled it back, "
        f"conflict resolved, {len(listed)} contacts in {pages} pages"
    )


if __name__ == "__main__":
    try:
        main()
    except (ScenarioFailed, AssertionError) as failure:
        print(f"python scenario: FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
