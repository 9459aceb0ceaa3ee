//! Referrals to partner services. The referral's own fields are editable
//! and merged field by field; its status moves only by appended steps, so
//! two workers recording steps offline never conflict: the steps are
//! walked in `occurred_at` order (then id) whatever order they arrive in
//! ([`lifecycle`]). A step that does not follow the status at its place is
//! refused; one made illegal there by a step that arrived later is kept
//! and flagged for a manager.

pub mod deadline_job;
pub mod deadlines;
pub mod inbox;
pub mod lifecycle;
mod settle;
pub mod sharing;

use crate::caller::Actor;
use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use outpost_entity::{referral, referral_step};
use poem_openapi::types::ToJSON;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
    TryIntoModel,
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
    vocab::{ReferralOutcome, ReferralStatus, ServiceType, Urgency},
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
    /// A step to record: the referral moves to `status`, which must follow
    /// its status at `occurred_at` (409 `illegal_step` otherwise).
    create CreateReferralStep, push CreateReferralStepFields;
    fields {
        /// The referral this step belongs to.
        referral_id: push_required Uuid = referral_id;
        /// The status it moves to: one that may follow the referral's
        /// status at `occurred_at` (`expired` is the server's).
        status: required ReferralStatus;
        /// When.
        occurred_at: required DateTime<Utc> = checks::occurred_at;
        /// A note.
        note: nullable Text<4000>;
        /// Why: required to decline, for a withdrawal or a missed
        /// appointment too.
        reason: nullable Text<2000>;
        /// How it ended: required to close, only then.
        outcome: nullable ReferralOutcome;
        /// When the appointment is: required to book one, only then.
        appointment_at: nullable DateTime<Utc> = appointment_time;
    }
}

fn appointment_time(field: &str, value: &Value, _: &BatchContext) -> Result<Value, Rejection> {
    let at = super::fields::timestamp(field, value)?;
    Ok(Value::String(at.to_rfc3339_opts(SecondsFormat::Micros, true)))
}

/// What a step of `status` must and may carry.
fn check_step_fields(status: ReferralStatus, fields: &Map<String, Value>) -> Result<(), Rejection> {
    let has = |name: &str| fields.get(name).is_some_and(|v| !v.is_null());
    let name = crate::domain::stored_name(&status);
    if status == ReferralStatus::Expired {
        return Err(Rejection::new(
            RejectionCode::Forbidden,
            Some("status"),
            "only the server expires a referral, past its deadline",
        ));
    }
    let rules = [
        ("reason", status == ReferralStatus::Declined, true),
        ("outcome", status == ReferralStatus::Closed, status == ReferralStatus::Closed),
        (
            "appointment_at",
            status == ReferralStatus::AppointmentBooked,
            status == ReferralStatus::AppointmentBooked,
        ),
    ];
    for (field, required, allowed) in rules {
        if required && !has(field) {
            return Err(Rejection::invalid(field, format!("is required to move to `{name}`")));
        }
        if !allowed && has(field) {
            return Err(Rejection::invalid(field, format!("does not belong to a `{name}` step")));
        }
    }
    Ok(())
}

fn referral_id(field: &str, value: &Value, ctx: &BatchContext) -> Result<Value, Rejection> {
    let id = super::fields::uuid(field, value)?;
    if ctx.referrals.contains(&id) || ctx.inbox.contains_key(&id) {
        Ok(Value::String(id.to_string()))
    } else {
        Err(Rejection::new(RejectionCode::UnknownReference, Some(field), "no such referral"))
    }
}

