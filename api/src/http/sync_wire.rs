//! The sync payloads as a generated client sees them: a pushed mutation
//! and a pulled change are unions discriminated by `entity` (OpenAPI
//! `oneOf` + `discriminator`), each member carrying that kind's typed
//! fields or record, so a misspelled field fails a client's type check.
//!
//! The members come from one table per direction ([`PUSHED`], [`PULLED`]):
//! a kind's create and update bodies and its view are the types its REST
//! operations use, declared once with the kind.
//!
//! A push parses each mutation's envelope strictly (a malformed envelope is
//! a malformed request: 400), but its `fields` one mutation at a time: a
//! value that does not fit its kind's schema refuses that mutation
//! (`validation_failed`, naming the field) and the batch goes on (sync.md,
//! guarantee 7).

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use poem_openapi::{
    registry::{MetaDiscriminatorObject, MetaSchema, MetaSchemaRef, Registry},
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde_json::{Map, Value, json, value::RawValue};
use uuid::Uuid;

use crate::{
    records::{
        consent::{
            ConsentRevocationView, ConsentView, CreateConsentFields, CreateConsentRevocationFields,
        },
        contact::{ContactView, CreateContactFields},
        incident::{CreateIncidentFields, IncidentView},
        person::{CreatePersonFields, PersonView, UpdatePerson},
        reference::{
            kit_item::KitItemView, partner_service::PartnerServiceView, site::SiteView,
            stock_location::StockLocationView, stock_threshold::StockThresholdView,
            substance::SubstanceView,
        },
        referral::{
            CreateReferralFields, CreateReferralStepFields, ReferralStepView, ReferralView,
            UpdateReferral, inbox::InboxReferralView,
        },
        rejection::{Rejection, RejectionCode},
        stock_entry::{CreateStockEntryFields, StockEntryView},
    },
    sync::{
        EntityKind,
        conflicts::ConflictView,
        mutation::{Mutation, MutationOp, MutationResult},
    },
};

/// A schema of the registry, taken from a type: its name, how to register
/// it, and how to check a value against it.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    name: fn() -> Cow<'static, str>,
    register: fn(&mut Registry),
    /// Whether a value fits the type, or why not.
    check: fn(Value) -> Result<(), String>,
}

impl Schema {
    /// The schema of `T`.
    pub const fn of<T: Type + ParseFromJSON + ToJSON>() -> Self {
        Self {
            name: T::name,
            register: T::register,
            check: |value| T::parse_from_json(Some(value)).map(drop).map_err(|e| e.into_message()),
        }
    }

    fn reference(&self) -> MetaSchemaRef {
        MetaSchemaRef::Reference((self.name)().into_owned())
    }
}

/// One kind on the push wire.
#[derive(Debug)]
pub struct Pushed {
    /// The kind.
    pub entity: EntityKind,
    /// The member schema's name.
    pub member: &'static str,
    /// The operations a device may send for it.
    pub ops: &'static [MutationOp],
    /// The fields of a create.
    pub create: Schema,
    /// The fields of an update, for the kinds that are edited.
    pub update: Option<Schema>,
    /// Whether a create takes the envelope's `occurred_at` as its own.
    pub occurred_at: bool,
}

const ALL_OPS: &[MutationOp] = &[MutationOp::Create, MutationOp::Update, MutationOp::Delete];
const APPEND_ONLY: &[MutationOp] = &[MutationOp::Create, MutationOp::Delete];

