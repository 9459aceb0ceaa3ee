//! Referrals to partner services: list, read, create, edit with `If-Match`,
//! and steps (the status moves only by appended steps).

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
};
use uuid::Uuid;

use super::{ApiTags, records, security::Credentials};
use crate::{
    domain::{Permission, stored_name},
    error::{ApiError, ApiResult},
    records::{
        referral::{
            CreateReferral, CreateReferralStep, ReferralStepView, ReferralView, UpdateReferral,
        },
        vocab::ReferralStatus,
    },
    service::records::{self as service, ReferralFilter},
    state::AppState,
    sync::EntityKind,
};

/// A page of referrals, oldest first.
#[derive(Object)]
pub struct ReferralPage {
    /// The referrals.
    pub items: Vec<ReferralView>,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<Uuid>,
}

/// A referral, with its version as `ETag`.
#[derive(ApiResponse)]
pub enum ReferralFound {
    /// The referral.
    #[oai(status = 200)]
    Ok(
        Json<ReferralView>,
        /// The version, quoted; send it back as `If-Match` to edit.
        #[oai(header = "ETag")]
        String,
    ),
}

/// Answer of `POST /v1/referrals`.
#[derive(ApiResponse)]
pub enum ReferralCreated {
    /// The new referral.
    #[oai(status = 201)]
    Created(
        Json<ReferralView>,
        /// The version, quoted.
        #[oai(header = "ETag")]
        String,
    ),
    /// A referral with this id exists already (a retried POST).
    #[oai(status = 200)]
    Existing(
        Json<ReferralView>,
        /// The version, quoted.
        #[oai(header = "ETag")]
        String,
    ),
}

/// Answer of `POST /v1/referrals/{id}/steps`.
#[derive(ApiResponse)]
pub enum ReferralStepCreated {
    /// The new step.
    #[oai(status = 201)]
    Created(
        Json<ReferralStepView>,
        /// The step's version, quoted (`"1"`; it moves only when the server
        /// flags the step).
        #[oai(header = "ETag")]
        String,
    ),
    /// A step with this id exists already (a retried POST).
    #[oai(status = 200)]
    Existing(
        Json<ReferralStepView>,
        /// The step's version, quoted.
        #[oai(header = "ETag")]
        String,
    ),
}

/// A referral's steps.
#[derive(Object)]
pub struct ReferralStepList {
    /// In the order they happened.
    pub items: Vec<ReferralStepView>,
}

/// Referrals.
#[derive(Default)]
pub struct ReferralsApi;

