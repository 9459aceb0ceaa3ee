//! The record definitions below HTTP: every declared field has its column,
//! the checks refuse what they should, and applying mutations on an
//! in-memory SQLite database writes, merges, erases and tombstones as the
//! sync guarantees say.

use crate::caller::Actor;
use std::collections::HashSet;

use outpost_entity::{contact, kit_line, person, referral, referral_step, user};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait,
};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{
    context::BatchContext,
    fields::normalise,
    kind::SyncRecord,
    rejection::{ApplyError, RejectionCode},
    row,
};
use crate::{
    config::PasswordHashing,
    domain::Role,
    sync::{
        EntityKind,
        apply::apply,
        mutation::{Mutation, MutationOp, MutationResult, MutationStatus},
        writer::BatchWriter,
    },
};

/// Each field a kind declares is the column of its name (or kept in a
/// table of its own), so `row::set_fields` can write it.
#[test]
fn every_field_is_a_column() {
    fn check<R: SyncRecord>() {
        for spec in R::FIELDS.iter().filter(|s| !s.own_table) {
            assert!(
                row::column::<R::Entity>(spec.name).is_ok(),
                "{}.{} has no column",
                R::KIND.as_str(),
                spec.name
            );
        }
    }
    for kind in EntityKind::ALL {
        crate::with_record!(kind, R => check::<R>(), else {});
    }
}

/// An in-memory organisation (the demo's) and its admin as the actor.
async fn organisation() -> (DatabaseConnection, Actor) {
    let db = crate::db::connect("sqlite::memory:", 1).await.unwrap();
    crate::db::migrate(&db).await.unwrap();
    let cheap = PasswordHashing { memory_kib: 8, iterations: 1 };
    let org = crate::ops::demo::ensure(&db, &cheap).await.unwrap();
    let admin = user::Entity::find()
        .filter(user::Column::OrganisationId.eq(org.id))
        .filter(user::Column::Role.eq("admin"))
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    let actor = Actor {
        organisation_id: org.id,
        user_id: Some(admin.id),
        device_id: None,
        api_key_id: None,
        role: Some(Role::Admin),
        site_ids: Vec::new(),
    };
    (db, actor)
}

/// Applies `mutations` as one batch; each answer, or the refusal's code.
async fn push(
    db: &DatabaseConnection,
    actor: &Actor,
    mutations: &[Mutation],
) -> Vec<Result<MutationResult, RejectionCode>> {
    let txn = db.begin().await.unwrap();
    let mut ctx =
        BatchContext::load(&txn, actor.clone(), mutations.iter().map(|m| &m.fields)).await.unwrap();
    let mut w = BatchWriter::default();
    let mut created = HashSet::new();
    let mut out = Vec::new();
    for m in mutations {
        out.push(match apply(&txn, &mut ctx, &mut w, &mut created, m).await {
            Ok(result) => Ok(result),
            Err(ApplyError::Rejected(r)) => Err(r.code),
            Err(ApplyError::Db(e)) => panic!("database error: {e}"),
        });
    }
    w.finish(&txn, actor.organisation_id).await.unwrap();
    txn.commit().await.unwrap();
    out
}

fn mutation(entity: EntityKind, id: Uuid, op: MutationOp, fields: Value) -> Mutation {
    let Value::Object(fields) = fields else { panic!("fields must be an object") };
    Mutation {
        mutation_id: Uuid::now_v7(),
        entity,
        id,
        op,
        base_version: None,
        online: false,
        fields,
    }
}

fn update(entity: EntityKind, id: Uuid, base: i64, fields: Value) -> Mutation {
    Mutation { base_version: Some(base), ..mutation(entity, id, MutationOp::Update, fields) }
}

