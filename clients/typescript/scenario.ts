// A sync scenario with a client generated from openapi/openapi.json by
// openapi-typescript (types) and openapi-fetch (calls). Run by
// .ci/clients.sh against `outpost serve --demo`; OUTPOST_URL says where.
//
// Two workers' phones: one pushes a record of every kind sync takes (a
// person, a contact with kit lines, an incident, a referral and a step of
// it), each with the kind's typed fields, pulls them back as typed records
// (narrowed on `entity`, no casts), deletes the incident and pulls the
// delete; both edit the person's alias from the same version, the second
// push conflicts, the worker resolves it, and a list of contacts is paged
// through with `limit` and `after`. Any wrong answer exits non-zero.

import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./generated/schema.js";

type Schemas = components["schemas"];
type MutationIn = Schemas["MutationIn"];
type MutationResult = Schemas["MutationResult"];
type SyncChange = Schemas["SyncChange"];
type ContactMutation = Schemas["ContactMutation"];
type CreateContactFields = Schemas["CreateContactFields"];

const baseUrl = process.env.OUTPOST_URL ?? "http://127.0.0.1:8080";
const PASSWORD = "outpost-demo";

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(`check failed: ${what}`);
}

/** A UUID v7 (time-ordered), as the API asks devices to generate. */
function uuidv7(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let ms = Date.now();
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x70;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A phone: its own device id, its session, and the records it pulled. */
class Phone {
  readonly deviceId = uuidv7();
  readonly api: Client<paths>;
  /** The last upsert pulled for each record, by `entity/id`. */
  readonly records = new Map<string, SyncChange>();
  cursor: string | undefined;
  pulls = 0;

  private constructor(readonly token: string) {
    this.api = createClient<paths>({ baseUrl });
    this.api.use({
      onRequest: ({ request }) => {
        request.headers.set("Authorization", `Bearer ${token}`);
        return request;
      },
    });
  }

  static async signIn(email: string, deviceName: string): Promise<Phone> {
    const deviceId = uuidv7();
    const { data, error } = await createClient<paths>({ baseUrl }).POST("/v1/auth/login", {
      body: { email, password: PASSWORD, device: { id: deviceId, name: deviceName, platform: "android" } },
    });
    check(data !== undefined, `login ${email}: ${JSON.stringify(error)}`);
    check(data.me.user.email === email, "login answers the signed-in user");
    check(data.me.device?.id === deviceId, "login registers the device");
    return new Phone(data.token);
  }

  async push(mutations: MutationIn[]): Promise<MutationResult[]> {
    const { data, error } = await this.api.POST("/v1/sync/push", { body: { mutations } });
    check(data !== undefined, `push: ${JSON.stringify(error)}`);
    check(data.results.length === mutations.length, "one result per mutation");
    return data.results;
  }

  /** Pulls from its cursor until nothing more is waiting. */
  async pull(): Promise<SyncChange[]> {
    const seen: SyncChange[] = [];
    for (;;) {
      const query = this.cursor === undefined ? { limit: 100 } : { cursor: this.cursor, limit: 100 };
      const { data, error } = await this.api.GET("/v1/sync/pull", { params: { query } });
      check(data !== undefined, `pull: ${JSON.stringify(error)}`);
      this.pulls += 1;
      for (const change of data.changes) {
        seen.push(change);
        const key = `${change.entity}/${change.id}`;
        if (change.op === "upsert") {
          check(change.record != null, `an upsert carries its record: ${key}`);
          this.records.set(key, change);
        } else {
          this.records.delete(key);
        }
      }
      this.cursor = data.cursor;
      if (!data.has_more) return seen;
    }
  }

  // The pulled records of each kind, as their views: `entity` narrows the
  // change, and with it `record`.
  person(id: string): Schemas["PersonView"] | undefined {
    const change = this.records.get(`person/${id}`);
    return change?.entity === "person" ? (change.record ?? undefined) : undefined;
  }

  contact(id: string): Schemas["ContactView"] | undefined {
    const change = this.records.get(`contact/${id}`);
    return change?.entity === "contact" ? (change.record ?? undefined) : undefined;
  }

  incident(id: string): Schemas["IncidentView"] | undefined {
    const change = this.records.get(`incident/${id}`);
    return change?.entity === "incident" ? (change.record ?? undefined) : undefined;
  }

  referral(id: string): Schemas["ReferralView"] | undefined {
    const change = this.records.get(`referral/${id}`);
    return change?.entity === "referral" ? (change.record ?? undefined) : undefined;
  }

  referralStep(id: string): Schemas["ReferralStepView"] | undefined {
    const change = this.records.get(`referral_step/${id}`);
    return change?.entity === "referral_step" ? (change.record ?? undefined) : undefined;
  }
}

function contactFields(siteId: string, personId: string): CreateContactFields {
  return {
    occurred_at: new Date().toISOString(),
    site_id: siteId,
    person_id: personId,
    contact_type: "street_outreach",
    living_situation: "rough_sleeping",
    interventions: ["harm_reduction_advice"],
    substances: [{ substance: "Spice", known_by: "self_reported" }],
    note: "Seen by the arches.",
    kit_lines: [
      { item: "foil", quantity: 10 },
      {
        item: "naloxone_nasal",
        quantity: 1,
        for_others: 0,
        naloxone: { supply: "first", recipient: "person_at_risk", trained: "now" },
      },
    ],
  };
}

function createContact(id: string, fields: CreateContactFields): ContactMutation {
  return { mutation_id: uuidv7(), entity: "contact", id, op: "create", fields };
}

/** An ISO timestamp `minutes` before now. */
function minutesAgo(minutes: number): string {
  return new Date(Date.now() - minutes * 60_000).toISOString();
}

async function main(): Promise<void> {
  const phone = await Phone.signIn("worker1@demo.outpost.test", "phone (TypeScript scenario)");
  const desk = await Phone.signIn("worker2@demo.outpost.test", "desk (TypeScript scenario)");

  const me = await phone.api.GET("/v1/me");
  check(me.data !== undefined, `get_me: ${JSON.stringify(me.error)}`);
  const siteId = me.data.sites[0]?.id;
  check(siteId !== undefined, "the demo worker has a site");
  const locations = await phone.api.GET("/v1/stock/locations");
  check(locations.data !== undefined, `list_stock_locations: ${JSON.stringify(locations.error)}`);
  const locationId = locations.data.items[0]?.id;
  check(locationId !== undefined, "the demo worker's sites have a stock location");

  // 1. Push a batch with a record of every kind sync takes, each with its
  // kind's typed fields: a person, a contact with two kit lines, an
  // overdose, a referral for the person and a step moving it to `sent`.
  const personId = uuidv7();
  const contactId = uuidv7();
  const incidentId = uuidv7();
  const referralId = uuidv7();
  const stepId = uuidv7();
  const stockEntryId = uuidv7();
  const consentId = uuidv7();
  const batch: MutationIn[] = [
    {
      mutation_id: uuidv7(),
      entity: "person",
      id: personId,
      op: "create",
      fields: { alias: "Jay", name_quality: "street_name" },
    },
    createContact(contactId, contactFields(siteId, personId)),
    {
      mutation_id: uuidv7(),
      entity: "incident",
      id: incidentId,
      op: "create",
      fields: {
        occurred_at: minutesAgo(20),
        site_id: siteId,
        incident_type: "suspected_overdose",
        severity: "serious",
        people: [{ person_id: personId }],
        substances: ["heroin"],
        ambulance_called: true,
        ambulance_arrived: true,
        naloxone_doses: 2,
        rescue_breaths: true,
        outcome: "taken_to_hospital",
      },
    },
    {
      mutation_id: uuidv7(),
      entity: "referral",
      id: referralId,
      op: "create",
      fields: {
        person_id: personId,
        occurred_at: minutesAgo(10),
        service_type: "drug_alcohol_treatment",
        reason: "Wants to start a script after the overdose",
        urgency: "urgent",
        consent_to_share: true,
        site_id: siteId,
      },
    },
    {
      mutation_id: uuidv7(),
      entity: "referral_step",
      id: stepId,
      op: "create",
      fields: { referral_id: referralId, status: "sent", occurred_at: minutesAgo(5), note: "Form emailed" },
    },
    {
      mutation_id: uuidv7(),
      entity: "stock_entry",
      id: stockEntryId,
      op: "create",
      fields: {
        kind: "receipt",
        occurred_at: minutesAgo(30),
        location_id: locationId,
        item_code: "foil",
        quantity: 50,
        supplier: "Van restock",
      },
    },
    {
      mutation_id: uuidv7(),
      entity: "consent",
      id: consentId,
      op: "create",
      fields: {
        person_id: personId,
        purposes: ["direct_care"],
        how: "verbal",
        occurred_at: minutesAgo(40),
      },
    },
  ];
  const pushed = await phone.push(batch);
  for (const r of pushed) {
    check(r.status === "applied" && r.version === 1, `applied at version 1: ${JSON.stringify(r)}`);
  }
  const kinds = pushed.map((r) => r.entity).join(",");
  check(
    kinds === "person,contact,incident,referral,referral_step,stock_entry,consent",
    `results in push order: ${kinds}`,
  );

  // 2. Pull them back: every one comes as its kind's typed record.
  const pulled = await phone.pull();
  const expected: [SyncChange["entity"], string][] = [
    ["person", personId],
    ["contact", contactId],
    ["incident", incidentId],
    ["referral", referralId],
    ["referral_step", stepId],
    ["stock_entry", stockEntryId],
    ["consent", consentId],
  ];
  for (const [entity, id] of expected) {
    check(
      pulled.some((c) => c.entity === entity && c.id === id && c.op === "upsert"),
      `the pull brings the ${entity} back`,
    );
  }
  const person = phone.person(personId);
  check(person?.alias === "Jay" && person.name_quality === "street_name", `the person: ${JSON.stringify(person)}`);
  const contact = phone.contact(contactId);
  check(contact !== undefined, "the contact comes back in a pull");
  check(contact.person_id === personId, "the contact names the person");
  const kit = contact.kit_lines.map((l) => `${l.quantity} ${l.item}`).sort();
  check(JSON.stringify(kit) === JSON.stringify(["1 naloxone_nasal", "10 foil"]), `kit lines: ${kit.join(", ")}`);
  check(contact.substances[0]?.substance === "synthetic_cannabinoid", "street name mapped to its code");
  const incident = phone.incident(incidentId);
  check(incident !== undefined, "the incident comes back in a pull");
  check(
    incident.incident_type === "suspected_overdose" &&
      incident.severity === "serious" &&
      incident.naloxone_doses === 2 &&
      incident.people[0]?.person_id === personId &&
      incident.outcome === "taken_to_hospital",
    `the incident: ${JSON.stringify(incident)}`,
  );
  const referral = phone.referral(referralId);
  check(referral !== undefined, "the referral comes back in a pull");
  check(
    referral.person_id === personId &&
      referral.service_type === "drug_alcohol_treatment" &&
      referral.consent_to_share &&
      referral.status === "sent" &&
      referral.version === 2,
    `the step moved the referral to sent (version 2): ${JSON.stringify(referral)}`,
  );
  const step = phone.referralStep(stepId);
  check(
    step?.referral_id === referralId && step.status === "sent" && step.note === "Form emailed",
    `the referral step: ${JSON.stringify(step)}`,
  );
  // 2b. Delete the incident; the next pull drops it.
  const [deleted] = await phone.push([{ mutation_id: uuidv7(), entity: "incident", id: incidentId, op: "delete" }]);
  check(deleted?.status === "applied" && deleted.version === 2, `the delete applies: ${JSON.stringify(deleted)}`);
  const afterDelete = await phone.pull();
  check(
    afterDelete.some((c) => c.entity === "incident" && c.id === incidentId && c.op === "delete"),
    `the pull brings the delete: ${JSON.stringify(afterDelete)}`,
  );
  check(phone.incident(incidentId) === undefined, "the phone drops the deleted incident");

  // 3. A conflict: both phones edit the alias from version 1; the desk is first.
  await desk.pull();
  const fromBase = (alias: string): Schemas["PersonMutation"] => ({
    mutation_id: uuidv7(),
    entity: "person",
    id: personId,
    op: "update",
    base_version: 1,
    fields: { alias },
  });
  const [first] = await desk.push([fromBase("J-Bird")]);
  check(first?.status === "applied", `the first edit applies: ${JSON.stringify(first)}`);
  const [second] = await phone.push([fromBase("Jay B")]);
  check(second?.status === "conflict", `the second edit conflicts: ${JSON.stringify(second)}`);
  const conflictId = second.conflict_id;
  check(typeof conflictId === "string", "a conflict id");
  const theirs = second.record;
  check(
    second.entity === "person" && theirs != null && "name_quality" in theirs && theirs.alias === "J-Bird",
    `the server keeps its value: ${JSON.stringify(second)}`,
  );

  const got = await phone.api.GET("/v1/sync/conflicts/{id}", { params: { path: { id: conflictId } } });
  check(got.data !== undefined, `get_conflict: ${JSON.stringify(got.error)}`);
  const field = got.data.fields[0];
  check(
    field?.field === "alias" && field.base === "Jay" && field.mine === "Jay B" && field.theirs === "J-Bird",
    `conflict fields: ${JSON.stringify(got.data.fields)}`,
  );

  // 4. Resolve it with a merged value; the resolution syncs down.
  const resolved = await phone.api.POST("/v1/sync/conflicts/{id}/resolve", {
    params: { path: { id: conflictId } },
    body: { resolution: "merged", values: { alias: "Jay (J-Bird)" } },
  });
  check(resolved.data !== undefined, `resolve: ${JSON.stringify(resolved.error)}`);
  check(resolved.data.status === "resolved" && resolved.data.resolution === "merged", "resolved as merged");
  const again = await phone.api.POST("/v1/sync/conflicts/{id}/resolve", {
    params: { path: { id: conflictId } },
    body: { resolution: "take_mine" },
  });
  check(again.response.status === 409 && again.error?.code === "already_resolved", "a second resolve is refused");
  check(
    again.response.headers.get("content-type")?.startsWith("application/problem+json") === true,
    "errors are problem+json",
  );
  await phone.pull();
  await desk.pull();
  const onPhone = phone.person(personId);
  const onDesk = desk.person(personId);
  check(onPhone?.alias === "Jay (J-Bird)", `the resolved alias syncs: ${JSON.stringify(onPhone)}`);
  check(JSON.stringify(onPhone) === JSON.stringify(onDesk), "both phones converge");

  // 5. Page through the contacts, two at a time, with `limit` and `after`.
  const more = [uuidv7(), uuidv7(), uuidv7(), uuidv7()];
  const pushedMore = await phone.push(more.map((id) => createContact(id, contactFields(siteId, personId))));
  check(pushedMore.every((r) => r.status === "applied"), "four more contacts applied");
  const listed: string[] = [];
  let after: string | undefined;
  let pages = 0;
  for (;;) {
    const query = after === undefined ? { limit: 2 } : { limit: 2, after };
    const page = await phone.api.GET("/v1/contacts", { params: { query } });
    check(page.data !== undefined, `list_contacts: ${JSON.stringify(page.error)}`);
    pages += 1;
    check(page.data.items.length <= 2, "a page holds at most `limit` items");
    listed.push(...page.data.items.map((c) => c.id));
    if (page.data.next_after == null) break;
    after = page.data.next_after;
    check(pages < 1000, "paging ends");
  }
  check(new Set(listed).size === listed.length, "no contact listed twice");
  for (const id of [contactId, ...more]) check(listed.includes(id), `contact ${id} listed`);
  check(pages === Math.ceil(listed.length / 2) || pages === Math.ceil(listed.length / 2) + 1, "page count");

  console.log(
    `typescript scenario: ok, pushed ${kinds.replaceAll(",", ", ")} (contact with ` +
      `${contact.kit_lines.length} kit lines), pulled them back typed, deleted the incident, ` +
      `conflict resolved, ${listed.length} contacts in ${pages} pages`,
  );
}

main().catch((err: unknown) => {
  console.error(`typescript scenario: FAILED: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