/// The kinds a device pushes, and their fields.
pub const PUSHED: &[Pushed] = &[
    Pushed {
        entity: EntityKind::Person,
        member: "PersonMutation",
        ops: ALL_OPS,
        create: Schema::of::<CreatePersonFields>(),
        update: Some(Schema::of::<UpdatePerson>()),
        occurred_at: false,
    },
    Pushed {
        entity: EntityKind::Contact,
        member: "ContactMutation",
        ops: APPEND_ONLY,
        create: Schema::of::<CreateContactFields>(),
        update: None,
        occurred_at: true,
    },
    Pushed {
        entity: EntityKind::Incident,
        member: "IncidentMutation",
        ops: APPEND_ONLY,
        create: Schema::of::<CreateIncidentFields>(),
        update: None,
        occurred_at: true,
    },
    Pushed {
        entity: EntityKind::Referral,
        member: "ReferralMutation",
        ops: ALL_OPS,
        create: Schema::of::<CreateReferralFields>(),
        update: Some(Schema::of::<UpdateReferral>()),
        occurred_at: true,
    },
    Pushed {
        entity: EntityKind::ReferralStep,
        member: "ReferralStepMutation",
        ops: &[MutationOp::Create],
        create: Schema::of::<CreateReferralStepFields>(),
        update: None,
        occurred_at: true,
    },
    Pushed {
        entity: EntityKind::StockEntry,
        member: "StockEntryMutation",
        ops: &[MutationOp::Create],
        create: Schema::of::<CreateStockEntryFields>(),
        update: None,
        occurred_at: true,
    },
    Pushed {
        entity: EntityKind::Consent,
        member: "ConsentMutation",
        ops: &[MutationOp::Create],
        create: Schema::of::<CreateConsentFields>(),
        update: None,
        occurred_at: true,
    },
    Pushed {
        entity: EntityKind::ConsentRevocation,
        member: "ConsentRevocationMutation",
        ops: &[MutationOp::Create],
        create: Schema::of::<CreateConsentRevocationFields>(),
        update: None,
        occurred_at: true,
    },
];

/// One kind in the pull feed, and the view its changes carry.
pub struct Pulled {
    /// The kind.
    pub entity: EntityKind,
    /// The member schema's name.
    pub member: &'static str,
    /// The record's view.
    pub view: Schema,
}

/// A kind in the pull feed whose changes carry a `V`.
const fn pulled<V: Type + ParseFromJSON + ToJSON>(
    entity: EntityKind,
    member: &'static str,
) -> Pulled {
    Pulled { entity, member, view: Schema::of::<V>() }
}

/// The kinds a device pulls, and their views.
pub const PULLED: &[Pulled] = &[
    pulled::<PersonView>(EntityKind::Person, "PersonChange"),
    pulled::<ContactView>(EntityKind::Contact, "ContactChange"),
    pulled::<IncidentView>(EntityKind::Incident, "IncidentChange"),
    pulled::<ReferralView>(EntityKind::Referral, "ReferralChange"),
    pulled::<ReferralStepView>(EntityKind::ReferralStep, "ReferralStepChange"),
    pulled::<ConflictView>(EntityKind::Conflict, "ConflictChange"),
    pulled::<SiteView>(EntityKind::Site, "SiteChange"),
    pulled::<KitItemView>(EntityKind::KitItem, "KitItemChange"),
    pulled::<SubstanceView>(EntityKind::Substance, "SubstanceChange"),
    pulled::<PartnerServiceView>(EntityKind::PartnerService, "PartnerServiceChange"),
    pulled::<StockLocationView>(EntityKind::StockLocation, "StockLocationChange"),
    pulled::<StockEntryView>(EntityKind::StockEntry, "StockEntryChange"),
    pulled::<StockThresholdView>(EntityKind::StockThreshold, "StockThresholdChange"),
    pulled::<ConsentView>(EntityKind::Consent, "ConsentChange"),
    pulled::<ConsentRevocationView>(EntityKind::ConsentRevocation, "ConsentRevocationChange"),
    pulled::<InboxReferralView>(EntityKind::InboxReferral, "InboxReferralChange"),
];

/// `{type: string, enum: [value]}`: a member's discriminator.
fn tag(value: &'static str) -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        enum_items: vec![json!(value)],
        example: Some(json!(value)),
        ..MetaSchema::new("string")
    }))
}

fn inline(
    ty: &'static str,
    format: Option<&'static str>,
    description: &'static str,
) -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        format,
        description: Some(description),
        ..MetaSchema::new(ty)
    }))
}

fn nullable(schema: MetaSchemaRef, description: &'static str) -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        description: Some(description),
        nullable: true,
        all_of: vec![schema],
        ..MetaSchema::ANY
    }))
}

/// The union of `members` discriminated by `entity`.
fn union(description: &'static str, members: Vec<(&'static str, &'static str)>) -> MetaSchema {
    MetaSchema {
        description: Some(description),
        one_of: members
            .iter()
            .map(|(_, member)| MetaSchemaRef::Reference((*member).to_owned()))
            .collect(),
        discriminator: Some(MetaDiscriminatorObject {
            property_name: "entity",
            mapping: members
                .iter()
                .map(|(tag, member)| ((*tag).to_owned(), format!("#/components/schemas/{member}")))
                .collect(),
        }),
        ..MetaSchema::ANY
    }
}

