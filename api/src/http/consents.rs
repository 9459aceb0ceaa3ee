//! People's consents: record one, revoke one, read one, and a person's
//! history (or what was in force at a moment). Reads are audited as reads
//! of the person's record; writes go through the sync engine.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use uuid::Uuid;

use super::{ApiTags, records, security::Credentials};
use crate::{
    caller::RequestMeta,
    domain::Permission,
    error::ApiResult,
    records::consent::{
        ConsentRevocationView, ConsentView, CreateConsent, CreateConsentRevocation,
    },
    service::{
        audit::{self, AuditEntry},
        consents as service,
    },
    state::AppState,
    sync::EntityKind,
};

/// Answer of `POST /v1/consents`.
#[derive(ApiResponse)]
pub enum ConsentCreated {
    /// The new consent.
    #[oai(status = 201)]
    Created(Json<ConsentView>),
    /// A consent with this id exists already (a retried POST).
    #[oai(status = 200)]
    Existing(Json<ConsentView>),
}

/// Answer of `POST /v1/consents/{id}/revocations`.
#[derive(ApiResponse)]
pub enum ConsentRevoked {
    /// The revocation; the consent shows `revoked_at`.
    #[oai(status = 201)]
    Created(Json<ConsentRevocationView>),
    /// A revocation with this id exists already (a retried POST).
    #[oai(status = 200)]
    Existing(Json<ConsentRevocationView>),
}

/// A person's consents and their revocations.
#[derive(Object)]
pub struct ConsentHistory {
    /// The consents, oldest first (with `at`: those in force then).
    pub consents: Vec<ConsentView>,
    /// Every revocation of them, oldest first.
    pub revocations: Vec<ConsentRevocationView>,
}

/// Consents.
#[derive(Default)]
pub struct ConsentsApi;

#[OpenApi(tag = "ApiTags::Records")]
impl ConsentsApi {
    /// Record a person's consent, with a client-generated id. Posting the
    /// same id again answers the stored consent (200).
    #[oai(path = "/v1/consents", method = "post", operation_id = "create_consent")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        body: Json<CreateConsent>,
    ) -> ApiResult<ConsentCreated> {
        let actor = records::actor(&state, &auth, Permission::WriteRecords).await?;
        let id = body.0.id;
        let fields = records::fields_of(&body.0);
        let written = records::create(&state, &actor, EntityKind::Consent, id, fields).await?;
        let existed = written.existed();
        let consent = service::get(written.txn(), &actor, id).await;
        let consent = written.answer(consent, records::id_taken).await?;
        Ok(if existed {
            ConsentCreated::Existing(Json(consent))
        } else {
            ConsentCreated::Created(Json(consent))
        })
    }

    /// Get one consent (audited as a read of its person's record).
    #[oai(path = "/v1/consents/:id", method = "get", operation_id = "get_consent")]
    async fn get(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        /// The consent.
        id: Path<Uuid>,
    ) -> ApiResult<Json<ConsentView>> {
        let (caller, actor) =
            records::caller_and_actor(&state, &auth, Permission::ReadRecords).await?;
        let consent = service::get(&state.reads, &actor, id.0).await?;
        audit::record(
            &state.db,
            &caller,
            Some(&meta.request_id),
            AuditEntry::new("person.consent_read", "person", consent.person_id),
        )
        .await?;
        Ok(Json(consent))
    }

    /// Revoke a consent from `occurred_at` on, with a client-generated id:
    /// the consent shows `revoked_at` (the earliest revocation's time), and
    /// a referral can no longer be sent under it.
    #[oai(path = "/v1/consents/:id/revocations", method = "post", operation_id = "revoke_consent")]
    async fn revoke(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// The consent.
        id: Path<Uuid>,
        body: Json<CreateConsentRevocation>,
    ) -> ApiResult<ConsentRevoked> {
        let actor = records::actor(&state, &auth, Permission::WriteRecords).await?;
        service::get(&state.db, &actor, id.0).await?;
        let revocation_id = body.0.id;
        let mut fields = records::fields_of(&body.0);
        fields.insert("consent_id".into(), serde_json::Value::String(id.0.to_string()));
        let written =
            records::create(&state, &actor, EntityKind::ConsentRevocation, revocation_id, fields)
                .await?;
        let existed = written.existed();
        let revocation = service::get_revocation(written.txn(), &actor, revocation_id).await;
        let revocation = written.answer(revocation, records::id_taken).await?;
        Ok(if existed {
            ConsentRevoked::Existing(Json(revocation))
        } else {
            ConsentRevoked::Created(Json(revocation))
        })
    }

    /// A person's consents and revocations (audited as a read of the
    /// person's record). With `at`, only the consents in force at that
    /// moment: what applied then.
    #[oai(path = "/v1/persons/:id/consents", method = "get", operation_id = "list_person_consents")]
    async fn of_person(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        /// The person.
        id: Path<Uuid>,
        /// A moment (RFC 3339): only the consents in force then.
        at: Query<Option<DateTime<Utc>>>,
    ) -> ApiResult<Json<ConsentHistory>> {
        let (caller, actor) =
            records::caller_and_actor(&state, &auth, Permission::ReadRecords).await?;
        let (consents, revocations) = service::of_person(&state.reads, &actor, id.0, at.0).await?;
        audit::record(
            &state.db,
            &caller,
            Some(&meta.request_id),
            AuditEntry::new("person.consents_read", "person", id.0),
        )
        .await?;
        Ok(Json(ConsentHistory { consents, revocations }))
    }
}
