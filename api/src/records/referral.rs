//! Referrals to partner services. The referral's own fields are editable
//! and merged field by field; its status moves only by appended steps, so
//! two workers recording steps offline never conflict: the status is the
//! step latest by `occurred_at` (then id), whatever order they arrive in.

use crate::caller::Actor;
use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use outpost_entity::{referral, referral_step};
use poem_openapi::types::ToJSON;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, Set,
};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{
    checks,
    context::BatchContext,
    fields::{FieldSpec, Rejection, RejectionCode, text, uuid_of, with_defaults},
    kind::{Changes, SyncRecord},
    lookup::ByKeys,
    rejection::ApplyError,
    row,
    vocab::{ReferralStatus, ServiceType, Urgency},
};
use crate::sync::{EntityKind, editable::lock, feed::FeedEntry, scope, writer::BatchWriter};
use crate::text::Text;

fn reason(field: &str, value: &Value, _: &BatchContext) -> Result<Value, Rejection> {
    match text(field, value, 2000)? {
        Value::Null => Err(Rejection::invalid(field, "must not be empty")),
        v => Ok(v),
    }
}

crate::declare_fields! {
    /// The fields of a referral; an update may change those not `fixed`
    /// (the status moves only by steps).
    specs SPECS;
    /// A referral to record.
    create CreateReferral, push CreateReferralFields;
    /// Changes to a referral; absent fields stay as they are, `null` clears
    /// the partner service or the site. The status moves by steps, never
    /// here.
    update UpdateReferral;
    fields {
        /// Who is referred.
        person_id: fixed_required Uuid = checks::person_id;
        /// When it was made (default: now).
        occurred_at: fixed_optional DateTime<Utc> = checks::occurred_at;
        /// The first status (default `draft`).
        status: fixed_optional ReferralStatus, or(r#""draft""#);
        /// The partner service referred to.
        partner_service_id: nullable Uuid = checks::partner_service_id;
        /// The kind of service.
        service_type: required ServiceType;
        /// Why.
        reason: required Text<2000> = reason;
        /// How urgent (default `routine`).
        urgency: optional Urgency, or(r#""routine""#);
        /// Whether the person consented to sharing their details.
        consent_to_share: required bool;
        /// The site it was made from.
        site_id: nullable Uuid = checks::site_id;
    }
}

crate::declare_fields! {
    /// The fields of a referral step.
    specs STEP_SPECS;
    /// A step to record: the referral moves to `status` (the status is the
    /// step latest by `occurred_at`).
    create CreateReferralStep, push CreateReferralStepFields;
    fields {
        /// The referral this step belongs to.
        referral_id: push_required Uuid = referral_id;
        /// The status it moves to.
        status: required ReferralStatus;
        /// When.
        occurred_at: required DateTime<Utc> = checks::occurred_at;
        /// A note (a reason for a decline, an outcome).
        note: nullable Text<4000>;
    }
}

fn referral_id(field: &str, value: &Value, ctx: &BatchContext) -> Result<Value, Rejection> {
    let id = super::fields::uuid(field, value)?;
    if ctx.referrals.contains(&id) {
        Ok(Value::String(id.to_string()))
    } else {
        Err(Rejection::new(RejectionCode::UnknownReference, Some(field), "no such referral"))
    }
}

/// Referrals: editable and merged field by field, placed at a site, their
/// status moved by appended steps.
pub struct Referral;

impl SyncRecord for Referral {
    const KIND: EntityKind = EntityKind::Referral;
    const FIELDS: &'static [FieldSpec] = SPECS;
    const CHANGES: Changes = Changes::Merged;
    const PLACED: bool = true;
    type Entity = referral::Entity;
    type Row = referral::ActiveModel;

    fn view(model: referral::Model, _actor: &Actor) -> Option<Value> {
        ReferralView::from(model).to_json()
    }

    /// The referral, its revision 1 and its first step.
    async fn create<C: ConnectionTrait>(
        _db: &C,
        ctx: &mut BatchContext,
        w: &mut BatchWriter,
        id: Uuid,
        fields: Map<String, Value>,
    ) -> Result<(), ApplyError> {
        let (actor, now) = (&ctx.actor, ctx.now);
        let mut all = with_defaults(SPECS, fields);
        if all["occurred_at"].is_null() {
            all["occurred_at"] = json!(now.to_rfc3339_opts(SecondsFormat::Micros, true));
        }
        let editable: Map<String, Value> = SPECS
            .iter()
            .filter(|s| !s.fixed)
            .map(|s| (s.name.to_owned(), all[s.name].clone()))
            .collect();
        let versions = editable.keys().map(|k| (k.clone(), 1i64)).collect::<BTreeMap<_, _>>();
        let mut row: referral::ActiveModel = row::recorded(id, actor, now, SPECS, &all)?;
        row.field_versions = Set(serde_json::to_string(&versions).unwrap_or_default());
        let occurred_at = row.occurred_at.clone().unwrap();
        row.status_at = Set(occurred_at);
        let first_step = referral_step::ActiveModel {
            id: Set(Uuid::now_v7()),
            organisation_id: Set(actor.organisation_id),
            referral_id: Set(id),
            status: row.status.clone(),
            occurred_at: Set(occurred_at),
            note: Set(None),
            recorded_by: Set(actor.user_id),
            device_id: Set(actor.device_id),
            created_at: Set(now),
        };
        let site = uuid_of(&all, "site_id");
        let step_id = first_step.id.clone().unwrap();
        w.insert(EntityKind::Referral, [row]);
        w.insert_dependants(EntityKind::Referral, [first_step]);
        w.revision(actor, EntityKind::Referral, id, 1, &editable);
        w.change(FeedEntry::upsert(EntityKind::Referral, id, 1).at_site(site, actor.user_id));
        w.change(
            FeedEntry::upsert(EntityKind::ReferralStep, step_id, 1).at_site(site, actor.user_id),
        );
        ctx.referrals.insert(id);
        Ok(())
    }

    async fn deleted<C: ConnectionTrait>(
        _db: &C,
        ctx: &mut BatchContext,
        _w: &mut BatchWriter,
        id: Uuid,
    ) -> Result<(), DbErr> {
        ctx.referrals.remove(&id);
        Ok(())
    }

    /// Its steps.
    async fn dependants<C: ConnectionTrait>(
        db: &C,
        organisation_id: Uuid,
        ids: &[Uuid],
    ) -> Result<Vec<(EntityKind, Uuid, i64)>, DbErr> {
        let steps: Vec<Uuid> =
            ByKeys::<referral_step::Entity>::new(referral_step::Column::ReferralId)
                .in_organisation(referral_step::Column::OrganisationId, organisation_id)
                .columns(vec![referral_step::Column::Id])
                .tuples(db, ids)
                .await?;
        Ok(steps.into_iter().map(|id| (EntityKind::ReferralStep, id, 1)).collect())
    }

    /// Its steps move with it.
    async fn moved<C: ConnectionTrait>(
        db: &C,
        organisation_id: Uuid,
        id: Uuid,
        evicted: &[Uuid],
        site: Option<Uuid>,
        owner: Option<Uuid>,
    ) -> Result<Vec<FeedEntry>, DbErr> {
        scope::move_steps(db, organisation_id, id, evicted, site, owner).await
    }
}

/// Steps of a referral: appended, never edited nor deleted; each moves the
/// referral's status when it is the latest by `occurred_at` (then id).
pub struct ReferralStep;

impl SyncRecord for ReferralStep {
    const KIND: EntityKind = EntityKind::ReferralStep;
    const FIELDS: &'static [FieldSpec] = STEP_SPECS;
    const CHANGES: Changes = Changes::Appended;
    const PLACED: bool = false;
    type Entity = referral_step::Entity;
    type Row = referral_step::ActiveModel;

    fn view(model: referral_step::Model, _actor: &Actor) -> Option<Value> {
        ReferralStepView::from(model).to_json()
    }

    async fn create<C: ConnectionTrait>(
        db: &C,
        ctx: &mut BatchContext,
        w: &mut BatchWriter,
        id: Uuid,
        fields: Map<String, Value>,
    ) -> Result<(), ApplyError> {
        let (actor, now) = (&ctx.actor, ctx.now);
        w.flush_records(db).await?;
        let mut step = referral_step::ActiveModel {
            id: Set(id),
            organisation_id: Set(actor.organisation_id),
            recorded_by: Set(actor.user_id),
            device_id: Set(actor.device_id),
            created_at: Set(now),
            ..Default::default()
        };
        row::set_fields(&mut step, STEP_SPECS, &with_defaults(STEP_SPECS, fields))?;
        let referral_id = step.referral_id.clone().unwrap();
        let Some(current) =
            lock::<_, referral::Entity>(db, actor.organisation_id, referral_id).await?
        else {
            return Err(ApplyError::Rejected(Rejection::new(
                RejectionCode::UnknownReference,
                Some("referral_id"),
                "no such referral",
            )));
        };
        step.insert(db).await?;
        let latest = referral_step::Entity::find()
            .filter(referral_step::Column::ReferralId.eq(referral_id))
            .order_by_desc(referral_step::Column::OccurredAt)
            .order_by_desc(referral_step::Column::Id)
            .one(db)
            .await?;
        let (site, owner) = (current.site_id, current.recorded_by);
        if let Some(latest) = latest
            && (latest.status != current.status || latest.occurred_at != current.status_at)
        {
            let version = current.version + 1;
            let mut active = current.into_active_model();
            active.status = Set(latest.status);
            active.status_at = Set(latest.occurred_at);
            active.version = Set(version);
            active.updated_at = Set(now);
            active.update(db).await?;
            w.change(
                FeedEntry::upsert(EntityKind::Referral, referral_id, version).at_site(site, owner),
            );
        }
        w.change(FeedEntry::upsert(EntityKind::ReferralStep, id, 1).at_site(site, owner));
        Ok(())
    }
}

crate::declare_view! {
    /// A referral, as the API and the sync feed show it.
    pub struct ReferralView from referral::Model {
        /// Its id (generated on the device).
        pub id: Uuid,
        /// The server's version; send it as `base_version` or `If-Match`.
        pub version: i64,
        /// Who is referred.
        pub person_id: Uuid,
        /// To which partner service.
        pub partner_service_id: Option<Uuid>,
        /// The kind of service.
        pub service_type: ServiceType,
        /// Why.
        pub reason: String,
        /// How soon.
        pub urgency: Urgency,
        /// Whether the person consented to their details being shared.
        pub consent_to_share: bool,
        /// Where it is in its life (from the latest step).
        pub status: ReferralStatus,
        /// When the latest step happened.
        pub status_at: DateTime<Utc>,
        /// The site that made it.
        pub site_id: Option<Uuid>,
        /// When it was made (device time).
        pub occurred_at: DateTime<Utc>,
        /// Who made it.
        pub recorded_by: Option<Uuid>,
        /// When the server stored it.
        pub created_at: DateTime<Utc>,
        /// When the server last changed it.
        pub updated_at: DateTime<Utc>,
    }
}

crate::declare_view! {
    /// A step of a referral.
    pub struct ReferralStepView from referral_step::Model {
        /// Its id.
        pub id: Uuid,
        /// Always 1: steps are never edited.
        pub version: i64 = 1,
        /// The referral.
        pub referral_id: Uuid,
        /// The status it moved to.
        pub status: ReferralStatus,
        /// When (device time).
        pub occurred_at: DateTime<Utc>,
        /// A note (a reason for a decline, an outcome).
        pub note: Option<String>,
        /// Who recorded it.
        pub recorded_by: Option<Uuid>,
    }
}
