//! Delivering queued webhooks. Each instance looks for deliveries due every
//! `poll_ms`; it claims one by setting its lease only if no other instance
//! holds it (one conditional update, the same on SQLite and Postgres), so
//! two instances never send the same attempt. A 2xx answer delivers it;
//! anything else (a status, a timeout, a refused connection) is logged as
//! an attempt and retried after an exponential delay with jitter, until
//! `retry_for_secs` have passed since it was queued.

use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use outpost_entity::{webhook_attempt, webhook_delivery, webhook_endpoint};
use rand::Rng;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set, sea_query::Expr,
};
use uuid::Uuid;

use super::{check_url, signing};
use crate::config::WebhookConfig;

/// What delivering needs.
#[derive(Clone)]
pub struct Deliverer {
    /// Where the queue is.
    pub db: DatabaseConnection,
    /// The HTTP client (no redirects: a 3xx is an answer, not a new target).
    pub client: reqwest::Client,
    /// The key endpoints' secrets derive from.
    pub key: [u8; 32],
    /// Limits and retries.
    pub config: WebhookConfig,
}

impl Deliverer {
    /// A deliverer for `config`.
    pub fn new(db: DatabaseConnection, key: [u8; 32], config: WebhookConfig) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(StdDuration::from_millis(config.timeout_ms.max(1)))
            .build()
            .unwrap_or_default();
        Self { db, client, key, config }
    }

    /// Attempts every delivery due at `now`; answers how many attempts it
    /// made.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<u64, DbErr> {
        let mut made = 0;
        loop {
            let due = webhook_delivery::Entity::find()
                .filter(webhook_delivery::Column::Status.eq("pending"))
                .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
                .filter(free(now))
                .order_by_asc(webhook_delivery::Column::NextAttemptAt)
                .limit(20)
                .all(&self.db)
                .await?;
            if due.is_empty() {
                return Ok(made);
            }
            let mut claimed_any = false;
            for delivery in due {
                if !self.claim(delivery.id, now).await? {
                    continue;
                }
                claimed_any = true;
                self.attempt(delivery).await?;
                made += 1;
            }
            if !claimed_any {
                return Ok(made);
            }
        }
    }

    /// Takes the lease on one delivery if nobody holds it.
    async fn claim(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, DbErr> {
        let lease =
            now + Duration::milliseconds(self.config.timeout_ms as i64) + Duration::seconds(30);
        let taken = webhook_delivery::Entity::update_many()
            .col_expr(webhook_delivery::Column::LockedUntil, Expr::value(lease))
            .filter(webhook_delivery::Column::Id.eq(id))
            .filter(webhook_delivery::Column::Status.eq("pending"))
            .filter(free(now))
            .exec(&self.db)
            .await?;
        Ok(taken.rows_affected == 1)
    }

    /// One attempt, logged; the delivery delivered, rescheduled or failed.
    async fn attempt(&self, delivery: webhook_delivery::Model) -> Result<(), DbErr> {
        let endpoint = webhook_endpoint::Entity::find_by_id(delivery.endpoint_id)
            .filter(webhook_endpoint::Column::OrganisationId.eq(delivery.organisation_id))
            .one(&self.db)
            .await?;
        let started = Instant::now();
        let answer = match &endpoint {
            Some(e) if e.disabled_at.is_none() => self.send(e, &delivery).await,
            _ => Err("the endpoint was removed".to_owned()),
        };
        let latency_ms = started.elapsed().as_millis() as i64;
        let now = Utc::now();
        let (status_code, error) = match &answer {
            Ok(code) if (200..300).contains(code) => (Some(*code), None),
            Ok(code) => (Some(*code), Some(format!("answered {code}"))),
            Err(why) => (None, Some(why.clone())),
        };
        webhook_attempt::ActiveModel {
            id: Set(Uuid::now_v7()),
            organisation_id: Set(delivery.organisation_id),
            delivery_id: Set(delivery.id),
            attempted_at: Set(now),
            status_code: Set(status_code.map(i32::from)),
            latency_ms: Set(latency_ms),
            error: Set(error.clone()),
        }
        .insert(&self.db)
        .await?;
        let attempts = delivery.attempts + 1;
        let removed = endpoint.is_none_or(|e| e.disabled_at.is_some());
        let created_at = delivery.created_at;
        let mut row = delivery.into_active_model();
        row.attempts = Set(attempts);
        row.locked_until = Set(None);
        if error.is_none() {
            row.status = Set("delivered".into());
            row.delivered_at = Set(Some(now));
        } else {
            let next = now + self.backoff(attempts);
            let give_up = created_at + Duration::seconds(self.config.retry_for_secs as i64);
            if removed || next > give_up {
                row.status = Set("failed".into());
            } else {
                row.next_attempt_at = Set(next);
            }
        }
        row.update(&self.db).await?;
        Ok(())
    }

    /// The delay before attempt `attempts + 1`: the base doubled each time,
    /// at most an hour, plus up to half again at random (so endpoints that
    /// failed together are not all retried together).
    fn backoff(&self, attempts: i32) -> Duration {
        let base = self.config.retry_base_ms.max(1);
        let doubled = base.saturating_mul(1u64 << (attempts.clamp(1, 30) - 1) as u32);
        let delay = doubled.min(3_600_000);
        let jitter = rand::rng().random_range(0..=delay / 2);
        Duration::milliseconds((delay + jitter) as i64)
    }

    /// POSTs the delivery, signed; answers the status or why none came.
    async fn send(
        &self,
        endpoint: &webhook_endpoint::Model,
        delivery: &webhook_delivery::Model,
    ) -> Result<u16, String> {
        // Checked again: the operator may have withdrawn the host since.
        let url = check_url(&endpoint.url, &self.config.allowed_hosts)?;
        let secret = signing::endpoint_secret(&self.key, endpoint.id);
        let id = delivery.id.to_string();
        let timestamp = Utc::now().timestamp();
        let signature = signing::signature(&secret, &id, timestamp, &delivery.payload);
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(delivery.payload.clone())
            .send()
            .await;
        match sent {
            Ok(answer) => Ok(answer.status().as_u16()),
            Err(err) if err.is_timeout() => Err("timed out".into()),
            Err(err) if err.is_connect() => Err("could not connect".into()),
            Err(_) => Err("the request failed".into()),
        }
    }
}

/// Not leased, or its lease ran out (an instance that stopped mid-attempt).
fn free(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(webhook_delivery::Column::LockedUntil.is_null())
        .add(webhook_delivery::Column::LockedUntil.lt(now))
}

/// Delivers what is due every `poll_ms`, for as long as the server runs.
pub fn spawn(deliverer: Deliverer) {
    tokio::spawn(async move {
        let every = StdDuration::from_millis(deliverer.config.poll_ms.max(10));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(err) = deliverer.run_once(Utc::now()).await {
                tracing::warn!(error = %err, "webhook deliveries failed; next poll again");
            }
        }
    });
}