#[tokio::test]
async fn a_person_is_created_with_defaults_merged_and_erased() {
    let (db, actor) = organisation().await;
    let id = Uuid::now_v7();
    let create = mutation(
        EntityKind::Person,
        id,
        MutationOp::Create,
        json!({ "alias": "  Spider ", "initials": "j.d", "nhs_number": "943 476 5919" }),
    );
    let answers = push(&db, &actor, &[create]).await;
    assert_eq!(answers[0].as_ref().unwrap().status, MutationStatus::Applied);
    let stored = person::Entity::find_by_id(id).one(&db).await.unwrap().unwrap();
    assert_eq!(stored.alias.as_deref(), Some("Spider"), "text is trimmed");
    assert_eq!(stored.initials.as_deref(), Some("J.D"));
    assert_eq!(stored.nhs_number.as_deref(), Some("9434765919"));
    assert_eq!(stored.name_quality, "not_collected", "a default fills what was left out");
    assert_eq!(stored.risk_flags, "[]");

    // Two edits from version 1 to different fields both land (merged).
    let a = update(EntityKind::Person, id, 1, json!({ "alias": "Spidey" }));
    let b = update(EntityKind::Person, id, 1, json!({ "gender": "man" }));
    let answers = push(&db, &actor, &[a, b]).await;
    assert_eq!(answers[0].as_ref().unwrap().status, MutationStatus::Applied);
    assert_eq!(answers[1].as_ref().unwrap().status, MutationStatus::Merged);
    let stored = person::Entity::find_by_id(id).one(&db).await.unwrap().unwrap();
    assert_eq!((stored.alias.as_deref(), stored.gender.as_deref()), (Some("Spidey"), Some("man")));
    assert_eq!(stored.version, 3);

    // Erasure blanks the details and keeps the id.
    let erase = mutation(EntityKind::Person, id, MutationOp::Delete, json!({}));
    push(&db, &actor, &[erase]).await[0].as_ref().unwrap();
    let stored = person::Entity::find_by_id(id).one(&db).await.unwrap().unwrap();
    assert!(stored.deleted_at.is_some());
    assert_eq!((stored.alias, stored.nhs_number, stored.gender), (None, None, None));
}

#[tokio::test]
async fn a_contact_is_append_only_with_its_kit_lines() {
    let (db, actor) = organisation().await;
    let id = Uuid::now_v7();
    let create = mutation(
        EntityKind::Contact,
        id,
        MutationOp::Create,
        json!({
            "occurred_at": "2026-12-01T21:30:00Z",
            "contact_type": "street_outreach",
            "kit_lines": [{
                "item": "naloxone_nasal", "quantity": 2,
                "naloxone": { "supply": "first", "recipient": "person_at_risk", "trained": "now" },
            }],
            "substances": [{ "substance": "Spice", "known_by": "self_reported" },
                           { "substance": "Mamba", "known_by": "observed" }],
        }),
    );
    let edit = update(EntityKind::Contact, id, 1, json!({ "note": "later" }));
    let answers = push(&db, &actor, &[create, edit]).await;
    assert_eq!(answers[0].as_ref().unwrap().status, MutationStatus::Applied);
    assert_eq!(answers[1].as_ref().unwrap_err(), &RejectionCode::AppendOnly);
    let stored = contact::Entity::find_by_id(id).one(&db).await.unwrap().unwrap();
    let workers: Vec<Uuid> = serde_json::from_str(&stored.worker_ids).unwrap();
    assert_eq!(workers, vec![actor.user_id.unwrap()], "the recorder is listed");
    let substances: Value = serde_json::from_str(&stored.substances).unwrap();
    assert_eq!(substances.as_array().unwrap().len(), 1, "street names collapse into one code");
    let lines = kit_line::Entity::find()
        .filter(kit_line::Column::ContactId.eq(id))
        .count(&db)
        .await
        .unwrap();
    assert_eq!(lines, 1);

    let delete = mutation(EntityKind::Contact, id, MutationOp::Delete, json!({}));
    push(&db, &actor, &[delete]).await[0].as_ref().unwrap();
    let stored = contact::Entity::find_by_id(id).one(&db).await.unwrap().unwrap();
    assert_eq!((stored.version, stored.deleted_at.is_some()), (2, true), "a tombstone");
}

