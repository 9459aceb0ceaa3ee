//! A person's consent (issue 14): what they agreed to (direct care,
//! sharing with named partner services for a referral, identifiable
//! returns), how and when, until when. Consents are appended and never
//! edited; a revocation is a record of its own that ends the consent it
//! names from its time on (the consent's `revoked_at`, its earliest), so
//! what applied at any moment can be shown. People are seen across the
//! organisation, and so are their consents: whoever refers needs them.

use chrono::{DateTime, Utc};
use outpost_entity::{consent, consent_revocation};
use poem_openapi::types::ToJSON;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QuerySelect, Set,
};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{
    checks,
    context::BatchContext,
    fields::{FieldSpec, Rejection, RejectionCode, array, code, timestamp, uuid, with_defaults},
    kind::{Changes, SyncRecord},
    rejection::ApplyError,
    row,
    vocab::{ConsentMethod, ConsentPurpose},
};
use crate::{
    caller::Actor,
    domain::stored_name,
    sync::{EntityKind, editable::lock, feed::FeedEntry, writer::BatchWriter},
    text::Text,
};

crate::declare_fields! {
    /// The fields of a consent.
    specs SPECS;
    /// A person's consent to record.
    create CreateConsent, push CreateConsentFields;
    fields {
        /// Whose consent.
        person_id: required Uuid = checks::person_id;
        /// What for (one or more, no repeats).
        purposes: required Vec<ConsentPurpose> = purposes, json;
        /// The partner services it covers: required with `referral_sharing`
        /// (at least one), only with it. Empty: the organisation only.
        partner_service_ids: optional Vec<Uuid> = partner_services, json, or("[]");
        /// How it was given.
        how: required ConsentMethod;
        /// When it was given.
        occurred_at: required DateTime<Utc> = checks::occurred_at;
        /// When it lapses (after `occurred_at`); none: until revoked.
        expires_at: nullable DateTime<Utc> = expiry;
        /// A note (what the person was told).
        note: nullable Text<2000>;
    }
}

crate::declare_fields! {
    /// The fields of a consent's revocation.
    specs REVOCATION_SPECS;
    /// The revocation of a consent to record: it ends the consent from
    /// `occurred_at` on.
    create CreateConsentRevocation, push CreateConsentRevocationFields;
    fields {
        /// The consent revoked.
        consent_id: push_required Uuid = |f, v, _| uuid(f, v).map(|id| Value::String(id.to_string()));
        /// How it was revoked.
        how: required ConsentMethod;
        /// When (not before the consent was given).
        occurred_at: required DateTime<Utc> = checks::occurred_at;
        /// A note.
        note: nullable Text<2000>;
    }
}

fn purposes(field: &str, value: &Value, _: &BatchContext) -> Result<Value, Rejection> {
    let mut out: Vec<Value> = Vec::new();
    let items = array(field, value, 3)?;
    if items.is_empty() {
        return Err(Rejection::invalid(field, "must name at least one purpose"));
    }
    for (i, item) in items.iter().enumerate() {
        let purpose = code::<ConsentPurpose>(&format!("{field}[{i}]"), item)?;
        if out.contains(&purpose) {
            return Err(Rejection::invalid(&format!("{field}[{i}]"), "is listed twice"));
        }
        out.push(purpose);
    }
    Ok(Value::Array(out))
}

fn partner_services(field: &str, value: &Value, ctx: &BatchContext) -> Result<Value, Rejection> {
    let mut out: Vec<Value> = Vec::new();
    for (i, item) in array(field, value, 50)?.iter().enumerate() {
        let id = checks::partner_service_id(&format!("{field}[{i}]"), item, ctx)?;
        if out.contains(&id) {
            return Err(Rejection::invalid(&format!("{field}[{i}]"), "is listed twice"));
        }
        out.push(id);
    }
    Ok(Value::Array(out))
}

fn expiry(field: &str, value: &Value, _: &BatchContext) -> Result<Value, Rejection> {
    let at = timestamp(field, value)?;
    Ok(Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)))
}