#[OpenApi(tag = "ApiTags::Records")]
impl ReferralsApi {
    /// List referrals in your scope, oldest first (the same scope as
    /// contacts).
    #[oai(path = "/v1/referrals", method = "get", operation_id = "list_referrals")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// Only referrals of this person.
        person_id: Query<Option<Uuid>>,
        /// Only referrals in this status.
        status: Query<Option<ReferralStatus>>,
        /// The previous page's `next_after` (the last id it showed).
        after: Query<Option<Uuid>>,
        /// Page size, 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u64>>,
    ) -> ApiResult<Json<ReferralPage>> {
        let actor = records::actor(&state, &auth, Permission::ReadRecords).await?;
        let limit = records::page_limit(limit.0);
        let filter =
            ReferralFilter { person_id: person_id.0, status: status.0.map(|s| stored_name(&s)) };
        let page = service::list_referrals(&state.db, &actor, filter, after.0, limit).await?;
        Ok(Json(ReferralPage { items: page.items, next_after: page.next_after }))
    }

    /// Get one referral.
    #[oai(path = "/v1/referrals/:id", method = "get", operation_id = "get_referral")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// The referral.
        id: Path<Uuid>,
    ) -> ApiResult<ReferralFound> {
        let actor = records::actor(&state, &auth, Permission::ReadRecords).await?;
        let referral = service::get_referral(&state.db, &actor, id.0).await?;
        let etag = records::etag(referral.version);
        Ok(ReferralFound::Ok(Json(referral), etag))
    }

    /// Record a referral (and its first step), with a client-generated id.
    /// Posting the same id again answers the stored referral (200).
    #[oai(path = "/v1/referrals", method = "post", operation_id = "create_referral")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        body: Json<CreateReferral>,
    ) -> ApiResult<ReferralCreated> {
        let actor = records::actor(&state, &auth, Permission::WriteRecords).await?;
        let id = body.0.id;
        let fields = records::fields_of(&body.0);
        let written = records::create(&state, &actor, EntityKind::Referral, id, fields).await?;
        let existed = written.existed();
        let referral = service::get_referral(written.txn(), &actor, id).await;
        let referral = written.answer(referral, records::id_taken).await?;
        let etag = records::etag(referral.version);
        Ok(if existed {
            ReferralCreated::Existing(Json(referral), etag)
        } else {
            ReferralCreated::Created(Json(referral), etag)
        })
    }

    /// Edit a referral. `If-Match` must carry its current `ETag`; a stale
    /// one answers 412 `version_mismatch` and changes nothing.
    #[oai(path = "/v1/referrals/:id", method = "patch", operation_id = "update_referral")]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// The referral.
        id: Path<Uuid>,
        /// Required: the `ETag` the change was made from, the version quoted
        /// (`"3"`; a bare `3` is taken too). Without it the answer is 400
        /// `if_match_required`; any other value (`*`, a weak or a list of
        /// tags) is 400 `invalid_if_match`.
        #[oai(
            name = "If-Match",
            validator(pattern = r#"^("[1-9][0-9]{0,17}"|[1-9][0-9]{0,17})$"#)
        )]
        if_match: Header<String>,
        body: Json<UpdateReferral>,
    ) -> ApiResult<ReferralFound> {
        let actor = records::actor(&state, &auth, Permission::WriteRecords).await?;
        let base = records::if_match(&if_match.0)?;
        let fields = records::fields_of(&body.0);
        let written =
            records::update(&state, &actor, EntityKind::Referral, id.0, base, fields).await?;
        let referral = service::get_referral(written.txn(), &actor, id.0).await;
        let referral = written.answer(referral, || ApiError::not_found("referral")).await?;
        let etag = records::etag(referral.version);
        Ok(ReferralFound::Ok(Json(referral), etag))
    }

    /// List a referral's steps in the order they happened (`occurred_at`,
    /// then id): the status is the last one's that is not flagged.
    #[oai(path = "/v1/referrals/:id/steps", method = "get", operation_id = "list_referral_steps")]
    async fn list_steps(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// The referral.
        id: Path<Uuid>,
    ) -> ApiResult<Json<ReferralStepList>> {
        let actor = records::actor(&state, &auth, Permission::ReadRecords).await?;
        let items = service::list_steps(&state.reads, &actor, id.0).await?;
        Ok(Json(ReferralStepList { items }))
    }

    /// Record a step of a referral, with a client-generated id. It must
    /// follow the referral's status at its `occurred_at` (409
    /// `illegal_step` naming both otherwise: `closed` then `sent`, `draft`
    /// then `attended`); a decline needs a `reason`, a booking its
    /// `appointment_at`, a close its `outcome`. A step dated before others
    /// is placed among them: any it makes illegal are kept and flagged.
    #[oai(path = "/v1/referrals/:id/steps", method = "post", operation_id = "create_referral_step")]
    async fn create_step(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// The referral.
        id: Path<Uuid>,
        body: Json<CreateReferralStep>,
    ) -> ApiResult<ReferralStepCreated> {
        let actor = records::actor(&state, &auth, Permission::WriteRecords).await?;
        service::referral_row(&state.db, &actor, id.0).await?;
        let step_id = body.0.id;
        let mut fields = records::fields_of(&body.0);
        fields.insert("referral_id".into(), serde_json::Value::String(id.0.to_string()));
        let written =
            records::create(&state, &actor, EntityKind::ReferralStep, step_id, fields).await?;
        let existed = written.existed();
        let step = service::get_step(written.txn(), &actor, id.0, step_id).await;
        let step = written.answer(step, records::id_taken).await?;
        let etag = records::etag(step.version);
        Ok(if existed {
            ReferralStepCreated::Existing(Json(step), etag)
        } else {
            ReferralStepCreated::Created(Json(step), etag)
        })
    }
}
