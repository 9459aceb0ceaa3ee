//! One definition per synced record kind ([`SyncRecord`]): its table, its
//! fields (with their checks, defaults and need-to-know), how it changes
//! once stored, whether a site places it, its view, and what creating it
//! writes. The sync engine (push, apply, merge, render, scope) is written
//! once over this trait; [`with_record!`](crate::with_record) is the one
//! place that maps an [`EntityKind`] to its definition.

use crate::caller::Actor;
use std::future::Future;

use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    ModelTrait,
};
use serde_json::{Map, Value, value::RawValue};
use uuid::Uuid;

use super::{
    context::BatchContext,
    fields::FieldSpec,
    lookup::ByKeys,
    rejection::{ApplyError, Rejection, RejectionCode},
    row,
};
use crate::sync::{EntityKind, feed::FeedEntry, writer::BatchWriter};

/// How a stored record of a kind changes.
#[derive(Debug, Clone, Copy)]
pub enum Changes {
    /// Edited field by field and merged (sync.md, guarantee 3): the fields
    /// not `fixed`.
    Merged,
    /// Never edited: a mistaken one is deleted (a tombstone) and recorded
    /// again.
    AppendOnly,
    /// Never edited nor deleted: the next one is appended.
    Appended,
}

/// A stored row of `R`.
pub type Model<R> = <<R as SyncRecord>::Entity as EntityTrait>::Model;

/// A synced record kind, declared once.
pub trait SyncRecord: Send + Sync + 'static {
    /// Its name in the feed and on the wire.
    const KIND: EntityKind;
    /// Its fields, as a create takes them (each the column of its name).
    const FIELDS: &'static [FieldSpec];
    /// How it changes once stored.
    const CHANGES: Changes;
    /// Whether a site places it: then workers and viewers see it through
    /// its `site_id` (and their own through `recorded_by`), and it is
    /// deleted as a tombstone by its recorder, a manager or an admin.
    const PLACED: bool;

    /// Its table.
    type Entity: EntityTrait<Model: Sync + IntoActiveModel<Self::Row>>;
    /// A row of its table being written.
    type Row: ActiveModelTrait<Entity = Self::Entity> + ActiveModelBehavior + Send;

    /// The record as `GET` and the feed show it to `actor`.
    fn view(model: Model<Self>, actor: &Actor) -> Option<Value>;

    /// Queues a new record from checked `fields` (defaults not yet filled).
    fn create<C: ConnectionTrait>(
        db: &C,
        ctx: &mut BatchContext,
        w: &mut BatchWriter,
        id: Uuid,
        fields: Map<String, Value>,
    ) -> impl Future<Output = Result<(), ApplyError>> + Send;

    /// The records with these ids, as `actor` is shown them. By default
    /// one query and [`SyncRecord::view`].
    fn render<C: ConnectionTrait>(
        db: &C,
        actor: &Actor,
        ids: &[Uuid],
    ) -> impl Future<Output = Result<Vec<(Uuid, Value)>, DbErr>> + Send {
        render_rows::<Self, C>(db, actor, ids.to_vec())
    }

    /// The same records as JSON text, as a pull page carries them. By
    /// default [`SyncRecord::render`]'s values, written out.
    fn render_json<C: ConnectionTrait>(
        db: &C,
        actor: &Actor,
        ids: &[Uuid],
    ) -> impl Future<Output = Result<Vec<(Uuid, Box<RawValue>)>, DbErr>> + Send {
        async move { Ok(as_json_text(Self::render(db, actor, ids).await?)) }
    }

    /// Whether `actor` may delete one placed at `placement` (site,
    /// recorder). By default its recorder, a manager or an admin.
    fn may_delete(actor: &Actor, placement: (Option<Uuid>, Option<Uuid>)) -> Result<(), Rejection> {
        if actor.may_correct(placement.1) {
            return Ok(());
        }
        Err(Rejection::new(
            RejectionCode::Forbidden,
            None,
            "only the recorder, a manager or an admin may delete this",
        ))
    }

    /// The fields a deletion overwrites (an erasure's blanks); by default
    /// none: a tombstone keeps what it held.
    fn erased() -> Map<String, Value> {
        Map::new()
    }

    /// The rules an update's checked `changes` must meet against the stored
    /// record, beyond each field's own (a referral already sent changes
    /// partner only under consent). By default none.
    fn check_update<C: ConnectionTrait>(
        _db: &C,
        _ctx: &BatchContext,
        _current: &Model<Self>,
        _changes: &Map<String, Value>,
    ) -> impl Future<Output = Result<(), ApplyError>> + Send {
        std::future::ready(Ok(()))
    }

    /// What else an edit does, once the new version is stored (a referral
    /// shared with a partner is shared again).
    fn updated<C: ConnectionTrait>(
        _db: &C,
        _w: &mut BatchWriter,
        _saved: &Model<Self>,
    ) -> impl Future<Output = Result<(), DbErr>> + Send {
        std::future::ready(Ok(()))
    }

    /// What else deleting one does, after its tombstone is written (its
    /// dependants' bookkeeping).
    fn deleted<C: ConnectionTrait>(
        _db: &C,
        _ctx: &mut BatchContext,
        _w: &mut BatchWriter,
        _id: Uuid,
    ) -> impl Future<Output = Result<(), DbErr>> + Send {
        std::future::ready(Ok(()))
    }

    /// The records that come and go with these (a referral's steps), as
    /// (kind, id, version): fed to a worker who joins their site, evicted
    /// from one who leaves it.
    fn dependants<C: ConnectionTrait>(
        _db: &C,
        _organisation_id: Uuid,
        _ids: &[Uuid],
    ) -> impl Future<Output = Result<Vec<(EntityKind, Uuid, i64)>, DbErr>> + Send {
        std::future::ready(Ok(Vec::new()))
    }

    /// The feed entries that follow one moving to another site, beyond its
    /// own (its dependants'). `evicted`: who lost sight of it.
    fn moved<C: ConnectionTrait>(
        _db: &C,
        _organisation_id: Uuid,
        _id: Uuid,
        _evicted: &[Uuid],
        _site: Option<Uuid>,
        _owner: Option<Uuid>,
    ) -> impl Future<Output = Result<Vec<FeedEntry>, DbErr>> + Send {
        std::future::ready(Ok(Vec::new()))
    }
}