/// A referral goes to a partner service only with the person's consent to
/// sharing with that service, in force at the moment it is sent (`at`),
/// and `consent_to_share` set. A referral naming no partner service shares
/// nothing through Outpost. `field`: where a refusal points.
async fn may_send<C: ConnectionTrait>(
    db: &C,
    referral: &referral::Model,
    partner_service_id: Option<Uuid>,
    at: DateTime<Utc>,
    field: Option<&str>,
) -> Result<(), ApplyError> {
    let Some(partner) = partner_service_id else { return Ok(()) };
    let refused = |detail: String| {
        ApplyError::Rejected(Rejection::new(RejectionCode::ConsentRequired, field, detail))
    };
    if !referral.consent_to_share {
        return Err(refused(
            "`consent_to_share` is false: a referral is sent to a partner only with consent".into(),
        ));
    }
    let org = referral.organisation_id;
    if !crate::records::consent::covers(db, org, referral.person_id, partner, at).await? {
        return Err(refused(format!(
            "the person had not consented, at {}, to sharing with this partner service for a \
             referral: record their consent (purpose `referral_sharing`, naming the service) first",
            at.to_rfc3339_opts(SecondsFormat::Secs, true)
        )));
    }
    Ok(())
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
        db: &C,
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
        row.overdue_at = Set(None);
        let occurred_at = row.occurred_at.clone().unwrap();
        let first_step = referral_step::ActiveModel {
            id: Set(Uuid::now_v7()),
            organisation_id: Set(actor.organisation_id),
            referral_id: Set(id),
            status: row.status.clone(),
            occurred_at: Set(occurred_at),
            note: Set(None),
            reason: Set(None),
            outcome: Set(None),
            appointment_at: Set(None),
            flag: Set(None),
            version: Set(1),
            partner_organisation_id: Set(None),
            partner_user_id: Set(None),
            recorded_by: Set(actor.user_id),
            device_id: Set(actor.device_id),
            created_at: Set(now),
        };
        let status: ReferralStatus = crate::domain::parse_stored(first_step.status.as_ref())
            .unwrap_or(ReferralStatus::Draft);
        if !lifecycle::may_start(status) {
            return Err(Rejection::new(
                RejectionCode::IllegalStep,
                Some("status"),
                lifecycle::refusal(None, status),
            )
            .into());
        }
        let walked = lifecycle::walk(&[lifecycle::Step {
            id: first_step.id.clone().unwrap(),
            status,
            occurred_at,
            appointment_at: None,
        }]);
        let urgency = row.urgency.clone().unwrap();
        settle::Derived::of(db, (actor.organisation_id, &urgency), &walked).await?.set(&mut row);
        if status == ReferralStatus::Sent {
            // Consents recorded earlier in the batch are stored first.
            w.flush_records(db).await?;
            let model = row.clone().try_into_model()?;
            may_send(db, &model, model.partner_service_id, occurred_at, Some("partner_service_id"))
                .await?;
            route(w, actor.organisation_id, sharing::refresh(db, &model, now).await?);
            let first = first_step.clone().try_into_model()?;
            announce(db, &model, &first, now).await?;
        }
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

    /// A referral already sent moves to another partner service only under
    /// the person's consent to sharing with that one, now.
    async fn check_update<C: ConnectionTrait>(
        db: &C,
        ctx: &BatchContext,
        current: &referral::Model,
        changes: &Map<String, Value>,
    ) -> Result<(), ApplyError> {
        let Some(partner) = changes.get("partner_service_id") else { return Ok(()) };
        let partner = partner.as_str().and_then(|s| Uuid::parse_str(s).ok());
        if current.sent_at.is_none() || partner.is_none() || partner == current.partner_service_id {
            return Ok(());
        }
        let mut after = current.clone();
        if let Some(consent) = changes.get("consent_to_share").and_then(Value::as_bool) {
            after.consent_to_share = consent;
        }
        may_send(db, &after, partner, ctx.now, Some("partner_service_id")).await
    }

    /// A partner it was shared with loses it.
    async fn deleted<C: ConnectionTrait>(
        db: &C,
        ctx: &mut BatchContext,
        w: &mut BatchWriter,
        id: Uuid,
    ) -> Result<(), DbErr> {
        ctx.referrals.remove(&id);
        let org = ctx.actor.organisation_id;
        if let Some(deleted) = referral::Entity::find_by_id(id)
            .filter(referral::Column::OrganisationId.eq(org))
            .one(db)
            .await?
        {
            route(w, org, sharing::refresh(db, &deleted, ctx.now).await?);
        }
        Ok(())
    }

    /// A partner it is shared with sees the edit (or loses it, moved to
    /// another service).
    async fn updated<C: ConnectionTrait>(
        db: &C,
        w: &mut BatchWriter,
        saved: &referral::Model,
    ) -> Result<(), DbErr> {
        let entries = sharing::refresh(db, saved, chrono::Utc::now()).await?;
        route(w, saved.organisation_id, entries);
        Ok(())
    }

    /// Its steps.
    async fn dependants<C: ConnectionTrait>(
        db: &C,
        organisation_id: Uuid,
        ids: &[Uuid],
    ) -> Result<Vec<(EntityKind, Uuid, i64)>, DbErr> {
        let steps: Vec<(Uuid, i64)> =
            ByKeys::<referral_step::Entity>::new(referral_step::Column::ReferralId)
                .in_organisation(referral_step::Column::OrganisationId, organisation_id)
                .columns(vec![referral_step::Column::Id, referral_step::Column::Version])
                .tuples(db, ids)
                .await?;
        Ok(steps.into_iter().map(|(id, version)| (EntityKind::ReferralStep, id, version)).collect())
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

/// Steps of a referral: appended, never edited nor deleted; walked in
/// `occurred_at` order (then id), each that follows moves the status.
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
        let fields = with_defaults(STEP_SPECS, fields);
        let status: ReferralStatus = crate::domain::parse_stored(
            fields.get("status").and_then(Value::as_str).unwrap_or_default(),
        )
        .map_err(|_| Rejection::invalid("status", "is required"))?;
        check_step_fields(status, &fields)?;
        let referral_id = super::fields::uuid("referral_id", &fields["referral_id"])?;
        // The writer's own referral, or one a partner sent to its inbox:
        // then the step is the referrer's record, marked as the partner's.
        let referrer = ctx.inbox.get(&referral_id).copied();
        if referrer.is_some() && !PARTNER_MOVES.contains(&status) {
            return Err(Rejection::new(
                RejectionCode::Forbidden,
                Some("status"),
                "a partner acknowledges, accepts or declines, books and records attendance; \
                 the referrer sends, withdraws and closes",
            )
            .into());
        }
        let owner_org = referrer.unwrap_or(actor.organisation_id);
        w.flush_records(db).await?;
        let mut step = referral_step::ActiveModel {
            id: Set(id),
            organisation_id: Set(owner_org),
            recorded_by: Set(actor.user_id.filter(|_| referrer.is_none())),
            device_id: Set(actor.device_id.filter(|_| referrer.is_none())),
            partner_organisation_id: Set(referrer.map(|_| actor.organisation_id)),
            partner_user_id: Set(actor.user_id.filter(|_| referrer.is_some())),
            created_at: Set(now),
            flag: Set(None),
            version: Set(1),
            ..Default::default()
        };
        row::set_fields(&mut step, STEP_SPECS, &fields)?;
        let unknown = || {
            ApplyError::Rejected(Rejection::new(
                RejectionCode::UnknownReference,
                Some("referral_id"),
                "no such referral",
            ))
        };
        let Some(current) = lock::<_, referral::Entity>(db, owner_org, referral_id).await? else {
            return Err(unknown());
        };
        // A partner's sight of it ends the moment consent does.
        if referrer.is_some()
            && (current.deleted_at.is_some()
                || sharing::allowed(db, &current, now).await?.is_none())
        {
            return Err(unknown());
        }
        // The referral is locked: its steps cannot change under the walk.
        let mut steps = referral_step::Entity::find()
            .filter(referral_step::Column::OrganisationId.eq(owner_org))
            .filter(referral_step::Column::ReferralId.eq(referral_id))
            .all(db)
            .await?;
        let new = step.clone().try_into_model()?;
        steps.push(new);
        settle::sort(&mut steps);
        let walked = lifecycle::walk(&steps.iter().map(settle::step_of).collect::<Vec<_>>());
        let place = steps.iter().position(|s| s.id == id).unwrap_or_default();
        if let Some(refusal) = &walked.flags[place] {
            // A REST caller acts on the status it reads: refused. A device
            // acted on what it held offline, and whatever order phones sync
            // in must give the same steps: kept, flagged for a manager.
            if ctx.online {
                let at = if place + 1 == steps.len() { "now" } else { "at its time" };
                return Err(Rejection::new(
                    RejectionCode::IllegalStep,
                    Some("status"),
                    format!("{refusal} (the referral's status {at})"),
                )
                .into());
            }
            step.flag = Set(Some(refusal.clone()));
            steps[place].flag = Some(refusal.clone());
        }
        // Checked even when flagged: a late step may make it follow.
        if status == ReferralStatus::Sent {
            let at = steps[place].occurred_at;
            may_send(db, &current, current.partner_service_id, at, None).await?;
        }
        let stored = step.insert(db).await?;
        let (site, owner) = (current.site_id, current.recorded_by);
        let (saved, mut entries) = settle::write(db, current, steps, &walked, now).await?;
        announce(db, &saved, &stored, now).await?;
        entries.push(FeedEntry::upsert(EntityKind::ReferralStep, id, 1).at_site(site, owner));
        for entry in entries {
            match referrer {
                Some(referrer) => w.change_in(referrer, entry),
                None => w.change(entry),
            }
        }
        route(w, actor.organisation_id, sharing::refresh(db, &saved, now).await?);
        Ok(())
    }
}