#[tokio::test]
async fn a_referral_moves_by_its_steps_in_time_order_whatever_the_arrival() {
    let (db, actor) = organisation().await;
    let (person_id, referral_id) = (Uuid::now_v7(), Uuid::now_v7());
    let (sent, later, earlier) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let step = |id, status: &str, at: &str| {
        mutation(
            EntityKind::ReferralStep,
            id,
            MutationOp::Create,
            json!({ "referral_id": referral_id, "status": status, "occurred_at": at }),
        )
    };
    let batch = [
        mutation(EntityKind::Person, person_id, MutationOp::Create, json!({})),
        mutation(
            EntityKind::Referral,
            referral_id,
            MutationOp::Create,
            json!({ "person_id": person_id, "service_type": "housing", "reason": "rough sleeping",
                    "consent_to_share": true, "occurred_at": "2026-12-01T10:00:00Z" }),
        ),
        step(sent, "sent", "2026-12-01T11:00:00Z"),
        step(later, "accepted", "2026-12-01T13:00:00Z"),
        // Recorded before the acceptance, arriving after it: placed between.
        step(earlier, "acknowledged", "2026-12-01T12:00:00Z"),
    ];
    for answer in push(&db, &actor, &batch).await {
        assert_eq!(answer.unwrap().status, MutationStatus::Applied);
    }
    let stored = referral::Entity::find_by_id(referral_id).one(&db).await.unwrap().unwrap();
    assert_eq!((stored.status.as_str(), stored.urgency.as_str()), ("accepted", "routine"));
    assert_eq!(stored.seconds_to_acknowledgement, Some(3600), "the acknowledgement came first");

    // A device's move that does not follow the status at its time is kept,
    // flagged, and moves nothing (REST refuses it: tests/api/referrals.rs).
    let backwards_id = Uuid::now_v7();
    let backwards = step(backwards_id, "sent", "2026-12-01T14:00:00Z");
    assert_eq!(
        push(&db, &actor, &[backwards]).await[0].as_ref().unwrap().status,
        MutationStatus::Applied
    );
    let kept = referral_step::Entity::find_by_id(backwards_id).one(&db).await.unwrap().unwrap();
    assert_eq!(kept.flag.as_deref(), Some("`sent` cannot follow `accepted`"));
    let stored = referral::Entity::find_by_id(referral_id).one(&db).await.unwrap().unwrap();
    assert_eq!(stored.status, "accepted");

    let undo = mutation(EntityKind::ReferralStep, earlier, MutationOp::Delete, json!({}));
    assert_eq!(
        push(&db, &actor, &[undo]).await[0].as_ref().unwrap_err(),
        &RejectionCode::AppendOnly
    );
    let fixed = update(EntityKind::Referral, referral_id, 1, json!({ "person_id": person_id }));
    assert_eq!(
        push(&db, &actor, &[fixed]).await[0].as_ref().unwrap_err(),
        &RejectionCode::UnknownField,
        "the person a referral is for is set once"
    );
}