/// The fields a `kind` record declares (none for the kinds that are not
/// synced records).
pub fn fields(kind: EntityKind) -> &'static [FieldSpec] {
    crate::with_record!(kind, R => R::FIELDS, else &[])
}

/// The fields an update of `R` may change (none for the kinds never
/// edited).
pub fn editable<R: SyncRecord>() -> Vec<FieldSpec> {
    match R::CHANGES {
        Changes::Merged => R::FIELDS.iter().filter(|s| !s.fixed).copied().collect(),
        Changes::AppendOnly | Changes::Appended => Vec::new(),
    }
}

/// The fields an update of a `kind` record may change.
pub fn editable_fields(kind: EntityKind) -> Vec<FieldSpec> {
    crate::with_record!(kind, R => editable::<R>(), else Vec::new())
}

/// A record's site and recorder, for the kinds a site places.
pub fn placement<R: SyncRecord>(model: &Model<R>) -> Result<(Option<Uuid>, Option<Uuid>), DbErr> {
    if !R::PLACED {
        return Ok((None, None));
    }
    Ok((row::uuid_of(model, "site_id")?, row::uuid_of(model, "recorded_by")?))
}

/// Renders the rows of `R` with `ids` in the actor's organisation.
pub async fn render_rows<R: SyncRecord + ?Sized, C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    ids: Vec<Uuid>,
) -> Result<Vec<(Uuid, Value)>, DbErr> {
    let org = row::column::<R::Entity>("organisation_id")?;
    let id_column = row::column::<R::Entity>("id")?;
    let rows = ByKeys::<R::Entity>::new(id_column)
        .in_organisation(org, actor.organisation_id)
        .models(db, &ids)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|model| {
            let sea_orm::Value::Uuid(Some(id)) = model.get(id_column) else { return None };
            R::view(model, actor).map(|view| (id, view))
        })
        .collect())
}

/// Rendered records written out as JSON text (a value that cannot be
/// written, never expected, is left out as a record that cannot be shown).
pub fn as_json_text(records: Vec<(Uuid, Value)>) -> Vec<(Uuid, Box<RawValue>)> {
    records
        .into_iter()
        .filter_map(|(id, value)| serde_json::value::to_raw_value(&value).ok().map(|raw| (id, raw)))
        .collect()
}

/// Maps an [`EntityKind`] to its [`SyncRecord`] definition: runs `$body`
/// with `$R` the definition, or `$other` for the kinds that are not synced
/// records (conflicts and reference data, changed through REST). A new
/// kind is one arm here.
#[macro_export]
macro_rules! with_record {
    ($kind:expr, $R:ident => $body:expr, else $other:expr) => {
        match $kind {
            $crate::sync::EntityKind::Person => {
                type $R = $crate::records::person::Person;
                $body
            }
            $crate::sync::EntityKind::Contact => {
                type $R = $crate::records::contact::Contact;
                $body
            }
            $crate::sync::EntityKind::Incident => {
                type $R = $crate::records::incident::Incident;
                $body
            }
            $crate::sync::EntityKind::Referral => {
                type $R = $crate::records::referral::Referral;
                $body
            }
            $crate::sync::EntityKind::ReferralStep => {
                type $R = $crate::records::referral::ReferralStep;
                $body
            }
            $crate::sync::EntityKind::StockEntry => {
                type $R = $crate::records::stock_entry::StockEntry;
                $body
            }
            $crate::sync::EntityKind::Consent => {
                type $R = $crate::records::consent::Consent;
                $body
            }
            $crate::sync::EntityKind::ConsentRevocation => {
                type $R = $crate::records::consent::ConsentRevocation;
                $body
            }
            $crate::sync::EntityKind::Conflict
            | $crate::sync::EntityKind::Site
            | $crate::sync::EntityKind::KitItem
            | $crate::sync::EntityKind::Substance
            | $crate::sync::EntityKind::PartnerService
            | $crate::sync::EntityKind::StockLocation
            | $crate::sync::EntityKind::StockThreshold
            | $crate::sync::EntityKind::InboxReferral => $other,
        }
    };
}