/// What a webhook says of a referral's step: the referral's state and the
/// step, never the person nor the referral's free text.
pub(crate) fn webhook_data(referral: &referral::Model, step: &referral_step::Model) -> Value {
    json!({
        "referral": {
            "id": referral.id,
            "partner_service_id": referral.partner_service_id,
            "service_type": referral.service_type,
            "urgency": referral.urgency,
            "status": referral.status,
            "sent_at": referral.sent_at.map(|t| t.to_rfc3339()),
            "respond_by": referral.respond_by.map(|t| t.to_rfc3339()),
        },
        "step": {
            "id": step.id,
            "status": step.status,
            "occurred_at": step.occurred_at.to_rfc3339(),
            "reason": step.reason,
            "outcome": step.outcome,
            "appointment_at": step.appointment_at.map(|t| t.to_rfc3339()),
            "by_partner": step.partner_organisation_id.is_some(),
        },
    })
}

/// Queues the webhooks of a step that moved a sent referral (a flagged
/// step moved nothing).
pub(crate) async fn announce<C: ConnectionTrait>(
    db: &C,
    referral: &referral::Model,
    step: &referral_step::Model,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if step.flag.is_some() || referral.sent_at.is_none() {
        return Ok(());
    }
    let event = if step.status == crate::domain::stored_name(&ReferralStatus::Sent) {
        crate::webhooks::WebhookEvent::ReferralSent
    } else {
        crate::webhooks::WebhookEvent::ReferralStep
    };
    let data = webhook_data(referral, step);
    crate::webhooks::enqueue(db, referral.organisation_id, event, data, now).await
}

