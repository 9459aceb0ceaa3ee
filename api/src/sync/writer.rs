//! The rows a batch writes, gathered so creates go to the database as one
//! statement per table ([`bulk`]) instead of one per record: that is most
//! of what makes a 100-contact push cheap.

use std::{
    any::{Any, TypeId},
    collections::BTreeMap,
};

use outpost_entity::{record_revision, sync_conflict, sync_mutation};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbBackend, DbErr, Set, Statement};
use uuid::Uuid;

use super::{
    EntityKind,
    feed::{self, FeedEntry},
    mutation::{Mutation, MutationResult},
};
use crate::{
    caller::Actor,
    records::bulk,
    stock::ledger::{self, Movement},
};

/// Rows of one table waiting to be inserted together.
trait Pending: Send {
    fn as_any(&mut self) -> &mut dyn Any;
    /// The statements inserting the rows queued so far, which leave the
    /// queue.
    fn take_statements(&mut self, backend: DbBackend) -> Vec<Statement>;
}

struct Rows<A>(Vec<A>);

impl<A: ActiveModelTrait + Clone + Send + 'static> Pending for Rows<A> {
    fn as_any(&mut self) -> &mut dyn Any {
        self
    }

    fn take_statements(&mut self, backend: DbBackend) -> Vec<Statement> {
        bulk::statements(backend, std::mem::take(&mut self.0))
    }
}

/// Where a table's rows go in the flush: in the order of the kinds
/// (`EntityKind::ALL`, so a record goes in after those it refers to), a
/// kind's own rows before its dependants' (a contact before its kit lines).
type Slot = (usize, u8, TypeId);

/// Pending rows of one batch.
#[derive(Default)]
pub struct BatchWriter {
    records: BTreeMap<Slot, Box<dyn Pending>>,
    revisions: Vec<record_revision::ActiveModel>,
    conflicts: Vec<sync_conflict::ActiveModel>,
    mutations: Vec<sync_mutation::ActiveModel>,
    feed: Vec<FeedEntry>,
    /// Entries for other organisations' feeds (a partner's inbox, the
    /// referrer's devices after a partner's step).
    foreign_feed: BTreeMap<Uuid, Vec<FeedEntry>>,
    /// Stock movements waiting to be booked, and their organisation.
    stock: Vec<Movement>,
    stock_organisation: Option<Uuid>,
    /// How much the booked movements move on-hand, per location and item:
    /// added last, before the feed ([`ledger::add_to_levels`]).
    level_sums: BTreeMap<ledger::Key, i64>,
}

