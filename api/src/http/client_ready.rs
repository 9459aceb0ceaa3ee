//! Makes the spec say what the server does, in the form client generators
//! read (openapi-typescript, openapi-python-client; `.ci/clients.sh` proves
//! it by generating both and running a sync scenario with each).
//!
//! poem-openapi writes the spec from the types; some of its habits mislead
//! generators and people, and [`ClientReady`] corrects them in the
//! registry, before the spec is serialised, so `/openapi.json`, `/docs` and
//! the committed file all carry the corrected spec:
//!
//! 1. A documented field of a named type (an enum such as `status`, or an
//!    object) is written as `allOf: [{$ref}, {description}]`. A second,
//!    inline member makes it a composition, and openapi-python-client then
//!    drops the enclosing schema ("Cannot take allOf a non-object") and
//!    every schema and operation that uses it. We keep the `$ref` alone in
//!    `allOf`; the description stays on the field.
//! 2. An `Option<T>` field of a response is answered as `null` when absent,
//!    but the spec only makes it optional, so a strict client fails on the
//!    `null` (openapi-python-client raises in `from_dict`). Such fields of
//!    every schema a response can reach are marked `nullable`.
//! 3. `chrono::NaiveDate` is written with the format `naive-date`, which no
//!    generator knows; the standard format for `YYYY-MM-DD` is `date`.
//! 4. A few answers get words of their own (`RESPONSE_WORDS`): login's 401
//!    is a wrong password, not a bad token.
//! 5. Request bodies get the examples of `http::examples`, which work when
//!    pressed on the docs page (Swagger's own placeholders do not: its
//!    placeholder device id was claimed by the first login that sent it).
//! 6. A free-form map of values by field name (`HashMap<String, Value>`:
//!    a mutation's `fields`, a resolution's `values`) is an unnamed inline
//!    object, so each generator invents a name per use (openapi-python-client:
//!    `MutationInFieldsType0` once the field is nullable). It becomes one
//!    named schema, [`FIELD_VALUES`], referred to from each use.
//! 7. A request body that refuses fields it does not have
//!    (`#[oai(deny_unknown_fields)]`: the record kinds' bodies, [`CLOSED`])
//!    says `additionalProperties: false`, so a client knows an extra field
//!    is an error, not ignored. poem-openapi's `MetaSchema` cannot write
//!    `false`; the schema gets [`closed`], a marker that `spec_json` turns
//!    into `false`. Bodies without the attribute ignore unknown fields and
//!    stay open; responses always stay open (clients must tolerate new
//!    fields). tests/tests/api/closed_bodies.rs checks that the server
//!    refuses an extra field exactly where the spec says so.
//! 8. No string a request carries may hold NUL (`http::input`, one rule
//!    for every field): each string of a request (a parameter or a body
//!    field) without a format, an enumeration or a pattern of its own says
//!    so with the pattern [`NO_NUL`].

use std::{
    borrow::Cow,
    collections::{BTreeSet, HashMap},
};

use poem::{endpoint::BoxEndpoint, http::Method};
use poem_openapi::{
    OpenApi,
    registry::{MetaApi, MetaSchema, MetaSchemaRef, Registry},
    types::Type,
};

use super::input::NO_NUL;
use crate::records::{
    consent::{
        CreateConsent, CreateConsentFields, CreateConsentRevocation, CreateConsentRevocationFields,
    },
    contact::{
        CreateContact, CreateContactFields, KitLineInput, NaloxoneSupplyInput, SubstanceInput,
    },
    incident::{CreateIncident, CreateIncidentFields, InvolvedPartyInput},
    person::{CreatePerson, CreatePersonFields, RiskFlagInput, UpdatePerson},
    referral::{
        CreateReferral, CreateReferralFields, CreateReferralStep, CreateReferralStepFields,
        UpdateReferral,
    },
    stock_entry::{CreateStockEntry, CreateStockEntryFields},
};

