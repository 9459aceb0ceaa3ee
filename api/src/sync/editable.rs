//! The editable records (people, referrals) as the merge sees them: current
//! fields, per-field versions, and how to write a change with its revision
//! and feed entry.

use std::{collections::BTreeMap, str::FromStr};

use chrono::Utc;
use outpost_entity::{person, record_revision, referral};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QuerySelect, Set,
};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{EntityKind, feed::FeedEntry, merge, scope, writer::BatchWriter};
use crate::records::{
    context::Actor, fields::FieldSpec, person as person_record, referral as referral_record,
};

/// Loads a record of the organisation for update (a row lock on Postgres;
/// SQLite's single writer needs none).
pub async fn lock<C, E>(db: &C, organisation_id: Uuid, id: Uuid) -> Result<Option<E::Model>, DbErr>
where
    C: ConnectionTrait,
    E: EntityTrait,
{
    let org_col = E::Column::from_str("organisation_id")
        .map_err(|_| DbErr::Custom("entity without organisation_id".into()))?;
    let id_col =
        E::Column::from_str("id").map_err(|_| DbErr::Custom("entity without id".into()))?;
    E::find()
        .filter(id_col.eq(id))
        .filter(org_col.eq(organisation_id))
        .lock_exclusive()
        .one(db)
        .await
}

enum Row {
    Person(Box<person::Model>),
    Referral(Box<referral::Model>),
}

/// An editable record, locked for the rest of the transaction.
pub struct EditableRecord {
    /// Its server version.
    pub version: i64,
    /// Whether it is deleted.
    pub deleted: bool,
    /// Its writable fields, canonical.
    pub fields: Map<String, Value>,
    /// The version at which each field last changed.
    pub field_versions: BTreeMap<String, i64>,
    row: Row,
}

/// The field specs of an editable record type's updates.
pub fn update_specs(entity: EntityKind) -> &'static [FieldSpec] {
    match entity {
        EntityKind::Person => person_record::SPECS,
        _ => referral_record::UPDATE_SPECS,
    }
}

impl EditableRecord {
    /// Locks and loads a person or referral of the actor's organisation,
    /// when the actor may see it (`Actor::may_see`): a referral of another
    /// site is as unknown to a worker's push as to their `GET`.
    pub async fn load<C: ConnectionTrait>(
        db: &C,
        actor: &Actor,
        entity: EntityKind,
        id: Uuid,
    ) -> Result<Option<Self>, DbErr> {
        let organisation_id = actor.organisation_id;
        Ok(match entity {
            EntityKind::Person => {
                lock::<_, person::Entity>(db, organisation_id, id).await?.map(|p| Self {
                    version: p.version,
                    deleted: p.deleted_at.is_some(),
                    fields: person_record::to_map(&p),
                    field_versions: merge::parse_versions(&p.field_versions),
                    row: Row::Person(Box::new(p)),
                })
            }
            EntityKind::Referral => lock::<_, referral::Entity>(db, organisation_id, id)
                .await?
                .filter(|r| actor.may_see(r.site_id, r.recorded_by))
                .map(|r| Self {
                    version: r.version,
                    deleted: r.deleted_at.is_some(),
                    fields: referral_record::to_map(&r),
                    field_versions: merge::parse_versions(&r.field_versions),
                    row: Row::Referral(Box::new(r)),
                }),
            _ => None,
        })
    }

    /// The fields as they were at `version` (from the revisions).
    pub async fn fields_at<C: ConnectionTrait>(
        &self,
        db: &C,
        entity: EntityKind,
        id: Uuid,
        version: i64,
    ) -> Result<Option<Map<String, Value>>, DbErr> {
        if version == self.version {
            return Ok(Some(self.fields.clone()));
        }
        Ok(record_revision::Entity::find_by_id((entity.as_str().to_owned(), id, version))
            .one(db)
            .await?
            .and_then(|r| serde_json::from_str(&r.snapshot).ok()))
    }

    /// Writes `changes` as the next version, with its revision and feed
    /// entry, and returns that version.
    pub async fn write<C: ConnectionTrait>(
        self,
        db: &C,
        actor: &Actor,
        w: &mut BatchWriter,
        changes: &Map<String, Value>,
    ) -> Result<i64, DbErr> {
        let now = Utc::now();
        let version = self.version + 1;
        let mut versions = self.field_versions;
        merge::bump_versions(&mut versions, changes.keys(), version);
        let versions = serde_json::to_string(&versions).unwrap_or_default();
        let mut snapshot = self.fields;
        snapshot.extend(changes.clone());
        let (entity, id, entry) = match self.row {
            Row::Person(p) => {
                let id = p.id;
                let mut active = p.into_active_model();
                person_record::apply(&mut active, changes);
                active.version = Set(version);
                active.field_versions = Set(versions);
                active.updated_at = Set(now);
                active.update(db).await?;
                (EntityKind::Person, id, FeedEntry::upsert(EntityKind::Person, id, version))
            }
            Row::Referral(r) => {
                let (id, old_site) = (r.id, r.site_id);
                let mut active = r.into_active_model();
                referral_record::apply(&mut active, changes);
                active.version = Set(version);
                active.field_versions = Set(versions);
                active.updated_at = Set(now);
                let saved = active.update(db).await?;
                if saved.site_id != old_site {
                    // Those who saw it only through its old site drop it
                    // and its steps; the new site's staff receive both.
                    let (org, site, owner) =
                        (actor.organisation_id, saved.site_id, saved.recorded_by);
                    let evictions = scope::moved_site(
                        db,
                        org,
                        EntityKind::Referral,
                        id,
                        version,
                        old_site,
                        site,
                        owner,
                    )
                    .await?;
                    let evicted: Vec<Uuid> =
                        evictions.iter().filter_map(|e| e.audience_user_id).collect();
                    for entry in scope::move_steps(db, org, id, &evicted, site, owner).await? {
                        w.change(entry);
                    }
                    for eviction in evictions {
                        w.change(eviction);
                    }
                }
                let entry = FeedEntry::upsert(EntityKind::Referral, id, version)
                    .at_site(saved.site_id, saved.recorded_by);
                (EntityKind::Referral, id, entry)
            }
        };
        w.revision(actor, entity, id, version, &snapshot);
        w.change(entry);
        Ok(version)
    }
}