/// The moves a partner records from its inbox.
const PARTNER_MOVES: [ReferralStatus; 6] = [
    ReferralStatus::Acknowledged,
    ReferralStatus::Accepted,
    ReferralStatus::Declined,
    ReferralStatus::AppointmentBooked,
    ReferralStatus::Attended,
    ReferralStatus::DidNotAttend,
];

/// Queues feed entries for the organisations they belong to (`own`: the
/// writer's).
pub(crate) fn route(w: &mut BatchWriter, own: Uuid, entries: Vec<sharing::ForeignEntry>) {
    for (organisation_id, entry) in entries {
        if organisation_id == own {
            w.change(entry);
        } else {
            w.change_in(organisation_id, entry);
        }
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
        /// Where it is in its life: its steps walked in `occurred_at` order.
        pub status: ReferralStatus,
        /// When the step that set it happened.
        pub status_at: DateTime<Utc>,
        /// When it was first sent.
        pub sent_at: Option<DateTime<Utc>>,
        /// Until when the partner has to respond (by its urgency and the
        /// organisation's deadlines, from `sent_at`).
        pub respond_by: Option<DateTime<Utc>>,
        /// When the server expires it if the partner has not answered.
        pub expires_at: Option<DateTime<Utc>>,
        /// When the server found it still unanswered past `respond_by`.
        pub overdue_at: Option<DateTime<Utc>>,
        /// Seconds from sending to the partner's first answer
        /// (acknowledged, accepted or declined).
        pub seconds_to_acknowledgement: Option<i64>,
        /// Seconds from sending to acceptance.
        pub seconds_to_acceptance: Option<i64>,
        /// The first appointment booked.
        pub first_appointment_at: Option<DateTime<Utc>>,
        /// Seconds from sending to that appointment.
        pub seconds_to_first_appointment: Option<i64>,
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
        /// 1, then one more each time the server changes `flag` (what was
        /// recorded is never edited).
        pub version: i64,
        /// The referral.
        pub referral_id: Uuid,
        /// The status it moved to.
        pub status: ReferralStatus,
        /// When (device time).
        pub occurred_at: DateTime<Utc>,
        /// A note.
        pub note: Option<String>,
        /// Why (a decline, a withdrawal, a missed appointment).
        pub reason: Option<String>,
        /// How it ended (a close).
        pub outcome: Option<ReferralOutcome>,
        /// When the appointment is (a booking).
        pub appointment_at: Option<DateTime<Utc>>,
        /// Set when a step recorded earlier but synced later came before
        /// it and it no longer follows (``accepted` cannot follow
        /// `withdrawn``): kept, skipped by the status, for a manager.
        pub flag: Option<String>,
        /// Who recorded it (none for the server's and a partner's steps).
        pub recorded_by: Option<Uuid>,
        /// The device it was recorded on (none for the server's and a
        /// partner's steps).
        pub device_id: Option<Uuid>,
        /// The partner organisation that recorded it, from its inbox.
        pub partner_organisation_id: Option<Uuid>,
    }
}
