//! Webhook endpoints (admins): register one (its signing secret is shown
//! once), list and remove them, read each delivery's attempts, replay a
//! delivery.

use chrono::{DateTime, Utc};
use outpost_entity::{webhook_attempt, webhook_delivery, webhook_endpoint};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use uuid::Uuid;

use super::{ApiTags, security, security::Credentials};
use crate::{
    domain::Permission, error::ApiResult, service::webhooks as service, state::AppState,
    webhooks::WebhookEvent,
};

/// An endpoint to register.
#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct CreateWebhookEndpoint {
    /// Where to POST: `http` or `https` to a host the server's operator
    /// allowed.
    #[oai(validator(max_length = 2000))]
    pub url: String,
    /// What to send.
    pub events: Vec<WebhookEvent>,
}

/// A webhook endpoint.
#[derive(Object)]
pub struct WebhookEndpointView {
    /// Its id.
    pub id: Uuid,
    /// Where deliveries go.
    pub url: String,
    /// What it receives.
    pub events: Vec<WebhookEvent>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

impl From<webhook_endpoint::Model> for WebhookEndpointView {
    fn from(m: webhook_endpoint::Model) -> Self {
        Self {
            id: m.id,
            url: m.url,
            events: serde_json::from_str(&m.events).unwrap_or_default(),
            created_at: m.created_at,
        }
    }
}

/// A registered endpoint and its secret.
#[derive(Object)]
pub struct WebhookEndpointCreated {
    /// The endpoint.
    pub endpoint: WebhookEndpointView,
    /// The signing secret (`whsec_...`), shown this once: verify each
    /// delivery's `webhook-signature` with it, as Standard Webhooks
    /// libraries do.
    pub secret: String,
}

/// Answer of `POST /v1/webhooks`.
#[derive(ApiResponse)]
pub enum WebhookCreated {
    /// Registered.
    #[oai(status = 201)]
    Created(Json<WebhookEndpointCreated>),
}

/// The organisation's endpoints.
#[derive(Object)]
pub struct WebhookEndpointList {
    /// Oldest first.
    pub items: Vec<WebhookEndpointView>,
}

/// One attempt at a delivery.
#[derive(Object)]
pub struct WebhookAttemptView {
    /// When.
    pub attempted_at: DateTime<Utc>,
    /// The HTTP status the endpoint answered, if it answered.
    pub status_code: Option<i32>,
    /// How long it took, in milliseconds.
    pub latency_ms: i64,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

impl From<webhook_attempt::Model> for WebhookAttemptView {
    fn from(m: webhook_attempt::Model) -> Self {
        Self {
            attempted_at: m.attempted_at,
            status_code: m.status_code,
            latency_ms: m.latency_ms,
            error: m.error,
        }
    }
}

/// One event sent (or being sent) to an endpoint.
#[derive(Object)]
pub struct WebhookDeliveryView {
    /// Its id: the `webhook-id` header, the same on every attempt.
    pub id: Uuid,
    /// The event.
    pub event: WebhookEvent,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Attempts made.
    pub attempts: i32,
    /// When the next attempt is due (while pending).
    pub next_attempt_at: DateTime<Utc>,
    /// When it was queued (or replayed).
    pub created_at: DateTime<Utc>,
    /// When the endpoint took it.
    pub delivered_at: Option<DateTime<Utc>>,
    /// Every attempt, oldest first.
    pub attempt_log: Vec<WebhookAttemptView>,
}

fn delivery_view(
    d: webhook_delivery::Model,
    attempts: Vec<webhook_attempt::Model>,
) -> WebhookDeliveryView {
    WebhookDeliveryView {
        id: d.id,
        event: crate::domain::parse_stored(&d.event).unwrap_or(WebhookEvent::ReferralStep),
        status: d.status,
        attempts: d.attempts,
        next_attempt_at: d.next_attempt_at,
        created_at: d.created_at,
        delivered_at: d.delivered_at,
        attempt_log: attempts.into_iter().map(Into::into).collect(),
    }
}

/// An endpoint's deliveries.
#[derive(Object)]
pub struct WebhookDeliveryList {
    /// Newest first.
    pub items: Vec<WebhookDeliveryView>,
}

/// Webhooks.
#[derive(Default)]
pub struct WebhooksApi;

#[OpenApi(tag = "ApiTags::Webhooks")]
impl WebhooksApi {
    /// Register an endpoint (admins). Referral events are POSTed to it as
    /// JSON, signed (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
    /// `webhook-signature`), and retried with backoff until it answers 2xx.
    #[oai(path = "/v1/webhooks", method = "post", operation_id = "create_webhook")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        body: Json<CreateWebhookEndpoint>,
    ) -> ApiResult<WebhookCreated> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ManageOrganisation)?;
        let (endpoint, secret) = service::create(
            &state.db,
            &state.config.webhooks,
            &state.webhook_key,
            caller.organisation_id(),
            &body.0.url,
            &body.0.events,
        )
        .await?;
        Ok(WebhookCreated::Created(Json(WebhookEndpointCreated {
            endpoint: endpoint.into(),
            secret,
        })))
    }

    /// List the organisation's endpoints (admins).
    #[oai(path = "/v1/webhooks", method = "get", operation_id = "list_webhooks")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
    ) -> ApiResult<Json<WebhookEndpointList>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ManageOrganisation)?;
        let items = service::list(&state.db, caller.organisation_id()).await?;
        Ok(Json(WebhookEndpointList { items: items.into_iter().map(Into::into).collect() }))
    }

    /// Remove an endpoint (admins): nothing more is sent to it.
    #[oai(path = "/v1/webhooks/:id", method = "delete", operation_id = "delete_webhook")]
    async fn remove(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// The endpoint.
        id: Path<Uuid>,
    ) -> ApiResult<Json<WebhookEndpointList>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ManageOrganisation)?;
        service::remove(&state.db, caller.organisation_id(), id.0).await?;
        let items = service::list(&state.db, caller.organisation_id()).await?;
        Ok(Json(WebhookEndpointList { items: items.into_iter().map(Into::into).collect() }))
    }

    /// An endpoint's latest deliveries, each with every attempt: status,
    /// latency, error (admins).
    #[oai(
        path = "/v1/webhooks/:id/deliveries",
        method = "get",
        operation_id = "list_webhook_deliveries"
    )]
    async fn deliveries(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// The endpoint.
        id: Path<Uuid>,
        /// At most this many, 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u64>>,
    ) -> ApiResult<Json<WebhookDeliveryList>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ManageOrganisation)?;
        let org = caller.organisation_id();
        let found = service::deliveries(&state.db, org, id.0, limit.0.unwrap_or(50)).await?;
        let items = found.into_iter().map(|(d, a)| delivery_view(d, a)).collect();
        Ok(Json(WebhookDeliveryList { items }))
    }

    /// Send a delivery again, now, with the same `webhook-id` (admins): one
    /// that failed, or that the receiver lost. 409 `delivery_pending` while
    /// it is still being attempted.
    #[oai(
        path = "/v1/webhook-deliveries/:id/replay",
        method = "post",
        operation_id = "replay_webhook_delivery"
    )]
    async fn replay(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// The delivery.
        id: Path<Uuid>,
    ) -> ApiResult<Json<WebhookDeliveryView>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ManageOrganisation)?;
        let again = service::replay(&state.db, caller.organisation_id(), id.0).await?;
        Ok(Json(delivery_view(again, Vec::new())))
    }
}
