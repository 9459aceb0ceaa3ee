// MUST NOT type check. .ci/clients.sh runs `tsc -p negative` and fails if
// tsc accepts this file, or refuses it for anything but the two misspelled
// fields: each push below is valid but for `ocurred_at` (for `occurred_at`),
// which without the typed fields would go to the server and be ignored or
// refused there. Not part of the scenario build (see ../tsconfig.json).

import type { components } from "../generated/schema.js";

type Schemas = components["schemas"];

const at = "2026-12-01T22:40:00Z";

// A ContactMutation-typed push: the contact's create fields are typed.
export const contact: Schemas["ContactMutation"] = {
  mutation_id: "0193b6a0-0000-7000-8000-000000000022",
  entity: "contact",
  id: "0193b6a0-0000-7000-8000-000000000012",
  op: "create",
  fields: {
    occurred_at: at,
    contact_type: "street_outreach",
    kit_lines: [{ item: "injecting_pack_basic", quantity: 1 }],
    ocurred_at: at,
  },
};

// The same in a batch: `entity` picks the member of the MutationIn union,
// and with it the fields' type.
export const batch: Schemas["PushRequest"] = {
  mutations: [
    {
      mutation_id: "0193b6a0-0000-7000-8000-000000000023",
      entity: "incident",
      id: "0193b6a0-0000-7000-8000-000000000013",
      op: "create",
      fields: { occurred_at: at, incident_type: "suspected_overdose", severity: "serious", ocurred_at: at },
    },
  ],
};