/// The rules across a consent's fields.
fn check_consent(all: &Map<String, Value>) -> Result<(), Rejection> {
    let sharing = stored_name(&ConsentPurpose::ReferralSharing);
    let shares = all["purposes"].as_array().is_some_and(|p| p.iter().any(|p| p == &*sharing));
    let partners = all["partner_service_ids"].as_array().map_or(0, Vec::len);
    if shares && partners == 0 {
        return Err(Rejection::invalid(
            "partner_service_ids",
            "sharing for a referral names the partner services it covers",
        ));
    }
    if !shares && partners > 0 {
        return Err(Rejection::invalid(
            "partner_service_ids",
            "only consent to `referral_sharing` names partner services",
        ));
    }
    let given = timestamp("occurred_at", &all["occurred_at"])?;
    if let Some(expires) = all.get("expires_at").filter(|v| !v.is_null())
        && timestamp("expires_at", expires)? <= given
    {
        return Err(Rejection::invalid("expires_at", "must be after occurred_at"));
    }
    Ok(())
}

/// Whether the person had consented, at `at`, to sharing their details
/// with `partner_service_id` for a referral: a consent to
/// `referral_sharing` naming it, given by then, neither lapsed nor revoked
/// by then.
pub async fn covers<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    person_id: Uuid,
    partner_service_id: Uuid,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    // Shared locks (Postgres): a revocation committing meanwhile holds its
    // consent exclusively, so the send waits for it and reads it revoked.
    let consents = consent::Entity::find()
        .filter(consent::Column::OrganisationId.eq(organisation_id))
        .filter(consent::Column::PersonId.eq(person_id))
        .lock_shared()
        .all(db)
        .await?;
    Ok(consents.iter().any(|c| in_force(c, at) && shares_with(c, partner_service_id)))
}

/// Whether `consent` applied at `at`.
pub fn in_force(consent: &consent::Model, at: DateTime<Utc>) -> bool {
    consent.occurred_at <= at
        && consent.expires_at.is_none_or(|expires| at < expires)
        && consent.revoked_at.is_none_or(|revoked| at < revoked)
}

/// Whether `consent` is to sharing with `partner_service_id` for a referral.
pub fn shares_with(consent: &consent::Model, partner_service_id: Uuid) -> bool {
    let purposes: Vec<ConsentPurpose> = serde_json::from_str(&consent.purposes).unwrap_or_default();
    let partners: Vec<Uuid> =
        serde_json::from_str(&consent.partner_service_ids).unwrap_or_default();
    purposes.contains(&ConsentPurpose::ReferralSharing) && partners.contains(&partner_service_id)
}

/// Consents: appended, seen across the organisation.
pub struct Consent;

impl SyncRecord for Consent {
    const KIND: EntityKind = EntityKind::Consent;
    const FIELDS: &'static [FieldSpec] = SPECS;
    const CHANGES: Changes = Changes::Appended;
    const PLACED: bool = false;
    type Entity = consent::Entity;
    type Row = consent::ActiveModel;

    fn view(model: consent::Model, _actor: &Actor) -> Option<Value> {
        ConsentView::from(model).to_json()
    }

    async fn create<C: ConnectionTrait>(
        db: &C,
        ctx: &mut BatchContext,
        w: &mut BatchWriter,
        id: Uuid,
        fields: Map<String, Value>,
    ) -> Result<(), ApplyError> {
        let all = with_defaults(SPECS, fields);
        check_consent(&all)?;
        let (actor, now) = (&ctx.actor, ctx.now);
        let mut row = consent::ActiveModel {
            id: Set(id),
            organisation_id: Set(actor.organisation_id),
            version: Set(1),
            revoked_at: Set(None),
            recorded_by: Set(actor.user_id),
            device_id: Set(actor.device_id),
            created_at: Set(now),
            ..Default::default()
        };
        row::set_fields(&mut row, SPECS, &all)?;
        let person = row.person_id.clone().unwrap();
        w.insert(EntityKind::Consent, [row]);
        w.change(FeedEntry::upsert(EntityKind::Consent, id, 1));
        // Referrals already sent may now reach their partner.
        w.flush_records(db).await?;
        let org = actor.organisation_id;
        let theirs = outpost_entity::referral::Column::PersonId.eq(person);
        let shared = super::referral::sharing::refresh_all(db, org, theirs, now).await?;
        super::referral::route(w, org, shared);
        Ok(())
    }
}

/// Revocations: appended, seen across the organisation; each ends its
/// consent from its time on.
pub struct ConsentRevocation;

