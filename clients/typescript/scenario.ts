// A sync scenario with a client generated from openapi/openapi.json by
// openapi-typescript (types) and openapi-fetch (calls). Run by
// .ci/clients.sh against `outpost serve --demo`; OUTPOST_URL says where.
//
// Two workers' phones: one pushes a person and a contact with kit lines,
// pulls them back, both edit the person's alias from the same version, the
// second push conflicts, the worker resolves it, and a list of contacts is
// paged through with `limit` and `after`. Any wrong answer exits non-zero.

import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./generated/schema.js";

type Schemas = components["schemas"];
type MutationIn = Schemas["MutationIn"];
type MutationResult = Schemas["MutationResult"];
type SyncChange = Schemas["SyncChange"];

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
  readonly records = new Map<string, unknown>();
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
        if (change.op === "upsert") this.records.set(key, change.record);
        else this.records.delete(key);
      }
      this.cursor = data.cursor;
      if (!data.has_more) return seen;
    }
  }
}

function contactFields(siteId: string, personId: string): Record<string, unknown> {
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
      { item: "naloxone_nasal", quantity: 1, for_others: 0 },
    ],
  };
}

function create(entity: Schemas["EntityKind"], id: string, fields: Record<string, unknown>): MutationIn {
  return { mutation_id: uuidv7(), entity, id, op: "create", fields };
}

async function main(): Promise<void> {
  const phone = await Phone.signIn("worker1@demo.outpost.test", "phone (TypeScript scenario)");
  const desk = await Phone.signIn("worker2@demo.outpost.test", "desk (TypeScript scenario)");

  const me = await phone.api.GET("/v1/me");
  check(me.data !== undefined, `get_me: ${JSON.stringify(me.error)}`);
  const siteId = me.data.sites[0]?.id;
  check(siteId !== undefined, "the demo worker has a site");

  // 1. Push a batch: a person and a contact with two kit lines.
  const personId = uuidv7();
  const contactId = uuidv7();
  const pushed = await phone.push([
    create("person", personId, { alias: "Jay", name_quality: "street_name" }),
    create("contact", contactId, contactFields(siteId, personId)),
  ]);
  for (const r of pushed) {
    check(r.status === "applied" && r.version === 1, `applied at version 1: ${JSON.stringify(r)}`);
  }

  // 2. Pull it back: the contact comes with its kit lines.
  await phone.pull();
  const contact = phone.records.get(`contact/${contactId}`) as Schemas["ContactView"] | undefined;
  check(contact !== undefined, "the contact comes back in a pull");
  check(contact.person_id === personId, "the contact names the person");
  const kit = contact.kit_lines.map((l) => `${l.quantity} ${l.item}`).sort();
  check(JSON.stringify(kit) === JSON.stringify(["1 naloxone_nasal", "10 foil"]), `kit lines: ${kit.join(", ")}`);
  check(contact.substances[0]?.substance === "synthetic_cannabinoid", "street name mapped to its code");

  // 3. A conflict: both phones edit the alias from version 1; the desk is first.
  await desk.pull();
  const fromBase = (alias: string): MutationIn => ({
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
  check((second.record as Schemas["PersonView"]).alias === "J-Bird", `the server keeps its value: ${JSON.stringify(second)}`);

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
  const onPhone = phone.records.get(`person/${personId}`) as Schemas["PersonView"] | undefined;
  const onDesk = desk.records.get(`person/${personId}`) as Schemas["PersonView"] | undefined;
  check(onPhone?.alias === "Jay (J-Bird)", `the resolved alias syncs: ${JSON.stringify(onPhone)}`);
  check(JSON.stringify(onPhone) === JSON.stringify(onDesk), "both phones converge");

  // 5. Page through the contacts, two at a time, with `limit` and `after`.
  const more = [uuidv7(), uuidv7(), uuidv7(), uuidv7()];
  const pushedMore = await phone.push(more.map((id) => create("contact", id, contactFields(siteId, personId))));
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
    `typescript scenario: ok, pushed 1 contact with ${contact.kit_lines.length} kit lines, ` +
      `pulled it back, conflict resolved, ${listed.length} contacts in ${pages} pages`,
  );
}

main().catch((err: unknown) => {
  console.error(`typescript scenario: FAILED: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