/// The checks name the field at fault and refuse what does not fit.
#[tokio::test]
async fn checks_refuse_with_the_field_named() {
    let (db, actor) = organisation().await;
    let ctx =
        BatchContext::load(&db, actor, std::iter::empty::<&Map<String, Value>>()).await.unwrap();
    let refused = |specs, fields: Value, creating| {
        let Value::Object(fields) = fields else { unreachable!() };
        let r = normalise(specs, &fields, creating, &ctx).unwrap_err();
        (r.code, r.field.unwrap_or_default())
    };
    use super::{contact::SPECS as CONTACT, person::SPECS as PERSON};
    assert_eq!(
        refused(PERSON, json!({ "nhs_number": "9434765918" }), true),
        (RejectionCode::ValidationFailed, "nhs_number".into()),
        "a wrong check digit"
    );
    assert_eq!(
        refused(PERSON, json!({ "alias": "a\u{7}b" }), true),
        (RejectionCode::ValidationFailed, "alias".into())
    );
    assert_eq!(
        refused(PERSON, json!({ "name_quality": null }), false),
        (RejectionCode::ValidationFailed, "name_quality".into()),
        "a field that always has a value cannot be cleared"
    );
    assert_eq!(
        refused(CONTACT, json!({ "occurred_at": "2026-12-01T21:30:00Z" }), true),
        (RejectionCode::ValidationFailed, "contact_type".into()),
        "a required field"
    );
    assert_eq!(
        refused(
            CONTACT,
            json!({ "occurred_at": "2026-12-01T21:30:00Z", "contact_type": "street_outreach",
                    "kit_lines": [{ "item": "no_such_kit", "quantity": 1 }] }),
            true
        ),
        (RejectionCode::UnknownKitItem, "kit_lines[0].item".into())
    );
    assert_eq!(
        refused(PERSON, json!({ "shoe_size": 9 }), true),
        (RejectionCode::UnknownField, "shoe_size".into())
    );
    // Text that trims to nothing is null, so a field that cannot be null
    // refuses it rather than storing nothing in a not-null column.
    const NAMED: &[super::fields::FieldSpec] =
        &[super::fields::FieldSpec::required("name", |f, v, _| super::fields::text(f, v, 10))];
    assert_eq!(
        refused(NAMED, json!({ "name": "   " }), true),
        (RejectionCode::ValidationFailed, "name".into())
    );
}

/// A stored code a view cannot read (never written by this server) shows
/// as the vocabulary's fallback, not as a claim such as `full`.
#[test]
fn an_unreadable_code_shows_as_the_fallback() {
    use super::{
        view::FromStored,
        vocab::{NameQuality, Severity},
    };
    assert_eq!(NameQuality::from_stored("garbage".to_owned()), NameQuality::NotCollected);
    assert_eq!(Severity::from_stored("garbage".to_owned()), Severity::Moderate);
    assert_eq!(Severity::from_stored("critical".to_owned()), Severity::Critical);
}

