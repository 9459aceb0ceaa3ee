//! What managers watch over referrals: the overdue ones, the steps the
//! server flagged, and the organisation's deadlines per urgency.

use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::{ApiTags, records, security, security::Credentials};
use crate::{
    domain::Permission,
    error::ApiResult,
    records::{
        referral::{ReferralStepView, ReferralView, deadlines::Deadline},
        vocab::Urgency,
    },
    service::referral_oversight as service,
    state::AppState,
};

/// A referral still unanswered past its deadline to respond.
#[derive(Object)]
pub struct OverdueReferral {
    /// The referral (`respond_by` is the deadline it missed).
    pub referral: ReferralView,
    /// Seconds past `respond_by`, at the time of asking.
    pub late_by_seconds: i64,
}

/// Overdue referrals, the most overdue first.
#[derive(Object)]
pub struct OverdueReferralList {
    /// The referrals.
    pub items: Vec<OverdueReferral>,
}

/// Flagged steps, the most recent first.
#[derive(Object)]
pub struct FlaggedStepList {
    /// The steps; `flag` says why each no longer follows.
    pub items: Vec<ReferralStepView>,
}

/// The deadlines of referrals of one urgency.
#[derive(Object)]
pub struct ReferralDeadlineView {
    /// The urgency.
    pub urgency: Urgency,
    /// Minutes from sending to the partner's first answer; past it, a
    /// referral still `sent` is overdue.
    pub respond_within_minutes: i64,
    /// Minutes from sending after which a referral still unanswered (`sent`
    /// or `acknowledged`) expires.
    pub expire_after_minutes: i64,
    /// 0 while the default applies, then one more at each change.
    pub version: i64,
}

impl ReferralDeadlineView {
    fn of(urgency: Urgency, deadline: Deadline, version: i64) -> Self {
        Self {
            urgency,
            respond_within_minutes: deadline.respond_within.num_minutes(),
            expire_after_minutes: deadline.expire_after.num_minutes(),
            version,
        }
    }
}

/// Every urgency's deadlines.
#[derive(Object)]
pub struct ReferralDeadlineList {
    /// Most urgent first.
    pub items: Vec<ReferralDeadlineView>,
}

/// New deadlines for one urgency (admins).
#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct SetReferralDeadline {
    /// Minutes to respond, 1 to 525,600 (a year).
    pub respond_within_minutes: i64,
    /// Minutes to expiry, from `respond_within_minutes` to 525,600.
    pub expire_after_minutes: i64,
}

/// Oversight of referrals.
#[derive(Default)]
pub struct ReferralOversightApi;

#[OpenApi(tag = "ApiTags::Referrals")]
impl ReferralOversightApi {
    /// List referrals still `sent` past their deadline to respond, in your
    /// scope, the most overdue first, with how late each is (managers and
    /// admins). The referrer's devices receive the same referral, marked
    /// with `overdue_at`, when the server's deadline job finds it.
    #[oai(path = "/v1/referrals/overdue", method = "get", operation_id = "list_overdue_referrals")]
    async fn overdue(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// At most this many, 1 to 500 (default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u64>>,
    ) -> ApiResult<Json<OverdueReferralList>> {
        let actor = records::actor(&state, &auth, Permission::OverseeReferrals).await?;
        let now = state.clock.now();
        let found = service::overdue(&state.reads, &actor, now, limit.0.unwrap_or(100)).await?;
        let items = found
            .into_iter()
            .map(|o| OverdueReferral {
                referral: o.referral,
                late_by_seconds: o.late_by.num_seconds(),
            })
            .collect();
        Ok(Json(OverdueReferralList { items }))
    }

    /// List the steps the server flagged in your scope, the most recent
    /// first (managers and admins): a step recorded earlier but synced later
    /// came before each, and it no longer follows. They are kept and skipped
    /// by the status; a manager decides what happened.
    #[oai(
        path = "/v1/referrals/flagged-steps",
        method = "get",
        operation_id = "list_flagged_referral_steps"
    )]
    async fn flagged_steps(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// At most this many, 1 to 500 (default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u64>>,
    ) -> ApiResult<Json<FlaggedStepList>> {
        let actor = records::actor(&state, &auth, Permission::OverseeReferrals).await?;
        let items = service::flagged_steps(&state.reads, &actor, limit.0.unwrap_or(100)).await?;
        Ok(Json(FlaggedStepList { items }))
    }

    /// List the organisation's referral deadlines, every urgency.
    #[oai(
        path = "/v1/referral-deadlines",
        method = "get",
        operation_id = "list_referral_deadlines"
    )]
    async fn deadlines(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
    ) -> ApiResult<Json<ReferralDeadlineList>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ReadDirectory)?;
        let all = service::deadlines(&state.db, caller.organisation_id()).await?;
        let items = all.into_iter().map(|(u, d, v)| ReferralDeadlineView::of(u, d, v)).collect();
        Ok(Json(ReferralDeadlineList { items }))
    }

    /// Set the deadlines of one urgency (admins). They apply to referrals
    /// sent from now on.
    #[oai(
        path = "/v1/referral-deadlines/:urgency",
        method = "put",
        operation_id = "set_referral_deadline"
    )]
    async fn set_deadline(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// The urgency.
        urgency: Path<Urgency>,
        body: Json<SetReferralDeadline>,
    ) -> ApiResult<Json<ReferralDeadlineView>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ManageOrganisation)?;
        let (deadline, version) = service::set_deadline(
            &state.db,
            caller.organisation_id(),
            urgency.0,
            body.0.respond_within_minutes,
            body.0.expire_after_minutes,
        )
        .await?;
        Ok(Json(ReferralDeadlineView::of(urgency.0, deadline, version)))
    }
}
