//! The partner inbox: referrals other organisations on Outpost sent to
//! yours, as far as each person's consent allows; the steps you record on
//! them reach the referrer. And the link that makes a partner service of a
//! directory an organisation on Outpost.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use uuid::Uuid;

use super::{ApiTags, records, security, security::Credentials};
use crate::{
    caller::RequestMeta,
    domain::Permission,
    error::ApiResult,
    records::{
        reference::partner_service::PartnerServiceView,
        referral::{CreateReferralStep, inbox::InboxReferralView},
    },
    service::{
        audit::{self, AuditEntry},
        inbox as service, partner_links,
    },
    state::AppState,
    sync::EntityKind,
};

/// Referrals sent to your organisation, newest first.
#[derive(Object)]
pub struct InboxPage {
    /// The referrals.
    pub items: Vec<InboxReferralView>,
}

/// A one-time code that links a partner service of another organisation's
/// directory to yours.
#[derive(Object)]
pub struct PartnerLinkCode {
    /// The code: give it to the other organisation's admin. Shown once.
    pub code: String,
    /// When it lapses unused.
    pub expires_at: DateTime<Utc>,
}

/// Answer of `POST /v1/partner-link-codes`.
#[derive(ApiResponse)]
pub enum PartnerLinkCodeCreated {
    /// The code.
    #[oai(status = 201)]
    Created(Json<PartnerLinkCode>),
}

/// The code a partner's admin gave, to link one of your partner services
/// to their organisation.
#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct LinkPartnerService {
    /// The partner's code (`oplk_...`).
    pub code: String,
}

/// Answer of `POST /v1/inbox/{id}/steps`.
#[derive(ApiResponse)]
pub enum InboxStepRecorded {
    /// The referral with the new step.
    #[oai(status = 201)]
    Created(Json<InboxReferralView>),
}

/// The partner inbox.
#[derive(Default)]
pub struct InboxApi;

#[OpenApi(tag = "ApiTags::Referrals")]
impl InboxApi {
    /// List the referrals other organisations sent to yours, newest first
    /// (audited as `inbox.listed`): each with what the person's consent
    /// allows now (the referral, alias or initials, year of birth, risk
    /// flags; identifiers only under consent to `identifiable_sharing`).
    #[oai(path = "/v1/inbox", method = "get", operation_id = "list_inbox")]
    async fn list(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        /// At most this many, 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u64>>,
    ) -> ApiResult<Json<InboxPage>> {
        let (caller, actor) =
            records::caller_and_actor(&state, &auth, Permission::HandleReferralInbox).await?;
        let items = service::list(&state.reads, &actor, limit.0.unwrap_or(50)).await?;
        if !items.is_empty() {
            let detail = serde_json::json!({ "referrals": items.len() });
            let entry =
                AuditEntry::new("inbox.listed", "referral", Uuid::nil()).with_detail(detail);
            audit::record(&state.db, &caller, Some(&meta.request_id), entry).await?;
        }
        Ok(Json(InboxPage { items }))
    }

    /// Get one referral sent to your organisation (audited as
    /// `inbox.read`). 404 once the person's consent no longer covers it.
    #[oai(path = "/v1/inbox/:id", method = "get", operation_id = "get_inbox_referral")]
    async fn get(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        /// The referral.
        id: Path<Uuid>,
    ) -> ApiResult<Json<InboxReferralView>> {
        let (caller, actor) =
            records::caller_and_actor(&state, &auth, Permission::HandleReferralInbox).await?;
        let referral = service::get(&state.reads, &actor, id.0).await?;
        let entry = AuditEntry::new("inbox.read", "referral", id.0);
        audit::record(&state.db, &caller, Some(&meta.request_id), entry).await?;
        Ok(Json(referral))
    }

    /// Record a step of a referral sent to your organisation, with a
    /// client-generated id: `acknowledged`, `accepted` or `declined` (with a
    /// reason), `appointment_booked` (with its time), `attended` or
    /// `did_not_attend`. The referrer's devices receive it on their next
    /// sync. The lifecycle's rules apply (409 `illegal_step`).
    #[oai(path = "/v1/inbox/:id/steps", method = "post", operation_id = "create_inbox_step")]
    async fn create_step(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// The referral.
        id: Path<Uuid>,
        body: Json<CreateReferralStep>,
    ) -> ApiResult<InboxStepRecorded> {
        let actor = records::actor(&state, &auth, Permission::HandleReferralInbox).await?;
        service::get(&state.db, &actor, id.0).await?;
        let step_id = body.0.id;
        let mut fields = records::fields_of(&body.0);
        fields.insert("referral_id".into(), serde_json::Value::String(id.0.to_string()));
        let written =
            records::create(&state, &actor, EntityKind::ReferralStep, step_id, fields).await?;
        let referral = service::get(written.txn(), &actor, id.0).await;
        let referral = written.answer(referral, records::id_taken).await?;
        Ok(InboxStepRecorded::Created(Json(referral)))
    }

    /// Make a one-time code (valid a week) that another organisation's
    /// admin uses to link a partner service of their directory to your
    /// organisation, so that referrals they send it reach your inbox
    /// (admins).
    #[oai(
        path = "/v1/partner-link-codes",
        method = "post",
        operation_id = "create_partner_link_code"
    )]
    async fn new_code(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
    ) -> ApiResult<PartnerLinkCodeCreated> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ManageOrganisation)?;
        let (code, expires_at) = partner_links::new_code(&state.db, &caller).await?;
        Ok(PartnerLinkCodeCreated::Created(Json(PartnerLinkCode { code, expires_at })))
    }

    /// Link one of your partner services to the organisation on Outpost it
    /// is, with the code its admin gave you (admins): referrals sent to it
    /// under consent reach their inbox, and what was sent already too.
    #[oai(
        path = "/v1/partner-services/:id/link",
        method = "put",
        operation_id = "link_partner_service"
    )]
    async fn link(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// The partner service.
        id: Path<Uuid>,
        body: Json<LinkPartnerService>,
    ) -> ApiResult<Json<PartnerServiceView>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ManageReferenceData)?;
        let linked = partner_links::set_link(&state.db, &caller, id.0, Some(&body.0.code)).await?;
        Ok(Json(linked.into()))
    }

    /// Unlink one of your partner services (admins): its inbox loses what
    /// you had sent it.
    #[oai(
        path = "/v1/partner-services/:id/link",
        method = "delete",
        operation_id = "unlink_partner_service"
    )]
    async fn unlink(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// The partner service.
        id: Path<Uuid>,
    ) -> ApiResult<Json<PartnerServiceView>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ManageReferenceData)?;
        let unlinked = partner_links::set_link(&state.db, &caller, id.0, None).await?;
        Ok(Json(unlinked.into()))
    }
}