/// Answers whose meaning for one operation differs from the shared words
/// of `ApiError` (a 401 at login is a wrong password, not a bad token),
/// or that the framework leaves undescribed: (operation, status, words).
const RESPONSE_WORDS: &[(&str, u16, &str)] = &[
    (
        "login",
        200,
        "Signed in: the bearer token (shown once), who you are, and the registered device.",
    ),
    (
        "login",
        401,
        "`invalid_credentials`: wrong email or password, or a deactivated account (the \
         answer does not say which).",
    ),
    ("login", 403, "`device_revoked`: the device signing in was revoked; it cannot sign in again."),
    (
        "login",
        409,
        "`device_registered_to_another_user`: the device id belongs to another account; use a new one.",
    ),
    (
        "login",
        429,
        "`rate_limited`: too many failed attempts from this address or for this account; retry after the given number of seconds.",
    ),
];

/// The request bodies declared `#[oai(deny_unknown_fields)]`: the record
/// kinds' create and update bodies and what they nest. Named by their
/// types, so a rename cannot leave a stale name here; a body missing from
/// the list, or listed but open, fails tests/tests/api/closed_bodies.rs.
/// (A push's mutation envelopes are closed where they are written,
/// `sync_wire::register_mutation_in`.)
const CLOSED: &[fn() -> Cow<'static, str>] = &[
    <CreatePerson as Type>::name,
    <CreatePersonFields as Type>::name,
    <UpdatePerson as Type>::name,
    <RiskFlagInput as Type>::name,
    <CreateContact as Type>::name,
    <CreateContactFields as Type>::name,
    <KitLineInput as Type>::name,
    <NaloxoneSupplyInput as Type>::name,
    <SubstanceInput as Type>::name,
    <CreateIncident as Type>::name,
    <CreateIncidentFields as Type>::name,
    <InvolvedPartyInput as Type>::name,
    <CreateReferral as Type>::name,
    <CreateReferralFields as Type>::name,
    <UpdateReferral as Type>::name,
    <CreateReferralStep as Type>::name,
    <CreateReferralStepFields as Type>::name,
    <CreateStockEntry as Type>::name,
    <CreateStockEntryFields as Type>::name,
    <CreateConsent as Type>::name,
    <CreateConsentFields as Type>::name,
    <CreateConsentRevocation as Type>::name,
    <CreateConsentRevocationFields as Type>::name,
    <super::stock::CreateStockLocation as Type>::name,
    <super::stock::UpdateStockLocation as Type>::name,
    <super::stock::CreateStockThreshold as Type>::name,
    <super::devices::SetDeviceStockLocation as Type>::name,
    <super::stock::UpdateStockThreshold as Type>::name,
    <super::referral_oversight::SetReferralDeadline as Type>::name,
    <super::inbox::LinkPartnerService as Type>::name,
    <super::webhooks::CreateWebhookEndpoint as Type>::name,
];

/// The type of the [`closed`] marker; no schema has it.
const CLOSED_MARK: &str = "(closed)";

/// The `additionalProperties` of an object that refuses fields it does not
/// have: a marker (`{"type": "(closed)"}`) that `spec_json` writes as
/// `false` ([`write_closed`]).
pub fn closed() -> Option<Box<MetaSchemaRef>> {
    Some(Box::new(MetaSchemaRef::Inline(Box::new(MetaSchema {
        ty: CLOSED_MARK,
        ..MetaSchema::ANY
    }))))
}

