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
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{
    contacts::CreateContactFields,
    incidents::CreateIncidentFields,
    kit_items::KitItemView,
    partner_services::PartnerServiceView,
    persons::{CreatePersonFields, UpdatePerson},
    referrals::{CreateReferralFields, CreateReferralStepFields, UpdateReferral},
    sites::SiteView,
    substances::SubstanceView,
};
use crate::{
    records::{
        contact::ContactView,
        incident::IncidentView,
        person::PersonView,
        referral::{ReferralStepView, ReferralView},
        rejection::Rejection,
    },
    sync::{EntityKind, conflicts::ConflictView, mutation::MutationOp},
};

/// A schema of the registry, taken from a type: its name, how to register
/// it, and how to check a value against it.
#[derive(Clone, Copy)]
pub struct Schema {
    name: fn() -> Cow<'static, str>,
    register: fn(&mut Registry),
    /// The value as the type writes it back (canonical JSON), or why it
    /// does not fit.
    check: fn(Value) -> Result<Value, String>,
}

impl Schema {
    /// The schema of `T`.
    pub const fn of<T: Type + ParseFromJSON + ToJSON>() -> Self {
        Self {
            name: T::name,
            register: T::register,
            check: |value| match T::parse_from_json(Some(value)) {
                Ok(typed) => Ok(typed.to_json().unwrap_or(Value::Null)),
                Err(err) => Err(err.into_message()),
            },
        }
    }

    fn reference(&self) -> MetaSchemaRef {
        MetaSchemaRef::Reference((self.name)().into_owned())
    }
}

/// One kind on the push wire.
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
    },
    Pushed {
        entity: EntityKind::Contact,
        member: "ContactMutation",
        ops: APPEND_ONLY,
        create: Schema::of::<CreateContactFields>(),
        update: None,
    },
    Pushed {
        entity: EntityKind::Incident,
        member: "IncidentMutation",
        ops: APPEND_ONLY,
        create: Schema::of::<CreateIncidentFields>(),
        update: None,
    },
    Pushed {
        entity: EntityKind::Referral,
        member: "ReferralMutation",
        ops: ALL_OPS,
        create: Schema::of::<CreateReferralFields>(),
        update: Some(Schema::of::<UpdateReferral>()),
    },
    Pushed {
        entity: EntityKind::ReferralStep,
        member: "ReferralStepMutation",
        ops: &[MutationOp::Create],
        create: Schema::of::<CreateReferralStepFields>(),
        update: None,
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

/// The kinds a device pulls, and their views.
pub const PULLED: &[Pulled] = &[
    Pulled { entity: EntityKind::Person, member: "PersonChange", view: Schema::of::<PersonView>() },
    Pulled {
        entity: EntityKind::Contact,
        member: "ContactChange",
        view: Schema::of::<ContactView>(),
    },
    Pulled {
        entity: EntityKind::Incident,
        member: "IncidentChange",
        view: Schema::of::<IncidentView>(),
    },
    Pulled {
        entity: EntityKind::Referral,
        member: "ReferralChange",
        view: Schema::of::<ReferralView>(),
    },
    Pulled {
        entity: EntityKind::ReferralStep,
        member: "ReferralStepChange",
        view: Schema::of::<ReferralStepView>(),
    },
    Pulled {
        entity: EntityKind::Conflict,
        member: "ConflictChange",
        view: Schema::of::<ConflictView>(),
    },
    Pulled { entity: EntityKind::Site, member: "SiteChange", view: Schema::of::<SiteView>() },
    Pulled {
        entity: EntityKind::KitItem,
        member: "KitItemChange",
        view: Schema::of::<KitItemView>(),
    },
    Pulled {
        entity: EntityKind::Substance,
        member: "SubstanceChange",
        view: Schema::of::<SubstanceView>(),
    },
    Pulled {
        entity: EntityKind::PartnerService,
        member: "PartnerServiceChange",
        view: Schema::of::<PartnerServiceView>(),
    },
];

fn pushed(entity: &str) -> Option<&'static Pushed> {
    PUSHED.iter().find(|p| p.entity.as_str() == entity)
}

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
#[derive(Debug, Clone)]
pub struct MutationIn {
    /// Client-generated id of this change (UUID v7).
    pub mutation_id: Uuid,
    /// The kind of record.
    pub entity: EntityKind,
    /// The record's id.
    pub id: Uuid,
    /// What to do.
    pub op: MutationOp,
    /// For updates: the server version the device's copy was at.
    pub base_version: Option<i64>,
    /// The fields as sent, checked against the kind's schema by
    /// [`MutationIn::fields`].
    pub raw_fields: Option<Map<String, Value>>,
    /// When it happened on the device.
    pub occurred_at: Option<DateTime<Utc>>,
}

