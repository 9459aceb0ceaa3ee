"""A sync scenario with a client generated from openapi/openapi.json by
openapi-python-client (package ``outpost_client``). Run by .ci/clients.sh
against ``outpost serve --demo``; OUTPOST_URL says where.

Two workers' phones: one pushes a record of every kind sync takes (a person,
a contact with kit lines, an incident, a referral and a step of it), each as
its kind's mutation model with typed fields, pulls them back as typed records
(narrowed with ``isinstance`` on the change's model: the generated client
tries each member of the union in turn and only the one whose single-value
``entity`` matches parses; no casts, no ``Any``), deletes the incident and
pulls the delete; both edit the person's alias from the same version, the
second push conflicts, the worker resolves it, and a list of contacts is
paged through with ``limit`` and ``after``. Any wrong answer exits non-zero.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

from outpost_client import AuthenticatedClient, Client
from outpost_client.api.auth import login
from outpost_client.api.me import get_me
from outpost_client.api.records import list_contacts
from outpost_client.api.stock import list_stock_locations
from outpost_client.api.sync import get_conflict, resolve_conflict, sync_pull, sync_push
from outpost_client.models import (
    ChangeOp,
    ConflictChange,
    ConflictStatus,
    ConsentChange,
    ConsentMethod,
    ConsentMutation,
    ConsentMutationEntity,
    ConsentMutationOp,
    ConsentPurpose,
    ConsentRevocationChange,
    ConsentRevocationMutation,
    ContactChange,
    ContactMutation,
    ContactMutationEntity,
    ContactMutationOp,
    ContactType,
    ContactView,
    CreateConsentFields,
    CreateContactFields,
    CreateIncidentFields,
    CreatePersonFields,
    CreateReferralFields,
    CreateReferralStepFields,
    CreateStockEntryFields,
    FieldValues,
    InboxReferralChange,
    IncidentChange,
    IncidentMutation,
    IncidentMutationEntity,
    IncidentMutationOp,
    IncidentOutcome,
    IncidentType,
    IncidentView,
    Intervention,
    InvolvedPartyInput,
    KitItemChange,
    KitLineInput,
    KnownBy,
    LivingSituation,
    LoginDevice,
    LoginRequest,
    MutationResult,
    MutationStatus,
    NaloxoneRecipient,
    NaloxoneSupplyInput,
    NaloxoneSupplyKind,
    NaloxoneTraining,
    NameQuality,
    PartnerServiceChange,
    PersonChange,
    PersonMutation,
    PersonMutationEntity,
    PersonMutationOp,
    PersonView,
    Problem,
    PushRequest,
    ReferralChange,
    ReferralMutation,
    ReferralMutationEntity,
    ReferralMutationOp,
    ReferralStatus,
    ReferralStepChange,
    ReferralStepMutation,
    ReferralStepMutationEntity,
    ReferralStepMutationOp,
    ReferralStepView,
    StockEntryChange,
    StockEntryKind,
    StockEntryMutation,
    StockEntryMutationEntity,
    StockEntryMutationOp,
    StockLocationChange,
    StockThresholdChange,
    ReferralView,
    Resolution,
    ResolutionChoice,
    ResolveConflict,
    ServiceType,
    Severity,
    SiteChange,
    SubstanceChange,
    SubstanceInput,
    UpdatePerson,
    Urgency,
)
from outpost_client.types import UNSET, Unset

# A pushed mutation and a pulled change, as the spec's `MutationIn` and
# `SyncChange` (unions discriminated by `entity`) come out of the generator.
MutationIn = (
    PersonMutation
    | ContactMutation
    | IncidentMutation
    | ReferralMutation
    | ReferralStepMutation
    | StockEntryMutation
    | ConsentMutation
    | ConsentRevocationMutation
)
SyncChange = (
    PersonChange
    | ContactChange
    | IncidentChange
    | ReferralChange
    | ReferralStepChange
    | ConflictChange
    | SiteChange
    | KitItemChange
    | SubstanceChange
    | PartnerServiceChange
    | StockLocationChange
    | StockEntryChange
    | StockThresholdChange
    | ConsentChange
    | ConsentRevocationChange
    | InboxReferralChange
)

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
        # The last upsert pulled for each record, by (entity, id).
        self.records: dict[tuple[str, uuid.UUID], SyncChange] = {}
        self.cursor: str | Unset = UNSET

    def push(self, mutations: list[MutationIn]) -> list[MutationResult]:
        answer = sync_push.sync_detailed(client=self.client, body=PushRequest(mutations=mutations))
        check(answer.status_code == 200, f"push: {answer.status_code} {answer.content!r}")
        pushed = answer.parsed
        assert pushed is not None and not isinstance(pushed, Problem)
        check(len(pushed.results) == len(mutations), "one result per mutation")
        return pushed.results

    def pull(self) -> list[SyncChange]:
        """Pulls from its cursor until nothing more is waiting."""
        seen: list[SyncChange] = []
        while True:
            answer = sync_pull.sync_detailed(client=self.client, cursor=self.cursor, limit=100)
            check(answer.status_code == 200, f"pull: {answer.status_code} {answer.content!r}")
            page = answer.parsed
            assert page is not None and not isinstance(page, Problem)
            for change in page.changes:
                seen.append(change)
                key = (change.entity.value, change.id)
                if change.op == ChangeOp.UPSERT:
                    check(not isinstance(change.record, (Unset, type(None))), f"an upsert carries its record: {key}")
                    self.records[key] = change
                else:
                    self.records.pop(key, None)
            self.cursor = page.cursor
            if not page.has_more:
                return seen

    # The pulled records of each kind, as their views: the change's model
    # (parsed by `entity`) narrows, and with it `record`.
    def person(self, record_id: uuid.UUID) -> PersonView | None:
        change = self.records.get(("person", record_id))
        if isinstance(change, PersonChange) and isinstance(change.record, PersonView):
            return change.record
        return None

    def contact(self, record_id: uuid.UUID) -> ContactView | None:
        change = self.records.get(("contact", record_id))
        if isinstance(change, ContactChange) and isinstance(change.record, ContactView):
            return change.record
        return None

    def incident(self, record_id: uuid.UUID) -> IncidentView | None:
        change = self.records.get(("incident", record_id))
        if isinstance(change, IncidentChange) and isinstance(change.record, IncidentView):
            return change.record
        return None

    def referral(self, record_id: uuid.UUID) -> ReferralView | None:
        change = self.records.get(("referral", record_id))
        if isinstance(change, ReferralChange) and isinstance(change.record, ReferralView):
            return change.record
        return None

    def referral_step(self, record_id: uuid.UUID) -> ReferralStepView | None:
        change = self.records.get(("referral_step", record_id))
        if isinstance(change, ReferralStepChange) and isinstance(change.record, ReferralStepView):
            return change.record
        return None


def contact_fields(site_id: uuid.UUID, person_id: uuid.UUID) -> CreateContactFields:
    return CreateContactFields(
        occurred_at=datetime.now(timezone.utc),
        site_id=site_id,
        person_id=person_id,
        contact_type=ContactType.STREET_OUTREACH,
        living_situation=LivingSituation.ROUGH_SLEEPING,
        interventions=[Intervention.HARM_REDUCTION_ADVICE],
        substances=[SubstanceInput(substance="Spice", known_by=KnownBy.SELF_REPORTED)],
        note="Seen by the arches.",
        kit_lines=[
            KitLineInput(item="foil", quantity=10),
            KitLineInput(
                item="naloxone_nasal",
                quantity=1,
                for_others=0,
                naloxone=NaloxoneSupplyInput(
                    supply=NaloxoneSupplyKind.FIRST,
                    recipient=NaloxoneRecipient.PERSON_AT_RISK,
                    trained=NaloxoneTraining.NOW,
                ),
            ),
        ],
    )


def create_contact(record_id: uuid.UUID, fields: CreateContactFields) -> ContactMutation:
    return ContactMutation(
        mutation_id=uuid7(),
        entity=ContactMutationEntity.CONTACT,
        id=record_id,
        op=ContactMutationOp.CREATE,
        fields=fields,
    )


def edit_alias(person_id: uuid.UUID, base_version: int, alias: str) -> PersonMutation:
    return PersonMutation(
        mutation_id=uuid7(),
        entity=PersonMutationEntity.PERSON,
        id=person_id,
        op=PersonMutationOp.UPDATE,
        base_version=base_version,
        fields=UpdatePerson(alias=alias),
    )


def minutes_ago(minutes: int) -> datetime:
    return datetime.now(timezone.utc) - timedelta(minutes=minutes)


def main() -> None:
    phone = Phone("worker1@demo.outpost.test", "phone (Python scenario)")
    desk = Phone("worker2@demo.outpost.test", "desk (Python scenario)")

    me = get_me.sync(client=phone.client)
    check(me is not None and not isinstance(me, Problem) and len(me.sites) > 0, "the demo worker has a site")
    assert me is not None and not isinstance(me, Problem)
    site_id = me.sites[0].id
    locations = list_stock_locations.sync(client=phone.client)
    check(
        locations is not None and not isinstance(locations, Problem) and len(locations.items) > 0,
        "the demo worker's sites have a stock location",
    )
    assert locations is not None and not isinstance(locations, Problem)
    location_id = locations.items[0].id

    # 1. Push a batch with a record of every kind sync takes, each as its
    # kind's mutation with typed fields: a person, a contact with two kit
    # lines, an overdose, a referral for the person and a step moving it to
    # `sent`.
    person_id, contact_id, incident_id, referral_id, step_id, stock_id, consent_id = (uuid7() for _ in range(7))
    batch: list[MutationIn] = [
        PersonMutation(
            mutation_id=uuid7(),
            entity=PersonMutationEntity.PERSON,
            id=person_id,
            op=PersonMutationOp.CREATE,
            fields=CreatePersonFields(alias="Jay", name_quality=NameQuality.STREET_NAME),
        ),
        create_contact(contact_id, contact_fields(site_id, person_id)),
        IncidentMutation(
            mutation_id=uuid7(),
            entity=IncidentMutationEntity.INCIDENT,
            id=incident_id,
            op=IncidentMutationOp.CREATE,
            fields=CreateIncidentFields(
                occurred_at=minutes_ago(20),
                site_id=site_id,
                incident_type=IncidentType.SUSPECTED_OVERDOSE,
                severity=Severity.SERIOUS,
                people=[InvolvedPartyInput(person_id=person_id)],
                substances=["heroin"],
                ambulance_called=True,
                ambulance_arrived=True,
                naloxone_doses=2,
                rescue_breaths=True,
                outcome=IncidentOutcome.TAKEN_TO_HOSPITAL,
            ),
        ),
        ReferralMutation(
            mutation_id=uuid7(),
            entity=ReferralMutationEntity.REFERRAL,
            id=referral_id,
            op=ReferralMutationOp.CREATE,
            fields=CreateReferralFields(
                person_id=person_id,
                occurred_at=minutes_ago(10),
                service_type=ServiceType.DRUG_ALCOHOL_TREATMENT,
                reason="Wants to start a script after the overdose",
                urgency=Urgency.URGENT,
                consent_to_share=True,
                site_id=site_id,
            ),
        ),
        ReferralStepMutation(
            mutation_id=uuid7(),
            entity=ReferralStepMutationEntity.REFERRAL_STEP,
            id=step_id,
            op=ReferralStepMutationOp.CREATE,
            fields=CreateReferralStepFields(
                referral_id=referral_id, status=ReferralStatus.SENT, occurred_at=minutes_ago(5), note="Form emailed"
            ),
        ),
        StockEntryMutation(
            mutation_id=uuid7(),
            entity=StockEntryMutationEntity.STOCK_ENTRY,
            id=stock_id,
            op=StockEntryMutationOp.CREATE,
            fields=CreateStockEntryFields(
                kind=StockEntryKind.RECEIPT,
                occurred_at=minutes_ago(30),
                location_id=location_id,
                item_code="foil",
                quantity=50,
                supplier="Van restock",
            ),
        ),
        ConsentMutation(
            mutation_id=uuid7(),
            entity=ConsentMutationEntity.CONSENT,
            id=consent_id,
            op=ConsentMutationOp.CREATE,
            fields=CreateConsentFields(
                person_id=person_id,
                purposes=[ConsentPurpose.DIRECT_CARE],
                how=ConsentMethod.VERBAL,
                occurred_at=minutes_ago(40),
            ),
        ),
    ]
    results = phone.push(batch)
    for r in results:
        check(r.status == MutationStatus.APPLIED and r.version == 1, f"applied at version 1: {r.to_dict()}")
    kinds = [r.entity.value for r in results]
    check(
        kinds == ["person", "contact", "incident", "referral", "referral_step", "stock_entry", "consent"],
        f"results in push order: {kinds}",
    )

    # 2. Pull them back: every one comes as its kind's typed record.
    pulled = phone.pull()
    for entity, record_id in [
        ("person", person_id),
        ("contact", contact_id),
        ("incident", incident_id),
        ("referral", referral_id),
        ("referral_step", step_id),
        ("stock_entry", stock_id),
        ("consent", consent_id),
    ]:
        check(
            any(c.entity.value == entity and c.id == record_id and c.op == ChangeOp.UPSERT for c in pulled),
            f"the pull brings the {entity} back",
        )
    person = phone.person(person_id)
    check(
        person is not None and person.alias == "Jay" and person.name_quality == NameQuality.STREET_NAME,
        f"the person: {person}",
    )
    contact = phone.contact(contact_id)
    assert contact is not None, "the contact comes back in a pull"
    check(contact.person_id == person_id, "the contact names the person")
    kit = sorted(f"{line.quantity} {line.item}" for line in contact.kit_lines)
    check(kit == ["1 naloxone_nasal", "10 foil"], f"kit lines: {kit}")
    check(contact.substances[0].substance == "synthetic_cannabinoid", "street name mapped to its code")
    incident = phone.incident(incident_id)
    assert incident is not None, "the incident comes back in a pull"
    check(
        incident.incident_type == IncidentType.SUSPECTED_OVERDOSE
        and incident.severity == Severity.SERIOUS
        and incident.naloxone_doses == 2
        and incident.people[0].person_id == person_id
        and incident.outcome == IncidentOutcome.TAKEN_TO_HOSPITAL,
        f"the incident: {incident.to_dict()}",
    )
    referral = phone.referral(referral_id)
    assert referral is not None, "the referral comes back in a pull"
    check(
        referral.person_id == person_id
        and referral.service_type == ServiceType.DRUG_ALCOHOL_TREATMENT
        and referral.consent_to_share
        and referral.status == ReferralStatus.SENT
        and referral.version == 2,
        f"the step moved the referral to sent (version 2): {referral.to_dict()}",
    )
    step = phone.referral_step(step_id)
    check(
        step is not None
        and step.referral_id == referral_id
        and step.status == ReferralStatus.SENT
        and step.note == "Form emailed",
        f"the referral step: {step}",
    )

    # 2b. Delete the incident; the next pull drops it.
    [deleted] = phone.push(
        [
            IncidentMutation(
                mutation_id=uuid7(),
                entity=IncidentMutationEntity.INCIDENT,
                id=incident_id,
                op=IncidentMutationOp.DELETE,
            )
        ]
    )
    check(deleted.status == MutationStatus.APPLIED and deleted.version == 2, f"the delete applies: {deleted.to_dict()}")
    after_delete = phone.pull()
    check(
        any(isinstance(c, IncidentChange) and c.id == incident_id and c.op == ChangeOp.DELETE for c in after_delete),
        f"the pull brings the delete: {[c.to_dict() for c in after_delete]}",
    )
    check(phone.incident(incident_id) is None, "the phone drops the deleted incident")

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
        isinstance(second.record, PersonView) and second.record.alias == "J-Bird",
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
    on_phone = phone.person(person_id)
    check(on_phone is not None and on_phone.alias == "Jay (J-Bird)", f"the resolved alias syncs: {on_phone}")
    check(on_phone == desk.person(person_id), "both phones converge")

    # 5. Page through the contacts, two at a time, with `limit` and `after`.
    more = [uuid7() for _ in range(4)]
    pushed = phone.push([create_contact(i, contact_fields(site_id, person_id)) for i in more])
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
        f"python scenario: ok, pushed {', '.join(kinds)} (contact with {len(contact.kit_lines)} kit lines), "
        f"pulled them back typed, deleted the incident, conflict resolved, {len(listed)} contacts in {pages} pages"
    )


if __name__ == "__main__":
    try:
        main()
    except (ScenarioFailed, AssertionError) as failure:
        print(f"python scenario: FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
