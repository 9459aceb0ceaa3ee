//! Incidents: list, read, record, delete. Append-only like contacts.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use uuid::Uuid;

use super::{
    ApiTags,
    records::{self, Deleted},
    security::Credentials,
};
use crate::{
    domain::Permission,
    error::ApiResult,
    records::incident::{CreateIncident, IncidentView},
    service::records::{self as service, IncidentFilter},
    state::AppState,
    sync::EntityKind,
};

/// A page of incidents, oldest first.
#[derive(Object)]
pub struct IncidentPage {
    /// The incidents.
    pub items: Vec<IncidentView>,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<Uuid>,
}

/// An incident, with its version as `ETag`.
#[derive(ApiResponse)]
pub enum IncidentFound {
    /// The incident.
    #[oai(status = 200)]
    Ok(
        Json<IncidentView>,
        /// The version, quoted.
        #[oai(header = "ETag")]
        String,
    ),
}

/// Answer of `POST /v1/incidents`.
#[derive(ApiResponse)]
pub enum IncidentCreated {
    /// The new incident.
    #[oai(status = 201)]
    Created(
        Json<IncidentView>,
        /// The version, quoted.
        #[oai(header = "ETag")]
        String,
    ),
    /// An incident with this id exists already (a retried POST).
    #[oai(status = 200)]
    Existing(
        Json<IncidentView>,
        /// The version, quoted.
        #[oai(header = "ETag")]
        String,
    ),
}

/// Incidents.
#[derive(Default)]
pub struct IncidentsApi;

#[OpenApi(tag = "ApiTags::Records")]
impl IncidentsApi {
    /// List incidents in your scope, oldest first (the same scope as
    /// contacts).
    #[oai(path = "/v1/incidents", method = "get", operation_id = "list_incidents")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// Only incidents at this site.
        site_id: Query<Option<Uuid>>,
        /// Only incidents that occurred at or after this time.
        occurred_from: Query<Option<DateTime<Utc>>>,
        /// Only incidents that occurred before this time.
        occurred_to: Query<Option<DateTime<Utc>>>,
        /// The previous page's `next_after` (the last id it showed).
        after: Query<Option<Uuid>>,
        /// Page size, 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u64>>,
    ) -> ApiResult<Json<IncidentPage>> {
        let actor = records::actor(&state, &auth, Permission::ReadRecords).await?;
        let limit = records::page_limit(limit.0);
        let filter = IncidentFilter {
            site_id: site_id.0,
            occurred_from: records::time_filter(occurred_from.0),
            occurred_to: records::time_filter(occurred_to.0),
        };
        let page = service::list_incidents(&state.db, &actor, filter, after.0, limit).await?;
        Ok(Json(IncidentPage { items: page.items, next_after: page.next_after }))
    }

    /// Get one incident.
    #[oai(path = "/v1/incidents/:id", method = "get", operation_id = "get_incident")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// The incident.
        id: Path<Uuid>,
    ) -> ApiResult<IncidentFound> {
        let actor = records::actor(&state, &auth, Permission::ReadRecords).await?;
        let incident = service::get_incident(&state.db, &actor, id.0).await?;
        let etag = records::etag(incident.version);
        Ok(IncidentFound::Ok(Json(incident), etag))
    }

    /// Record an incident, with a client-generated id. Posting the same id
    /// again answers the stored incident (200).
    #[oai(path = "/v1/incidents", method = "post", operation_id = "create_incident")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        body: Json<CreateIncident>,
    ) -> ApiResult<IncidentCreated> {
        let actor = records::actor(&state, &auth, Permission::WriteRecords).await?;
        let id = body.0.id;
        let fields = records::fields_of(&body.0);
        let written = records::create(&state, &actor, EntityKind::Incident, id, fields).await?;
        let existed = written.existed();
        let incident = service::get_incident(written.txn(), &actor, id).await;
        let incident = written.answer(incident, records::id_taken).await?;
        let etag = records::etag(incident.version);
        Ok(if existed {
            IncidentCreated::Existing(Json(incident), etag)
        } else {
            IncidentCreated::Created(Json(incident), etag)
        })
    }

    /// Delete an incident (its recorder, managers, admins). Deleting it
    /// again answers 204 too.
    #[oai(path = "/v1/incidents/:id", method = "delete", operation_id = "delete_incident")]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// The incident.
        id: Path<Uuid>,
    ) -> ApiResult<Deleted> {
        let actor = records::actor(&state, &auth, Permission::WriteRecords).await?;
        records::delete(&state, &actor, EntityKind::Incident, id.0).await?;
        Ok(Deleted::Deleted)
    }
}