impl SyncRecord for ConsentRevocation {
    const KIND: EntityKind = EntityKind::ConsentRevocation;
    const FIELDS: &'static [FieldSpec] = REVOCATION_SPECS;
    const CHANGES: Changes = Changes::Appended;
    const PLACED: bool = false;
    type Entity = consent_revocation::Entity;
    type Row = consent_revocation::ActiveModel;

    fn view(model: consent_revocation::Model, _actor: &Actor) -> Option<Value> {
        ConsentRevocationView::from(model).to_json()
    }

    async fn create<C: ConnectionTrait>(
        db: &C,
        ctx: &mut BatchContext,
        w: &mut BatchWriter,
        id: Uuid,
        fields: Map<String, Value>,
    ) -> Result<(), ApplyError> {
        let all = with_defaults(REVOCATION_SPECS, fields);
        let (actor, now) = (&ctx.actor, ctx.now);
        // A consent recorded earlier in the batch is stored first.
        w.flush_records(db).await?;
        let consent_id = uuid("consent_id", &all["consent_id"])?;
        let Some(revoked) =
            lock::<_, consent::Entity>(db, actor.organisation_id, consent_id).await?
        else {
            return Err(Rejection::new(
                RejectionCode::UnknownReference,
                Some("consent_id"),
                "no such consent",
            )
            .into());
        };
        let at = timestamp("occurred_at", &all["occurred_at"])?;
        if at < revoked.occurred_at {
            return Err(Rejection::invalid("occurred_at", "is before the consent was given").into());
        }
        let mut row = consent_revocation::ActiveModel {
            id: Set(id),
            organisation_id: Set(actor.organisation_id),
            person_id: Set(revoked.person_id),
            recorded_by: Set(actor.user_id),
            device_id: Set(actor.device_id),
            created_at: Set(now),
            ..Default::default()
        };
        row::set_fields(&mut row, REVOCATION_SPECS, &all)?;
        row.insert(db).await?;
        let (org, person) = (actor.organisation_id, revoked.person_id);
        // Two revocations, from two phones: the earliest ends it.
        if revoked.revoked_at.is_none_or(|earlier| at < earlier) {
            let version = revoked.version + 1;
            let mut ended = revoked.into_active_model();
            ended.revoked_at = Set(Some(at));
            ended.version = Set(version);
            ended.update(db).await?;
            w.change(FeedEntry::upsert(EntityKind::Consent, consent_id, version));
        }
        w.change(FeedEntry::upsert(EntityKind::ConsentRevocation, id, 1));
        // Partners lose at once what the consent let them see.
        let theirs = outpost_entity::referral::Column::PersonId.eq(person);
        let ended = super::referral::sharing::refresh_all(db, org, theirs, now).await?;
        super::referral::route(w, org, ended);
        Ok(())
    }
}

crate::declare_view! {
    /// A person's consent.
    pub struct ConsentView from consent::Model {
        /// Its id (generated on the device).
        pub id: Uuid,
        /// 1, then one more each time a revocation moves `revoked_at` (earlier).
        pub version: i64,
        /// Whose consent.
        pub person_id: Uuid,
        /// What for.
        pub purposes: Vec<ConsentPurpose>,
        /// The partner services it covers (empty: the organisation only).
        pub partner_service_ids: Vec<Uuid>,
        /// How it was given.
        pub how: ConsentMethod,
        /// When it was given (device time).
        pub occurred_at: DateTime<Utc>,
        /// When it lapses.
        pub expires_at: Option<DateTime<Utc>>,
        /// A note.
        pub note: Option<String>,
        /// When it was revoked (the earliest revocation).
        pub revoked_at: Option<DateTime<Utc>>,
        /// Who recorded it.
        pub recorded_by: Option<Uuid>,
        /// When the server stored it.
        pub created_at: DateTime<Utc>,
    }
}

crate::declare_view! {
    /// The revocation of a person's consent.
    pub struct ConsentRevocationView from consent_revocation::Model {
        /// Its id (generated on the device).
        pub id: Uuid,
        /// Always 1: revocations are never edited.
        pub version: i64 = 1,
        /// The consent it ends.
        pub consent_id: Uuid,
        /// Whose consent.
        pub person_id: Uuid,
        /// How it was revoked.
        pub how: ConsentMethod,
        /// When (device time).
        pub occurred_at: DateTime<Utc>,
        /// A note.
        pub note: Option<String>,
        /// Who recorded it.
        pub recorded_by: Option<Uuid>,
    }
}
