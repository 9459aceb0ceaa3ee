//! Linking a partner service of the directory to the organisation on
//! Outpost that it is: the partner's admin makes a one-time code (shown
//! once, kept as a hash, valid a week) and gives it to the referrer's
//! admin, who links the service with it. Referrals sent to the service
//! then reach the partner's inbox, under the person's consent.

use chrono::{DateTime, Duration, Utc};
use outpost_entity::{partner_link_code, partner_service};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    Set, TransactionTrait,
};
use uuid::Uuid;

use super::{ServiceError, ServiceResult};
use crate::{
    caller::Caller,
    records::referral::{route, sharing},
    secrets::{hash_secret, new_secret},
    sync::writer::BatchWriter,
};

/// Prefix of partner link codes.
const CODE_PREFIX: &str = "oplk_";

/// How long a code can be used.
const VALID_FOR: i64 = 7;

/// A new code linking to the caller's organisation, and when it lapses.
pub async fn new_code(
    db: &DatabaseConnection,
    caller: &Caller,
) -> ServiceResult<(String, DateTime<Utc>)> {
    let code = new_secret(CODE_PREFIX);
    let now = Utc::now();
    let expires_at = now + Duration::days(VALID_FOR);
    partner_link_code::ActiveModel {
        id: Set(Uuid::now_v7()),
        organisation_id: Set(caller.organisation_id()),
        code_hash: Set(hash_secret(&code)),
        expires_at: Set(expires_at),
        used_at: Set(None),
        created_by: Set(caller.user_id()),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok((code, expires_at))
}

/// Links the caller's partner service `id` to the organisation whose code
/// `code` is (`None`: unlinks it), and shares or unshares what was sent
/// to it accordingly.
pub async fn set_link(
    db: &DatabaseConnection,
    caller: &Caller,
    id: Uuid,
    code: Option<&str>,
) -> ServiceResult<partner_service::Model> {
    let org = caller.organisation_id();
    let now = Utc::now();
    let txn = db.begin().await?;
    let service = crate::sync::editable::lock::<_, partner_service::Entity>(&txn, org, id)
        .await?
        .ok_or(ServiceError::NotFound("partner service"))?;
    let linked = match code {
        None => None,
        Some(code) => {
            let invalid =
                || ServiceError::invalid("code", "is not a valid, unused partner link code");
            let found = partner_link_code::Entity::find()
                .filter(partner_link_code::Column::CodeHash.eq(hash_secret(code)))
                .one(&txn)
                .await?
                .ok_or_else(invalid)?;
            if found.used_at.is_some() || found.expires_at <= now {
                return Err(invalid());
            }
            if found.organisation_id == org {
                return Err(ServiceError::invalid("code", "links to your own organisation"));
            }
            let partner = found.organisation_id;
            let mut used = found.into_active_model();
            used.used_at = Set(Some(now));
            used.update(&txn).await?;
            Some(partner)
        }
    };
    let version = service.version + 1;
    let mut active = service.into_active_model();
    active.linked_organisation_id = Set(linked);
    active.version = Set(version);
    active.updated_at = Set(now);
    let saved = active.update(&txn).await?;
    let mut w = BatchWriter::default();
    w.change(crate::sync::feed::FeedEntry::upsert(
        crate::sync::EntityKind::PartnerService,
        id,
        version,
    ));
    let sent_to_it = outpost_entity::referral::Column::PartnerServiceId.eq(id);
    route(&mut w, org, sharing::refresh_all(&txn, org, sent_to_it, now).await?);
    w.finish(&txn, org).await?;
    txn.commit().await?;
    Ok(saved)
}