impl BatchWriter {
    /// Queues new rows of a `kind` record.
    pub fn insert<A: ActiveModelTrait + Clone + Send + 'static>(
        &mut self,
        kind: EntityKind,
        rows: impl IntoIterator<Item = A>,
    ) {
        self.queue(kind, 0, rows);
    }

    /// Queues rows that belong to `kind` records queued before (a
    /// contact's kit lines): they go in after them.
    pub fn insert_dependants<A: ActiveModelTrait + Clone + Send + 'static>(
        &mut self,
        kind: EntityKind,
        rows: impl IntoIterator<Item = A>,
    ) {
        self.queue(kind, 1, rows);
    }

    fn queue<A: ActiveModelTrait + Clone + Send + 'static>(
        &mut self,
        kind: EntityKind,
        tier: u8,
        rows: impl IntoIterator<Item = A>,
    ) {
        let order = EntityKind::ALL.iter().position(|k| *k == kind).unwrap_or(usize::MAX);
        let slot = self
            .records
            .entry((order, tier, TypeId::of::<A>()))
            .or_insert_with(|| Box::new(Rows::<A>(Vec::new())));
        if let Some(queued) = slot.as_any().downcast_mut::<Rows<A>>() {
            queued.0.extend(rows);
        }
    }

    /// Queues a revision of an editable record.
    pub fn revision(
        &mut self,
        actor: &Actor,
        entity: EntityKind,
        record_id: Uuid,
        version: i64,
        snapshot: &serde_json::Map<String, serde_json::Value>,
    ) {
        self.revisions.push(record_revision::ActiveModel {
            entity: Set(entity.as_str().to_owned()),
            record_id: Set(record_id),
            version: Set(version),
            organisation_id: Set(actor.organisation_id),
            snapshot: Set(serde_json::Value::Object(snapshot.clone()).to_string()),
            changed_by: Set(actor.user_id),
            device_id: Set(actor.device_id),
            changed_at: Set(chrono::Utc::now()),
        });
    }

    /// Queues a new conflict.
    pub fn conflict(&mut self, row: sync_conflict::ActiveModel) {
        self.conflicts.push(row);
    }

    /// Queues stock movements (a contact's kit handed out, or put back),
    /// booked with the batch's other rows.
    pub fn stock(&mut self, organisation_id: Uuid, movements: impl IntoIterator<Item = Movement>) {
        self.stock_organisation = Some(organisation_id);
        self.stock.extend(movements);
    }

    /// Queues a feed entry.
    pub fn change(&mut self, entry: FeedEntry) {
        self.feed.push(entry);
    }

    /// Queues a feed entry for another organisation's feed.
    pub fn change_in(&mut self, organisation_id: Uuid, entry: FeedEntry) {
        self.foreign_feed.entry(organisation_id).or_default().push(entry);
    }

    /// Remembers a mutation's result (and the digest of its change, see
    /// `Mutation::digest`), so a replay gets it back.
    pub fn remember(
        &mut self,
        actor: &Actor,
        mutation: &Mutation,
        digest: &str,
        result: &MutationResult,
    ) {
        self.mutations.push(sync_mutation::ActiveModel {
            organisation_id: Set(actor.organisation_id),
            mutation_id: Set(mutation.mutation_id),
            user_id: Set(actor.user_id),
            device_id: Set(actor.device_id),
            api_key_id: Set(actor.api_key_id),
            entity: Set(mutation.entity.as_str().to_owned()),
            record_id: Set(mutation.id),
            outcome: Set(crate::domain::stored_name(&result.status)),
            result: Set(serde_json::to_string(&result.without_record()).unwrap_or_default()),
            received_at: Set(chrono::Utc::now()),
            digest: Set(Some(digest.to_owned())),
        });
    }

    /// Writes the queued creates, so later mutations of the batch can read
    /// and lock them.
    pub async fn flush_records<C: ConnectionTrait>(&mut self, db: &C) -> Result<(), DbErr> {
        let backend = db.get_database_backend();
        for pending in self.records.values_mut() {
            for statement in pending.take_statements(backend) {
                db.execute_raw(statement).await?;
            }
        }
        bulk::insert(db, std::mem::take(&mut self.revisions)).await?;
        bulk::insert(db, std::mem::take(&mut self.conflicts)).await?;
        if let Some(organisation_id) = self.stock_organisation
            && !self.stock.is_empty()
        {
            let movements = std::mem::take(&mut self.stock);
            let sums = ledger::book(db, organisation_id, chrono::Utc::now(), movements).await?;
            for (key, sum) in sums {
                *self.level_sums.entry(key).or_default() += sum;
            }
        }
        Ok(())
    }

    /// Writes everything left, the mutation log, and last the feed (which
    /// takes the organisation's counter lock until commit).
    pub async fn finish<C: ConnectionTrait>(
        mut self,
        db: &C,
        organisation_id: Uuid,
    ) -> Result<(), DbErr> {
        self.flush_records(db).await?;
        bulk::insert(db, std::mem::take(&mut self.mutations)).await?;
        if let Some(stock_organisation) = self.stock_organisation {
            let sums = std::mem::take(&mut self.level_sums);
            let keys = sums.keys().cloned().collect();
            let now = chrono::Utc::now();
            ledger::add_to_levels(db, stock_organisation, now, sums).await?;
            let crossed = ledger::thresholds_crossed(db, stock_organisation, now, keys).await?;
            self.feed.extend(crossed);
        }
        // Each organisation's counter is locked until commit: always in
        // id order, so two batches writing to the same two feeds never
        // wait on each other crosswise.
        let mut feeds = std::mem::take(&mut self.foreign_feed);
        feeds.entry(organisation_id).or_default().extend(self.feed);
        for (organisation_id, entries) in feeds {
            feed::append(db, organisation_id, entries).await?;
        }
        Ok(())
    }
}