/// One change recorded on a device: which record (`entity`, `id`), what to
/// do (`op`) and, for creates and updates, its kind's typed `fields`.
pub struct MutationIn {
    /// Client-generated id of this change (UUID v7).
    pub mutation_id: Uuid,
    /// The kind of record, as the push table has it.
    pub kind: &'static Pushed,
    /// The record's id.
    pub id: Uuid,
    /// What to do (one of the kind's `ops`).
    pub op: MutationOp,
    /// For updates: the server version the device's copy was at.
    pub base_version: Option<i64>,
    /// The fields as sent, checked against the kind's schema by
    /// [`MutationIn::check`].
    pub raw_fields: Option<Map<String, Value>>,
    /// When it happened on the device.
    pub occurred_at: Option<DateTime<Utc>>,
}

impl MutationIn {
    /// The mutation the engine applies, its fields checked against the
    /// kind's create or update schema and passed on as sent (the engine
    /// writes them canonical; a replay digests what was sent). A mutation
    /// whose fields do not fit comes back as its answer: refused, naming
    /// the field when the spec locates it (`unknown_field` for a field the
    /// kind does not have).
    pub fn check(self, spec: &Value) -> Result<Mutation, MutationResult> {
        let mut raw = self.raw_fields.unwrap_or_default();
        let schema = match (self.op, self.kind.update) {
            (MutationOp::Delete, _) => None,
            (MutationOp::Update, Some(update)) => Some(update),
            // Parsing keeps `op` to the kind's `ops`.
            (MutationOp::Update, None) => None,
            (MutationOp::Create, _) => {
                // The envelope's time, for a record that has one and whose
                // fields leave it out.
                if let (true, Some(at)) = (self.kind.occurred_at, self.occurred_at) {
                    raw.entry("occurred_at").or_insert_with(|| {
                        Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
                    });
                }
                Some(self.kind.create)
            }
        };
        let mut mutation = Mutation {
            mutation_id: self.mutation_id,
            entity: self.kind.entity,
            id: self.id,
            op: self.op,
            base_version: self.base_version,
            online: false,
            fields: Map::new(),
        };
        let Some(schema) = schema else { return Ok(mutation) };
        let sent = Value::Object(raw);
        // The check consumes its value: it gets a copy, and the fields as
        // sent go on (or name the field at fault).
        match (schema.check)(sent.clone()) {
            Ok(()) => {
                if let Value::Object(fields) = sent {
                    mutation.fields = fields;
                }
                Ok(mutation)
            }
            Err(message) => {
                let name = (schema.name)();
                let reference = json!({ "$ref": format!("#/components/schemas/{name}") });
                let rejection = match super::locate::value_error(spec, &reference, &sent) {
                    Some(found) if found.unknown => Rejection::new(
                        RejectionCode::UnknownField,
                        Some(&found.field),
                        format!("`{}` {}", found.field, found.detail),
                    ),
                    Some(found) if !found.field.is_empty() => {
                        Rejection::invalid(&found.field, found.detail)
                    }
                    _ => Rejection::invalid("fields", message),
                };
                Err(MutationResult::rejected(&mutation, rejection))
            }
        }
    }
}

const ENVELOPE: &[&str] =
    &["mutation_id", "entity", "id", "op", "base_version", "fields", "occurred_at"];

/// Takes field `name` out of `obj` and parses it (moved, not copied: a
/// push carries up to 500 of these).
fn parse_field<T: ParseFromJSON, S: Type>(
    obj: &mut Map<String, Value>,
    name: &str,
) -> Result<T, ParseError<S>> {
    T::parse_from_json(obj.remove(name))
        .map_err(|err| ParseError::custom(format!("`{name}`: {}", err.into_message())))
}

crate::named_type::named_type!(MutationIn, "MutationIn", register_mutation_in);

