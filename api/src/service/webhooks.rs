//! An organisation's webhook endpoints, their deliveries and attempts, and
//! replaying a delivery (admins).

use chrono::Utc;
use outpost_entity::{webhook_attempt, webhook_delivery, webhook_endpoint};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::{ServiceError, ServiceResult};
use crate::{
    config::WebhookConfig,
    domain::stored_name,
    webhooks::{WebhookEvent, check_url, signing},
};

/// Registers an endpoint; answers it and its signing secret (shown once).
pub async fn create(
    db: &DatabaseConnection,
    config: &WebhookConfig,
    key: &[u8; 32],
    organisation_id: Uuid,
    url: &str,
    events: &[WebhookEvent],
) -> ServiceResult<(webhook_endpoint::Model, String)> {
    check_url(url, &config.allowed_hosts).map_err(|why| ServiceError::invalid("url", why))?;
    if events.is_empty() {
        return Err(ServiceError::invalid("events", "must name at least one event"));
    }
    let mut names: Vec<String> = events.iter().map(stored_name).collect();
    names.sort();
    names.dedup();
    let endpoint = webhook_endpoint::ActiveModel {
        id: Set(Uuid::now_v7()),
        organisation_id: Set(organisation_id),
        url: Set(url.to_owned()),
        events: Set(serde_json::to_string(&names).unwrap_or_default()),
        created_at: Set(Utc::now()),
        disabled_at: Set(None),
    }
    .insert(db)
    .await?;
    let secret = signing::endpoint_secret(key, endpoint.id);
    Ok((endpoint, secret))
}

/// The organisation's live endpoints.
pub async fn list(
    db: &DatabaseConnection,
    organisation_id: Uuid,
) -> ServiceResult<Vec<webhook_endpoint::Model>> {
    Ok(webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::OrganisationId.eq(organisation_id))
        .filter(webhook_endpoint::Column::DisabledAt.is_null())
        .order_by_asc(webhook_endpoint::Column::Id)
        .all(db)
        .await?)
}

async fn endpoint(
    db: &DatabaseConnection,
    organisation_id: Uuid,
    id: Uuid,
) -> ServiceResult<webhook_endpoint::Model> {
    webhook_endpoint::Entity::find_by_id(id)
        .filter(webhook_endpoint::Column::OrganisationId.eq(organisation_id))
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound("webhook endpoint"))
}

/// Removes an endpoint: nothing more is queued for it, and what is queued
/// fails at its next attempt. Its deliveries stay readable.
pub async fn remove(db: &DatabaseConnection, organisation_id: Uuid, id: Uuid) -> ServiceResult<()> {
    let found = endpoint(db, organisation_id, id).await?;
    if found.disabled_at.is_none() {
        let mut removed = found.into_active_model();
        removed.disabled_at = Set(Some(Utc::now()));
        removed.update(db).await?;
    }
    Ok(())
}

/// An endpoint's latest deliveries, newest first, each with its attempts.
pub async fn deliveries(
    db: &DatabaseConnection,
    organisation_id: Uuid,
    endpoint_id: Uuid,
    limit: u64,
) -> ServiceResult<Vec<(webhook_delivery::Model, Vec<webhook_attempt::Model>)>> {
    endpoint(db, organisation_id, endpoint_id).await?;
    let deliveries = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::OrganisationId.eq(organisation_id))
        .filter(webhook_delivery::Column::EndpointId.eq(endpoint_id))
        .order_by_desc(webhook_delivery::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    let ids: Vec<Uuid> = deliveries.iter().map(|d| d.id).collect();
    let attempts = webhook_attempt::Entity::find()
        .filter(webhook_attempt::Column::OrganisationId.eq(organisation_id))
        .filter(webhook_attempt::Column::DeliveryId.is_in(ids))
        .order_by_asc(webhook_attempt::Column::Id)
        .all(db)
        .await?;
    Ok(deliveries
        .into_iter()
        .map(|d| {
            let own = attempts.iter().filter(|a| a.delivery_id == d.id).cloned().collect();
            (d, own)
        })
        .collect())
}

/// Queues a delivery again, now, with its id (receivers deduplicate by
/// `webhook-id`): one that failed, or one delivered that the receiver lost.
pub async fn replay(
    db: &DatabaseConnection,
    organisation_id: Uuid,
    id: Uuid,
) -> ServiceResult<webhook_delivery::Model> {
    let delivery = webhook_delivery::Entity::find_by_id(id)
        .filter(webhook_delivery::Column::OrganisationId.eq(organisation_id))
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound("webhook delivery"))?;
    if delivery.status == "pending" {
        return Err(ServiceError::Conflict {
            code: "delivery_pending",
            detail: "the delivery is still being attempted".into(),
        });
    }
    let now = Utc::now();
    let mut again = delivery.into_active_model();
    again.status = Set("pending".into());
    again.next_attempt_at = Set(now);
    again.created_at = Set(now);
    again.locked_until = Set(None);
    Ok(again.update(db).await?)
}
