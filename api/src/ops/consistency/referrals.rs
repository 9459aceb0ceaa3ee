//! Referrals and consent: each referral holds what its steps walked in
//! time order give (status, flags, sent time), and each consent's
//! `revoked_at` is its earliest revocation.

use std::collections::BTreeMap;

use outpost_entity::{referral, referral_step};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::{Report, count};
use crate::records::referral::lifecycle;

/// Referrals read per round, so a large table is never held whole.
const PAGE: u64 = 1000;

pub(super) async fn check(db: &DatabaseConnection, report: &mut Report) -> Result<(), DbErr> {
    let (mut status, mut flags) = (0, 0);
    let mut after = Uuid::nil();
    loop {
        let referrals = referral::Entity::find()
            .filter(referral::Column::Id.gt(after))
            .order_by_asc(referral::Column::Id)
            .limit(PAGE)
            .all(db)
            .await?;
        let Some(last) = referrals.last() else { break };
        after = last.id;
        let mut steps: BTreeMap<Uuid, Vec<referral_step::Model>> = BTreeMap::new();
        let ids: Vec<Uuid> = referrals.iter().map(|r| r.id).collect();
        for step in referral_step::Entity::find()
            .filter(referral_step::Column::ReferralId.is_in(ids))
            .all(db)
            .await?
        {
            steps.entry(step.referral_id).or_default().push(step);
        }
        for referral in &referrals {
            let mut own: Vec<_> = steps
                .remove(&referral.id)
                .unwrap_or_default()
                .into_iter()
                .filter(|s| s.organisation_id == referral.organisation_id)
                .collect();
            if own.is_empty() {
                status += 1;
                continue;
            }
            own.sort_by_key(|s| (s.occurred_at, s.id));
            let walked = lifecycle::walk(
                &own.iter()
                    .map(|s| lifecycle::Step {
                        id: s.id,
                        status: crate::domain::parse_stored(&s.status)
                            .unwrap_or(crate::records::vocab::ReferralStatus::Draft),
                        occurred_at: s.occurred_at,
                        appointment_at: s.appointment_at,
                    })
                    .collect::<Vec<_>>(),
            );
            let stored_status = crate::domain::stored_name(&walked.status);
            if referral.status != stored_status
                || referral.status_at != walked.status_at
                || referral.sent_at != walked.sent_at
            {
                status += 1;
            }
            flags += own.iter().zip(&walked.flags).filter(|(s, f)| s.flag != **f).count() as u64;
        }
    }
    report.push(
        "referrals.status_follows_steps",
        "a referral's status, status time and sent time are what its steps give, walked in time order",
        status,
    );
    report.push(
        "referrals.steps_flagged",
        "a step is flagged exactly when it does not follow the steps before it",
        flags,
    );
    let n = count(
        db,
        "SELECT COUNT(*) AS n FROM consents c WHERE CASE \
         WHEN c.revoked_at IS NULL THEN EXISTS (SELECT 1 FROM consent_revocations r \
         WHERE r.organisation_id = c.organisation_id AND r.consent_id = c.id) \
         ELSE NOT EXISTS (SELECT 1 FROM consent_revocations r \
         WHERE r.organisation_id = c.organisation_id AND r.consent_id = c.id \
         AND r.occurred_at = c.revoked_at) OR EXISTS (SELECT 1 FROM consent_revocations r \
         WHERE r.organisation_id = c.organisation_id AND r.consent_id = c.id \
         AND r.occurred_at < c.revoked_at) END",
    )
    .await?;
    report.push(
        "consents.revoked_at_earliest",
        "a consent's revoked_at is its earliest revocation's time, and none without one",
        n,
    );
    let n = count(
        db,
        "SELECT COUNT(*) AS n FROM referral_shares s WHERE s.ended_at IS NULL AND NOT EXISTS \
         (SELECT 1 FROM referrals r JOIN partner_services p ON p.id = r.partner_service_id \
         AND p.organisation_id = r.organisation_id WHERE r.id = s.referral_id \
         AND r.organisation_id = s.referrer_organisation_id AND r.deleted_at IS NULL \
         AND p.linked_organisation_id = s.organisation_id)",
    )
    .await?;
    report.push(
        "sharing.live_shares_linked",
        "a partner's inbox holds only live referrals sent to a service linked to it",
        n,
    );
    Ok(())
}