/// Writes the schema of `MutationIn`.
fn register_mutation_in(registry: &mut Registry) {
    <MutationOp as Type>::register(registry);
    let mut members = Vec::new();
    for kind in PUSHED {
        let create = kind.create;
        (create.register)(registry);
        let fields = match kind.update {
            Some(update) => {
                (update.register)(registry);
                MetaSchemaRef::Inline(Box::new(MetaSchema {
                    description: Some(
                        "For a create, the kind's create fields; for an update, the \
                         changed fields (absent: unchanged, `null`: cleared). Absent \
                         for a delete.",
                    ),
                    nullable: true,
                    any_of: vec![create.reference(), update.reference()],
                    ..MetaSchema::ANY
                }))
            }
            None => nullable(create.reference(), "The kind's create fields; absent for a delete."),
        };
        let ops = MetaSchemaRef::Inline(Box::new(MetaSchema {
            description: Some("What to do (the operations this kind takes)."),
            enum_items: kind.ops.iter().map(|op| json!(op)).collect(),
            ..MetaSchema::new("string")
        }));
        let member = MetaSchema {
            description: Some("One change recorded on a device."),
            required: vec!["mutation_id", "entity", "id", "op"],
            properties: vec![
                (
                    "mutation_id",
                    inline(
                        "string",
                        Some("uuid"),
                        "Client-generated id of this change (UUID v7). Sending it again \
                         is safe: the server answers with the first result.",
                    ),
                ),
                ("entity", tag(kind.entity.as_str())),
                (
                    "id",
                    inline(
                        "string",
                        Some("uuid"),
                        "The record's id (a UUID v7 generated on the device for creates).",
                    ),
                ),
                ("op", ops),
                (
                    "base_version",
                    MetaSchemaRef::Inline(Box::new(MetaSchema {
                        format: Some("int64"),
                        nullable: true,
                        description: Some(
                            "For updates: the server version the device's copy was at.",
                        ),
                        ..MetaSchema::new("integer")
                    })),
                ),
                ("fields", fields),
                (
                    "occurred_at",
                    MetaSchemaRef::Inline(Box::new(MetaSchema {
                        format: Some("date-time"),
                        nullable: true,
                        description: Some(
                            "When it happened on the device; the record's `occurred_at` \
                             when `fields` carries none. Data, never ordering.",
                        ),
                        ..MetaSchema::new("string")
                    })),
                ),
            ],
            // `parse_from_json` refuses a field not in `ENVELOPE`.
            additional_properties: super::client_ready::closed(),
            ..MetaSchema::new("object")
        };
        registry.schemas.insert(kind.member.to_owned(), member);
        members.push((kind.entity.as_str(), kind.member));
    }
    registry.schemas.insert(
        "MutationIn".to_owned(),
        union("One change recorded on a device, by the kind of record (`entity`).", members),
    );
}