/// `spec`, as poem-openapi serialised it, with each [`closed`] marker
/// written `"additionalProperties": false`.
pub fn write_closed(spec: &str) -> String {
    let open = "\"additionalProperties\": {";
    let mark = format!("\"type\": \"{CLOSED_MARK}\"");
    let mut out = String::with_capacity(spec.len());
    let mut rest = spec;
    while let Some(at) = rest.find(open) {
        let after = &rest[at + open.len()..];
        let inner = after.trim_start();
        let closed =
            inner.strip_prefix(&mark).map(str::trim_start).and_then(|tail| tail.strip_prefix('}'));
        match closed {
            Some(tail) => {
                out.push_str(&rest[..at]);
                out.push_str("\"additionalProperties\": false");
                rest = tail;
            }
            None => {
                out.push_str(&rest[..at + open.len()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// An API whose spec is corrected for client generators; it routes exactly
/// as the API it wraps.
#[derive(Default)]
pub struct ClientReady<T>(pub T);

impl<T: OpenApi> OpenApi for ClientReady<T> {
    fn meta() -> Vec<MetaApi> {
        let mut apis = T::meta();
        for operation in
            apis.iter_mut().flat_map(|a| a.paths.iter_mut()).flat_map(|p| p.operations.iter_mut())
        {
            for param in &mut operation.params {
                tidy(&mut param.schema);
                if let MetaSchemaRef::Inline(inline) = &mut param.schema {
                    forbid_nul(inline);
                }
            }
            for content in operation.request.iter_mut().flat_map(|r| r.content.iter_mut()) {
                tidy(&mut content.schema);
            }
            let declared: Vec<bool> = operation
                .responses
                .responses
                .iter()
                .map(|r| r.status.is_none_or(|s| s < 400 || super::declared::answers(operation, s)))
                .collect();
            let mut keep = declared.into_iter();
            operation.responses.responses.retain(|_| keep.next().unwrap_or(true));
            for response in &mut operation.responses.responses {
                if let Some(words) = RESPONSE_WORDS.iter().find(|(id, status, _)| {
                    operation.operation_id == Some(*id) && response.status == Some(*status)
                }) {
                    response.description = words.2;
                }
                for content in &mut response.content {
                    tidy(&mut content.schema);
                }
                for header in &mut response.headers {
                    tidy(&mut header.schema);
                }
            }
        }
        apis
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
        let apis = T::meta();
        let returned = returned_schemas(registry, &apis);
        let requested = requested_schemas(registry, &apis);
        let mut named_field_values = false;
        for (name, schema) in &mut registry.schemas {
            for (_, property) in &mut schema.properties {
                named_field_values |= name_field_values(property);
            }
            tidy_schema(schema);
            if let Some(example) = super::examples::request_example(name) {
                schema.example = Some(example);
            }
            if returned.contains(name) {
                mark_options_nullable(schema);
            }
            if CLOSED.iter().any(|closed_name| closed_name() == *name) {
                schema.additional_properties = closed();
            }
            if requested.contains(name) {
                forbid_nul(schema);
            }
        }
        if named_field_values {
            registry.schemas.insert(FIELD_VALUES.to_owned(), field_values());
        }
    }

    fn add_routes(self, route_table: &mut HashMap<String, HashMap<Method, BoxEndpoint<'static>>>) {
        self.0.add_routes(route_table);
    }
}

/// The name of the schema of a free-form map of values by field name.
pub const FIELD_VALUES: &str = "FieldValues";

/// `{type: object, additionalProperties: {}}`: any values, by field name.
fn field_values() -> MetaSchema {
    MetaSchema {
        ty: "object",
        description: Some("Values by field name, as in the record type's view."),
        additional_properties: Some(Box::new(MetaSchemaRef::Inline(Box::new(MetaSchema::ANY)))),
        ..MetaSchema::ANY
    }
}

/// Rule 4: an inline free-form object becomes a reference to
/// [`FIELD_VALUES`], keeping its annotations (description, nullable). Says
/// whether it named one.
fn name_field_values(property: &mut MetaSchemaRef) -> bool {
    let MetaSchemaRef::Inline(inline) = property else {
        return false;
    };
    let free_form = inline.ty == "object"
        && inline.properties.is_empty()
        && inline.additional_properties.as_deref()
            == Some(&MetaSchemaRef::Inline(Box::new(MetaSchema::ANY)));
    if !free_form {
        return false;
    }
    inline.ty = "";
    inline.additional_properties = None;
    inline.all_of = vec![MetaSchemaRef::Reference(FIELD_VALUES.to_owned())];
    true
}

/// Rules 1 and 3 on a schema and everything inline in it.
fn tidy_schema(schema: &mut MetaSchema) {
    if schema.format == Some("naive-date") {
        schema.format = Some("date");
    }
    // Rule 1: poem-openapi builds `MetaSchema { all_of: [ref, other], ..other }`,
    // so the inline member repeats the outer annotations and nothing else.
    if let [MetaSchemaRef::Reference(_), MetaSchemaRef::Inline(annotations)] =
        schema.all_of.as_slice()
    {
        let outer = MetaSchema { all_of: Vec::new(), ..schema.clone() };
        if **annotations == outer {
            schema.all_of.truncate(1);
        }
    }
    for (_, property) in &mut schema.properties {
        tidy(property);
    }
    for inner in schema.items.iter_mut().chain(schema.additional_properties.iter_mut()) {
        tidy(inner);
    }
    for inner in schema.all_of.iter_mut().chain(&mut schema.any_of).chain(&mut schema.one_of) {
        tidy(inner);
    }
}

fn tidy(schema: &mut MetaSchemaRef) {
    if let MetaSchemaRef::Inline(inline) = schema {
        tidy_schema(inline);
    }
}

/// Rule 2: the optional fields (not required, no default) of an object are
/// `Option`s, which the server writes as `null` when empty.
fn mark_options_nullable(schema: &mut MetaSchema) {
    for (name, property) in &mut schema.properties {
        if schema.required.contains(name) {
            continue;
        }
        match property {
            MetaSchemaRef::Inline(inline) => {
                if inline.default.is_none() {
                    inline.nullable = true;
                }
            }
            MetaSchemaRef::Reference(target) => {
                let target = target.clone();
                *property = MetaSchemaRef::Inline(Box::new(MetaSchema {
                    nullable: true,
                    all_of: vec![MetaSchemaRef::Reference(target)],
                    ..MetaSchema::ANY
                }));
            }
        }
    }
}

/// Rule 8 on a schema and everything inline in it.
fn forbid_nul(schema: &mut MetaSchema) {
    if schema.ty == "string"
        && schema.format.is_none()
        && schema.enum_items.is_empty()
        && schema.pattern.is_none()
    {
        schema.pattern = Some(NO_NUL.to_owned());
    }
    let nested = schema
        .properties
        .iter_mut()
        .map(|(_, p)| p)
        .chain(schema.items.as_deref_mut())
        .chain(schema.additional_properties.as_deref_mut())
        .chain(&mut schema.all_of)
        .chain(&mut schema.any_of)
        .chain(&mut schema.one_of);
    for inner in nested {
        if let MetaSchemaRef::Inline(inline) = inner {
            forbid_nul(inline);
        }
    }
}

/// The named schemas a response body can contain, directly or nested.
fn returned_schemas(registry: &Registry, apis: &[MetaApi]) -> BTreeSet<String> {
    let mut pending = Vec::new();
    for response in apis
        .iter()
        .flat_map(|a| &a.paths)
        .flat_map(|p| &p.operations)
        .flat_map(|o| &o.responses.responses)
    {
        for content in &response.content {
            references(&content.schema, &mut pending);
        }
    }
    reachable(registry, pending)
}

/// The named schemas a request (its parameters and body) can contain,
/// directly or nested.
fn requested_schemas(registry: &Registry, apis: &[MetaApi]) -> BTreeSet<String> {
    let mut pending = Vec::new();
    for operation in apis.iter().flat_map(|a| &a.paths).flat_map(|p| &p.operations) {
        for param in &operation.params {
            references(&param.schema, &mut pending);
        }
        for content in operation.request.iter().flat_map(|r| &r.content) {
            references(&content.schema, &mut pending);
        }
    }
    reachable(registry, pending)
}

/// `pending` and the named schemas they contain, directly or nested.
fn reachable(registry: &Registry, mut pending: Vec<String>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    while let Some(name) = pending.pop() {
        if !seen.contains(&name) {
            if let Some(schema) = registry.schemas.get(&name) {
                references_in(schema, &mut pending);
            }
            seen.insert(name);
        }
    }
    seen
}

/// The schema names `schema` refers to.
fn references(schema: &MetaSchemaRef, names: &mut Vec<String>) {
    match schema {
        MetaSchemaRef::Reference(name) => names.push(name.clone()),
        MetaSchemaRef::Inline(inline) => references_in(inline, names),
    }
}

fn references_in(schema: &MetaSchema, names: &mut Vec<String>) {
    let nested = schema
        .properties
        .iter()
        .map(|(_, p)| p)
        .chain(schema.items.as_deref())
        .chain(schema.additional_properties.as_deref())
        .chain(&schema.all_of)
        .chain(&schema.any_of)
        .chain(&schema.one_of);
    for inner in nested {
        references(inner, names);
    }
}
