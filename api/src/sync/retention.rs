//! The tombstone horizon. Deletions stay in the feed long enough for an
//! offline device to catch up (90 days by default); after that they are
//! purged, and a cursor older than the newest purged entry is refused with
//! 410 so the device re-syncs instead of keeping a deleted record.

use chrono::{Duration, Utc};
use outpost_entity::{sync_change, sync_counter};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect,
    TransactionTrait, sea_query::Expr,
};
use uuid::Uuid;

/// Purges delete entries older than `keep`; answers how many went.
pub async fn purge_tombstones(db: &DatabaseConnection, keep: Duration) -> Result<u64, DbErr> {
    let cutoff = Utc::now() - keep;
    let newest: Vec<(Uuid, Option<i64>)> = sync_change::Entity::find()
        .select_only()
        .column(sync_change::Column::OrganisationId)
        .column_as(sync_change::Column::Seq.max(), "newest")
        .filter(sync_change::Column::Op.eq("delete"))
        .filter(sync_change::Column::ChangedAt.lte(cutoff))
        .group_by(sync_change::Column::OrganisationId)
        .into_tuple()
        .all(db)
        .await?;
    let mut purged = 0;
    for (organisation_id, newest) in newest {
        let Some(newest) = newest else { continue };
        let txn = db.begin().await?;
        // The horizon moves first: a cursor at or below it would have missed
        // a purged deletion.
        sync_counter::Entity::update_many()
            .col_expr(sync_counter::Column::HorizonSeq, Expr::value(newest))
            .filter(sync_counter::Column::OrganisationId.eq(organisation_id))
            .filter(sync_counter::Column::HorizonSeq.lt(newest))
            .exec(&txn)
            .await?;
        purged += sync_change::Entity::delete_many()
            .filter(sync_change::Column::OrganisationId.eq(organisation_id))
            .filter(sync_change::Column::Op.eq("delete"))
            .filter(sync_change::Column::Seq.lte(newest))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
    }
    Ok(purged)
}
