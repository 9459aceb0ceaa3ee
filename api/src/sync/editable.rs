//! The edited records (`Changes::Merged`: people, referrals) as the merge sees them: current
//! fields, per-field versions, and how to write a change with its revision
//! and feed entry.

use crate::caller::Actor;
use std::{any::Any, collections::BTreeMap, str::FromStr};

use chrono::Utc;
use outpost_entity::record_revision;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    ModelTrait, QueryFilter, QuerySelect,
};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{EntityKind, feed::FeedEntry, merge, scope, writer::BatchWriter};
use crate::records::{
    kind::{self, Changes, Model, SyncRecord},
    row,
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

/// An editable record, locked for the rest of the transaction.
pub struct EditableRecord {
    /// Its kind.
    pub kind: EntityKind,
    /// Its id.
    pub id: Uuid,
    /// Its server version.
    pub version: i64,
    /// Whether it is deleted.
    pub deleted: bool,
    /// Its writable fields, canonical.
    pub fields: Map<String, Value>,
    /// The version at which each field last changed.
    pub field_versions: BTreeMap<String, i64>,
    /// The stored row (the kind's model), written back by `write`.
    row: Box<dyn Any + Send + Sync>,
}

impl EditableRecord {
    /// Locks and loads a record of an edited kind in the actor's
    /// organisation, when the actor may see it (`Actor::may_see`): a
    /// referral of another site is as unknown to a worker's push as to
    /// their `GET`.
    pub async fn load<C: ConnectionTrait>(
        db: &C,
        actor: &Actor,
        kind: EntityKind,
        id: Uuid,
    ) -> Result<Option<Self>, DbErr> {
        crate::with_record!(kind, R => Self::load_kind::<R, C>(db, actor, id).await, else Ok(None))
    }

    /// [`EditableRecord::load`] for a kind known at compile time.
    pub async fn load_kind<R: SyncRecord, C: ConnectionTrait>(
        db: &C,
        actor: &Actor,
        id: Uuid,
    ) -> Result<Option<Self>, DbErr> {
        if !matches!(R::CHANGES, Changes::Merged) {
            return Ok(None);
        }
        let Some(model) = lock::<_, R::Entity>(db, actor.organisation_id, id).await? else {
            return Ok(None);
        };
        let (site, owner) = kind::placement::<R>(&model)?;
        if R::PLACED && !actor.may_see(site, owner) {
            return Ok(None);
        }
        let versions = match model.get(row::column::<R::Entity>("field_versions")?) {
            sea_orm::Value::String(Some(v)) => merge::parse_versions(&v),
            _ => BTreeMap::new(),
        };
        Ok(Some(Self {
            kind: R::KIND,
            id,
            version: row::int_of(&model, "version")?,
            deleted: row::is_set(&model, "deleted_at")?,
            fields: row::fields_of(&model, &kind::editable::<R>())?,
            field_versions: versions,
            row: Box::new(model),
        }))
    }

    /// The fields as they were at `version` (from the revisions).
    pub async fn fields_at<C: ConnectionTrait>(
        &self,
        db: &C,
        version: i64,
    ) -> Result<Option<Map<String, Value>>, DbErr> {
        if version == self.version {
            return Ok(Some(self.fields.clone()));
        }
        Ok(record_revision::Entity::find_by_id((self.kind.as_str().to_owned(), self.id, version))
            .one(db)
            .await?
            .and_then(|r| serde_json::from_str(&r.snapshot).ok()))
    }

    /// Checks `changes` against the stored record by its kind's rules
    /// ([`SyncRecord::check_update`]).
    pub async fn check_update<C: ConnectionTrait>(
        &self,
        db: &C,
        ctx: &crate::records::context::BatchContext,
        changes: &Map<String, Value>,
    ) -> Result<(), crate::records::rejection::ApplyError> {
        crate::with_record!(self.kind, R => match self.row.downcast_ref::<Model<R>>() {
            Some(current) => R::check_update(db, ctx, current, changes).await,
            None => Ok(()),
        }, else Ok(()))
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
        crate::with_record!(self.kind, R => self.write_kind::<R, C>(db, actor, w, changes).await,
            else Err(DbErr::Custom(format!("{} is not edited", self.kind.as_str()))))
    }

    async fn write_kind<R: SyncRecord, C: ConnectionTrait>(
        self,
        db: &C,
        actor: &Actor,
        w: &mut BatchWriter,
        changes: &Map<String, Value>,
    ) -> Result<i64, DbErr> {
        let model = *self
            .row
            .downcast::<Model<R>>()
            .map_err(|_| DbErr::Custom("an editable record of another kind".into()))?;
        let now = Utc::now();
        let (id, version) = (self.id, self.version + 1);
        let mut versions = self.field_versions;
        merge::bump_versions(&mut versions, changes.keys(), version);
        let mut snapshot = self.fields;
        snapshot.extend(changes.clone());
        let (old_site, _) = kind::placement::<R>(&model)?;
        let mut active: R::Row = model.into_active_model();
        row::set_fields(&mut active, R::FIELDS, changes)?;
        row::set(&mut active, "version", sea_orm::Value::BigInt(Some(version)))?;
        let versions = serde_json::to_string(&versions).unwrap_or_default();
        row::set(&mut active, "field_versions", sea_orm::Value::String(Some(versions)))?;
        row::set(&mut active, "updated_at", sea_orm::Value::ChronoDateTimeUtc(Some(now)))?;
        let saved = active.update(db).await?;
        R::updated(db, w, &saved).await?;
        let mut entry = FeedEntry::upsert(R::KIND, id, version);
        if R::PLACED {
            let (site, owner) = kind::placement::<R>(&saved)?;
            if site != old_site {
                // Those who saw it only through its old site drop it and
                // what comes with it; the new site's staff receive both.
                let org = actor.organisation_id;
                let evictions =
                    scope::moved_site(db, org, R::KIND, id, version, old_site, site, owner).await?;
                let evicted: Vec<Uuid> =
                    evictions.iter().filter_map(|e| e.audience_user_id).collect();
                for entry in R::moved(db, org, id, &evicted, site, owner).await? {
                    w.change(entry);
                }
                for eviction in evictions {
                    w.change(eviction);
                }
            }
            entry = entry.at_site(site, owner);
        }
        w.revision(actor, R::KIND, id, version, &snapshot);
        w.change(entry);
        Ok(version)
    }
}