impl ParseFromJSON for MutationIn {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let Some(Value::Object(mut obj)) = value else {
            return Err(ParseError::custom("a mutation must be an object"));
        };
        if let Some(unknown) = obj.keys().find(|k| !ENVELOPE.contains(&k.as_str())) {
            return Err(ParseError::custom(format!("unknown field `{unknown}`")));
        }
        let entity: String = parse_field(&mut obj, "entity")?;
        let Some(kind) = PUSHED.iter().find(|p| p.entity.as_str() == entity) else {
            let known: Vec<&str> = PUSHED.iter().map(|p| p.entity.as_str()).collect();
            return Err(ParseError::custom(format!(
                "`entity` must be one of: {} (reference data changes through its REST \
                 operations)",
                known.join(", ")
            )));
        };
        let op: MutationOp = parse_field(&mut obj, "op")?;
        if !kind.ops.contains(&op) {
            return Err(ParseError::custom(format!(
                "`op` of a {entity} must be one of: {}",
                kind.ops.iter().map(|op| op.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        let raw_fields = match obj.remove("fields") {
            None | Some(Value::Null) => None,
            Some(Value::Object(fields)) => Some(fields),
            Some(_) => return Err(ParseError::custom("`fields` must be an object")),
        };
        Ok(Self {
            mutation_id: parse_field(&mut obj, "mutation_id")?,
            kind,
            id: parse_field(&mut obj, "id")?,
            op,
            base_version: parse_field(&mut obj, "base_version")?,
            raw_fields,
            occurred_at: parse_field(&mut obj, "occurred_at")?,
        })
    }
}

impl ToJSON for MutationIn {
    fn to_json(&self) -> Option<Value> {
        Some(json!({
            "mutation_id": self.mutation_id,
            "entity": self.kind.entity,
            "id": self.id,
            "op": self.op,
            "base_version": self.base_version,
            "fields": self.raw_fields,
            "occurred_at": self.occurred_at,
        }))
    }
}

/// One change in the feed: which record, what to do, and for an upsert
/// the record as its `GET` shows it, typed by its kind.
#[derive(Debug, Clone)]
pub struct SyncChange {
    /// The kind of record.
    pub entity: EntityKind,
    /// The record.
    pub id: Uuid,
    /// What to do: `upsert`, `delete` or `evict`.
    pub op: super::sync::ChangeOp,
    /// The record's server version.
    pub version: i64,
    /// For upserts: the record, as JSON text (written out as it is).
    pub record: Option<Box<RawValue>>,
}

/// What its `ToJSON` writes, without building a value of the record.
impl serde::Serialize for SyncChange {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut change = serializer.serialize_struct("SyncChange", 5)?;
        change.serialize_field("entity", self.entity.as_str())?;
        change.serialize_field("id", &self.id)?;
        change.serialize_field("op", &self.op)?;
        change.serialize_field("version", &self.version)?;
        change.serialize_field("record", &self.record)?;
        change.end()
    }
}

crate::named_type::named_type!(SyncChange, "SyncChange", register_sync_change);

/// Writes the schema of `SyncChange`.
fn register_sync_change(registry: &mut Registry) {
    <super::sync::ChangeOp as Type>::register(registry);
    let mut members = Vec::new();
    for kind in PULLED {
        (kind.view.register)(registry);
        let member = MetaSchema {
            description: Some("One change in the feed."),
            required: vec!["entity", "id", "op", "version"],
            properties: vec![
                ("entity", tag(kind.entity.as_str())),
                ("id", inline("string", Some("uuid"), "The record.")),
                (
                    "op",
                    documented(
                        <super::sync::ChangeOp as Type>::schema_ref(),
                        "What to do: store `record` (upsert), or drop the record \
                         (delete, evict).",
                    ),
                ),
                ("version", inline("integer", Some("int64"), "The record's server version.")),
                (
                    "record",
                    nullable(
                        kind.view.reference(),
                        "For upserts: the record, as its `GET` shows it.",
                    ),
                ),
            ],
            ..MetaSchema::new("object")
        };
        registry.schemas.insert(kind.member.to_owned(), member);
        members.push((kind.entity.as_str(), kind.member));
    }
    registry.schemas.insert(
        "SyncChange".to_owned(),
        union("One change in the feed, by the kind of record (`entity`).", members),
    );
}

/// A documented `$ref` (not nullable).
fn documented(schema: MetaSchemaRef, description: &'static str) -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        description: Some(description),
        all_of: vec![schema],
        ..MetaSchema::ANY
    }))
}

impl ParseFromJSON for SyncChange {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let Some(Value::Object(mut obj)) = value else {
            return Err(ParseError::custom("a change must be an object"));
        };
        Ok(Self {
            entity: parse_field(&mut obj, "entity")?,
            id: parse_field(&mut obj, "id")?,
            op: parse_field(&mut obj, "op")?,
            version: parse_field(&mut obj, "version")?,
            record: match obj.remove("record").filter(|r| !r.is_null()) {
                Some(record) => {
                    Some(serde_json::value::to_raw_value(&record).map_err(ParseError::custom)?)
                }
                None => None,
            },
        })
    }
}

impl ToJSON for SyncChange {
    /// For the spec's examples and the tests; a pull page is written by
    /// `Serialize`.
    fn to_json(&self) -> Option<Value> {
        let mut change = Map::with_capacity(5);
        change.insert("entity".into(), Value::String(self.entity.as_str().to_owned()));
        change.insert("id".into(), Value::String(self.id.to_string()));
        change.insert("op".into(), self.op.to_json()?);
        change.insert("version".into(), Value::from(self.version));
        let record = self.record.as_ref().and_then(|r| serde_json::from_str(r.get()).ok());
        change.insert("record".into(), record.unwrap_or(Value::Null));
        Some(Value::Object(change))
    }
}