/// A pull page writes each record straight from its view (`Serialize`);
/// the spec, REST and push answers show `ToJSON`'s. The two must be the
/// same JSON for every view, nulls, dates, codes and lists included.
#[tokio::test]
async fn views_write_the_same_json_both_ways() {
    use crate::records::{
        contact::ContactView, incident::IncidentView, person::PersonView, referral::ReferralView,
    };
    use poem_openapi::types::ToJSON;
    fn same<V: ToJSON + serde::Serialize>(view: &V) {
        let written: Value = serde_json::from_str(&serde_json::to_string(view).unwrap()).unwrap();
        assert_eq!(Some(written), view.to_json());
    }
    let (db, actor) = organisation().await;
    let (person, contact, incident, referral) =
        (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let answers = push(
        &db,
        &actor,
        &[
            mutation(
                EntityKind::Person,
                person,
                MutationOp::Create,
                json!({ "alias": "Spider", "birth_date": "1990-02-03", "risk_flags": [{ "kind": "recent_overdose", "priority": "high", "expires_on": "2027-01-01" }] }),
            ),
            mutation(
                EntityKind::Contact,
                contact,
                MutationOp::Create,
                json!({
                    "occurred_at": "2026-12-01T21:30:00.123456Z",
                    "contact_type": "street_outreach",
                    "person_id": person.to_string(),
                    "kit_lines": [{
                        "item": "naloxone_nasal", "quantity": 2, "for_others": 1,
                        "naloxone": { "supply": "first", "recipient": "worker", "trained": "before" },
                    }],
                    "substances": [{ "substance": "Spice" }],
                    "note": "said \"thanks\" — twice",
                }),
            ),
            mutation(
                EntityKind::Incident,
                incident,
                MutationOp::Create,
                json!({
                    "occurred_at": "2026-12-01T22:00:00Z",
                    "incident_type": "suspected_overdose",
                    "severity": "serious",
                    "people": [{ "person_id": person.to_string() }, { "unknown_party": "a man" }],
                }),
            ),
            mutation(
                EntityKind::Referral,
                referral,
                MutationOp::Create,
                json!({
                    "person_id": person.to_string(),
                    "service_type": "housing",
                    "reason": "Sleeping out, wants a hostel place.",
                    "consent_to_share": true,
                    "urgency": "soon",
                }),
            ),
        ],
    )
    .await;
    for answer in &answers {
        assert!(answer.is_ok(), "{answer:?}");
    }
    let lines = kit_line::Entity::find().filter(kit_line::Column::ContactId.eq(contact));
    let stored = contact::Entity::find_by_id(contact).one(&db).await.unwrap().unwrap();
    let view = ContactView::new(stored, lines.all(&db).await.unwrap());
    assert_eq!(view.kit_lines.len(), 1);
    same(&view);
    same(&PersonView::from(person::Entity::find_by_id(person).one(&db).await.unwrap().unwrap()));
    let stored = outpost_entity::incident::Entity::find_by_id(incident).one(&db).await.unwrap();
    same(&IncidentView::from(stored.unwrap()));
    let stored = referral::Entity::find_by_id(referral).one(&db).await.unwrap();
    same(&ReferralView::from(stored.unwrap()));

    // And the contact's rendering for a pull is the one `GET` shows.
    let values = crate::records::contact::Contact::render(&db, &actor, &[contact]).await.unwrap();
    let texts =
        crate::records::contact::Contact::render_json(&db, &actor, &[contact]).await.unwrap();
    let parsed: Value = serde_json::from_str(texts[0].1.get()).unwrap();
    assert_eq!(parsed, values[0].1);
}

/// A contact's site must be an active site of the organisation and its
/// workers staff of it; the batch loads only the sites and staff it names,
/// so each is checked against the database, not against a list.
#[tokio::test]
async fn sites_and_workers_are_checked_against_the_organisation() {
    use outpost_entity::site;
    use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
    let (db, actor) = organisation().await;
    let sites = site::Entity::find()
        .filter(site::Column::OrganisationId.eq(actor.organisation_id))
        .all(&db)
        .await
        .unwrap();
    let (open, closed) = (sites[0].id, sites[1].clone());
    let mut archived = closed.into_active_model();
    archived.archived_at = Set(Some(chrono::Utc::now()));
    let closed = archived.update(&db).await.unwrap().id;
    let colleague = user::Entity::find()
        .filter(user::Column::OrganisationId.eq(actor.organisation_id))
        .filter(user::Column::Role.eq("worker"))
        .one(&db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let contact = |site: Uuid, workers: Vec<Uuid>| {
        mutation(
            EntityKind::Contact,
            Uuid::now_v7(),
            MutationOp::Create,
            json!({
                "occurred_at": "2026-12-01T21:30:00Z",
                "contact_type": "street_outreach",
                "site_id": site.to_string(),
                "worker_ids": workers.iter().map(Uuid::to_string).collect::<Vec<_>>(),
            }),
        )
    };
    let answers = push(
        &db,
        &actor,
        &[
            contact(open, vec![colleague]),
            contact(closed, vec![]),
            contact(Uuid::now_v7(), vec![]),
            contact(open, vec![colleague, Uuid::now_v7()]),
        ],
    )
    .await;
    assert_eq!(answers[0].as_ref().unwrap().status, MutationStatus::Applied);
    assert_eq!(answers[1].as_ref().unwrap_err(), &RejectionCode::UnknownReference, "archived");
    assert_eq!(answers[2].as_ref().unwrap_err(), &RejectionCode::UnknownReference, "no such site");
    assert_eq!(answers[3].as_ref().unwrap_err(), &RejectionCode::UnknownReference, "a stranger");
}