impl MutationIn {
    /// The fields, checked against the kind's create or update schema and
    /// written back as the type writes them (the engine's input, as a REST
    /// body gives it); a value that does not fit refuses the mutation,
    /// naming the field when it can be found.
    pub fn fields(&self, spec: &Value) -> Result<Map<String, Value>, Rejection> {
        let raw = self.raw_fields.clone().unwrap_or_default();
        if self.op == MutationOp::Delete {
            return Ok(Map::new());
        }
        let kind = pushed(self.entity.as_str()).expect("parsed from the table");
        let schema = match self.op {
            MutationOp::Update => kind.update.expect("ops of the table"),
            _ => kind.create,
        };
        let value = Value::Object(raw);
        match (schema.check)(value.clone()) {
            Ok(Value::Object(canonical)) => Ok(canonical),
            Ok(_) => Ok(Map::new()),
            Err(message) => {
                let name = (schema.name)();
                let reference = json!({ "$ref": format!("#/components/schemas/{name}") });
                Err(match super::locate::value_error(spec, &reference, &value) {
                    Some(found) if !found.field.is_empty() => {
                        Rejection::invalid(&found.field, format!("must be {}", found.detail))
                    }
                    _ => Rejection::invalid("fields", message),
                })
            }
        }
    }
}

const ENVELOPE: &[&str] =
    &["mutation_id", "entity", "id", "op", "base_version", "fields", "occurred_at"];

fn parse_field<T: ParseFromJSON, S: Type>(
    obj: &Map<String, Value>,
    name: &str,
) -> Result<T, ParseError<S>> {
    T::parse_from_json(obj.get(name).cloned())
        .map_err(|err| ParseError::custom(format!("`{name}`: {}", err.into_message())))
}

impl Type for MutationIn {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "MutationIn".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference(Self::name().into_owned())
    }

    fn register(registry: &mut Registry) {
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
                None => {
                    nullable(create.reference(), "The kind's create fields; absent for a delete.")
                }
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
                ..MetaSchema::new("object")
            };
            registry.schemas.insert(kind.member.to_owned(), member);
            members.push((kind.entity.as_str(), kind.member));
        }
        registry.schemas.insert(
            Self::name().into_owned(),
            union("One change recorded on a device, by the kind of record (`entity`).", members),
        );
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ParseFromJSON for MutationIn {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let Some(Value::Object(obj)) = value else {
            return Err(ParseError::custom("a mutation must be an object"));
        };
        if let Some(unknown) = obj.keys().find(|k| !ENVELOPE.contains(&k.as_str())) {
            return Err(ParseError::custom(format!("unknown field `{unknown}`")));
        }
        let entity: String = parse_field(&obj, "entity")?;
        let Some(kind) = pushed(&entity) else {
            let known: Vec<&str> = PUSHED.iter().map(|p| p.entity.as_str()).collect();
            return Err(ParseError::custom(format!(
                "`entity` must be one of: {} (reference data changes through its REST \
                 operations)",
                known.join(", ")
            )));
        };
        let op: MutationOp = parse_field(&obj, "op")?;
        if !kind.ops.contains(&op) {
            return Err(ParseError::custom(format!(
                "`op` of a {entity} must be one of: {}",
                kind.ops.iter().map(|op| op.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        let raw_fields = match obj.get("fields") {
            None | Some(Value::Null) => None,
            Some(Value::Object(fields)) => Some(fields.clone()),
            Some(_) => return Err(ParseError::custom("`fields` must be an object")),
        };
        Ok(Self {
            mutation_id: parse_field(&obj, "mutation_id")?,
            entity: kind.entity,
            id: parse_field(&obj, "id")?,
            op,
            base_version: parse_field(&obj, "base_version")?,
            raw_fields,
            occurred_at: parse_field(&obj, "occurred_at")?,
        })
    }
}

impl ToJSON for MutationIn {
    fn to_json(&self) -> Option<Value> {
        Some(json!({
            "mutation_id": self.mutation_id,
            "entity": self.entity,
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
    /// For upserts: the record.
    pub record: Option<Value>,
}

impl Type for SyncChange {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "SyncChange".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference(Self::name().into_owned())
    }

    fn register(registry: &mut Registry) {
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
                        nullable_free(
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
            Self::name().into_owned(),
            union("One change in the feed, by the kind of record (`entity`).", members),
        );
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(self))
    }
}

/// A documented `$ref` (not nullable).
fn nullable_free(schema: MetaSchemaRef, description: &'static str) -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        description: Some(description),
        all_of: vec![schema],
        ..MetaSchema::ANY
    }))
}

impl ParseFromJSON for SyncChange {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let Some(Value::Object(obj)) = value else {
            return Err(ParseError::custom("a change must be an object"));
        };
        Ok(Self {
            entity: parse_field(&obj, "entity")?,
            id: parse_field(&obj, "id")?,
            op: parse_field(&obj, "op")?,
            version: parse_field(&obj, "version")?,
            record: obj.get("record").cloned().filter(|r| !r.is_null()),
        })
    }
}

impl ToJSON for SyncChange {
    fn to_json(&self) -> Option<Value> {
        Some(json!({
            "entity": self.entity,
            "id": self.id,
            "op": self.op.to_json(),
            "version": self.version,
            "record": self.record,
        }))
    }
}
