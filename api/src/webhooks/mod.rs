//! Webhooks (issue 14): referral events delivered to an organisation's
//! endpoints for partners not on Outpost. A delivery is queued in the
//! database in the transaction of the change it announces (so it survives
//! a restart and never announces a change that rolled back), then claimed
//! by one instance at a time and attempted until the endpoint answers 2xx
//! or the retries run out ([`worker`]). Signed as Standard Webhooks do
//! ([`signing`]); sent only to hosts the operator allowed.

pub mod signing;
pub mod worker;

use chrono::{DateTime, Utc};
use outpost_entity::{webhook_delivery, webhook_endpoint};
use poem_openapi::Enum;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{domain::stored_name, records::bulk};

/// What an endpoint can subscribe to.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum WebhookEvent {
    /// A referral was sent to a partner service.
    ReferralSent,
    /// A later step of a sent referral (acknowledged, accepted, declined,
    /// booked, attended, closed, withdrawn, expired...).
    ReferralStep,
}

/// Where an endpoint may point: `http` or `https` to a host the operator
/// allowed (`webhooks.allowed_hosts`). Answers why not.
pub fn check_url(url: &str, allowed_hosts: &[String]) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|_| "is not a URL".to_owned())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must be http or https".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry credentials".into());
    }
    let host = parsed.host_str().unwrap_or_default().trim_matches(['[', ']']).to_ascii_lowercase();
    if !allowed_hosts.iter().any(|h| h.trim_matches(['[', ']']).eq_ignore_ascii_case(&host)) {
        return Err(format!("points at `{host}`, which the server's operator has not allowed"));
    }
    Ok(parsed)
}

/// Queues `event` about `data` for every live endpoint of the organisation
/// subscribed to it, in the caller's transaction.
pub async fn enqueue<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    event: WebhookEvent,
    data: Value,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let endpoints = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::OrganisationId.eq(organisation_id))
        .filter(webhook_endpoint::Column::DisabledAt.is_null())
        .all(db)
        .await?;
    let name = stored_name(&event);
    let rows: Vec<webhook_delivery::ActiveModel> = endpoints
        .into_iter()
        .filter(|e| {
            serde_json::from_str::<Vec<WebhookEvent>>(&e.events)
                .unwrap_or_default()
                .contains(&event)
        })
        .map(|endpoint| {
            let id = Uuid::now_v7();
            let body = json!({
                "type": name.replace('_', "."),
                "timestamp": now.to_rfc3339(),
                "data": data,
            });
            webhook_delivery::ActiveModel {
                id: sea_orm::Set(id),
                organisation_id: sea_orm::Set(organisation_id),
                endpoint_id: sea_orm::Set(endpoint.id),
                event: sea_orm::Set(name.clone()),
                payload: sea_orm::Set(body.to_string()),
                status: sea_orm::Set("pending".into()),
                attempts: sea_orm::Set(0),
                next_attempt_at: sea_orm::Set(now),
                locked_until: sea_orm::Set(None),
                created_at: sea_orm::Set(now),
                delivered_at: sea_orm::Set(None),
            }
        })
        .collect();
    bulk::insert(db, rows).await
}
