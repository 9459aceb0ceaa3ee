//! The rows a batch writes, gathered so creates go to the database as a few
//! multi-row inserts instead of one statement per record: that is most of
//! what makes a 100-contact push cheap.

use outpost_entity::{
    contact, incident, kit_line, person, record_revision, referral, referral_step, sync_conflict,
    sync_mutation,
};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set};
use uuid::Uuid;

use super::{
    EntityKind,
    feed::{self, FeedEntry},
    mutation::{Mutation, MutationResult},
};
use crate::caller::Actor;

/// Pending rows of one batch.
#[derive(Default)]
pub struct BatchWriter {
    persons: Vec<person::ActiveModel>,
    contacts: Vec<contact::ActiveModel>,
    kit_lines: Vec<kit_line::ActiveModel>,
    incidents: Vec<incident::ActiveModel>,
    referrals: Vec<referral::ActiveModel>,
    steps: Vec<referral_step::ActiveModel>,
    revisions: Vec<record_revision::ActiveModel>,
    conflicts: Vec<sync_conflict::ActiveModel>,
    mutations: Vec<sync_mutation::ActiveModel>,
    feed: Vec<FeedEntry>,
}

impl BatchWriter {
    /// Queues a new person.
    pub fn person(&mut self, row: person::ActiveModel) {
        self.persons.push(row);
    }

    /// Queues a new contact and its kit lines.
    pub fn contact(&mut self, row: contact::ActiveModel, lines: Vec<kit_line::ActiveModel>) {
        self.contacts.push(row);
        self.kit_lines.extend(lines);
    }

    /// Queues a new incident.
    pub fn incident(&mut self, row: incident::ActiveModel) {
        self.incidents.push(row);
    }

    /// Queues a new referral.
    pub fn referral(&mut self, row: referral::ActiveModel) {
        self.referrals.push(row);
    }

    /// Queues a new referral step.
    pub fn step(&mut self, row: referral_step::ActiveModel) {
        self.steps.push(row);
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

    /// Queues a feed entry.
    pub fn change(&mut self, entry: FeedEntry) {
        self.feed.push(entry);
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
        insert_all(db, std::mem::take(&mut self.persons)).await?;
        insert_all(db, std::mem::take(&mut self.contacts)).await?;
        insert_all(db, std::mem::take(&mut self.kit_lines)).await?;
        insert_all(db, std::mem::take(&mut self.incidents)).await?;
        insert_all(db, std::mem::take(&mut self.referrals)).await?;
        insert_all(db, std::mem::take(&mut self.steps)).await?;
        insert_all(db, std::mem::take(&mut self.revisions)).await?;
        insert_all(db, std::mem::take(&mut self.conflicts)).await
    }

    /// Writes everything left, the mutation log, and last the feed (which
    /// takes the organisation's counter lock until commit).
    pub async fn finish<C: ConnectionTrait>(
        mut self,
        db: &C,
        organisation_id: Uuid,
    ) -> Result<(), DbErr> {
        self.flush_records(db).await?;
        insert_all(db, std::mem::take(&mut self.mutations)).await?;
        feed::append(db, organisation_id, self.feed).await
    }
}

/// Multi-row inserts in chunks that stay under the bind-parameter limits of
/// SQLite (32,766) and Postgres (65,535).
async fn insert_all<C, A>(db: &C, rows: Vec<A>) -> Result<(), DbErr>
where
    C: ConnectionTrait,
    A: sea_orm::ActiveModelTrait + Clone + Send,
{
    for chunk in rows.chunks(400) {
        <A::Entity as EntityTrait>::insert_many(chunk.to_vec()).exec_without_returning(db).await?;
    }
    Ok(())
}
