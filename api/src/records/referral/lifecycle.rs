//! The referral lifecycle: which status may follow which, and what a
//! referral's steps add up to when walked in `occurred_at` order (then
//! id). Pure: the store reads the steps, this decides.
//!
//! draft → sent → acknowledged → accepted | declined; accepted →
//! appointment booked → attended | did not attend (a booking may be made
//! again after either, or rebooked); closed (with an outcome) once the
//! partner has answered; withdrawn (by the referrer) or expired (by the
//! server) from any open state. Closed, withdrawn and expired are final.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::records::vocab::ReferralStatus::{self, *};

/// Whether a referral may start (be created) in `status`.
pub fn may_start(status: ReferralStatus) -> bool {
    matches!(status, Draft | Sent)
}

/// Whether the referral is still open: it can be withdrawn or expire.
pub fn is_open(status: ReferralStatus) -> bool {
    matches!(status, Draft | Sent | Acknowledged | Accepted | AppointmentBooked | DidNotAttend)
}

/// Whether the referral waits for the partner's answer: it can be overdue
/// (only while `sent`) and expire (while `sent` or `acknowledged`).
pub fn awaits_answer(status: ReferralStatus) -> bool {
    matches!(status, Sent | Acknowledged)
}

/// Whether `to` may follow `from`.
pub fn may_follow(from: ReferralStatus, to: ReferralStatus) -> bool {
    match to {
        Draft | Sent => from == Draft && to == Sent,
        Acknowledged => from == Sent,
        Accepted | Declined => matches!(from, Sent | Acknowledged),
        AppointmentBooked => matches!(from, Accepted | AppointmentBooked | Attended | DidNotAttend),
        Attended | DidNotAttend => from == AppointmentBooked,
        Closed => matches!(
            from,
            Acknowledged | Accepted | Declined | AppointmentBooked | Attended | DidNotAttend
        ),
        Withdrawn => is_open(from),
        Expired => awaits_answer(from),
    }
}

/// A step as the walk needs it.
#[derive(Debug, Clone)]
pub struct Step {
    /// Its id (the tie-break after `occurred_at`).
    pub id: Uuid,
    /// The status it moves to.
    pub status: ReferralStatus,
    /// When (device time).
    pub occurred_at: DateTime<Utc>,
    /// A booking's appointment time.
    pub appointment_at: Option<DateTime<Utc>>,
}

/// What the steps add up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walked {
    /// The status after the last step that follows legally.
    pub status: ReferralStatus,
    /// When that step happened.
    pub status_at: DateTime<Utc>,
    /// For each step (in the order given), why it does not follow the
    /// steps before it, or `None` when it does.
    pub flags: Vec<Option<String>>,
    /// The first legal `sent`.
    pub sent_at: Option<DateTime<Utc>>,
    /// The partner's first answer after sending (acknowledged, accepted or
    /// declined).
    pub answered_at: Option<DateTime<Utc>>,
    /// The first legal `accepted`.
    pub accepted_at: Option<DateTime<Utc>>,
    /// The appointment time of the first legal booking.
    pub first_appointment_at: Option<DateTime<Utc>>,
}

impl Walked {
    /// Seconds from sending to `at`, when both are known.
    pub fn seconds_since_sent(&self, at: Option<DateTime<Utc>>) -> Option<i64> {
        Some((at? - self.sent_at?).num_seconds())
    }
}

/// Why `to` may not follow `from` (`None`: the referral had no step yet).
pub fn refusal(from: Option<ReferralStatus>, to: ReferralStatus) -> String {
    let to = crate::domain::stored_name(&to);
    match from {
        None => format!("a referral cannot begin `{to}`: it begins `draft` or `sent`"),
        Some(from) => {
            let from = crate::domain::stored_name(&from);
            format!("`{to}` cannot follow `{from}`")
        }
    }
}

/// Walks `steps`, sorted by `occurred_at` then id: each that follows the
/// status so far legally moves it; one that does not is flagged and
/// skipped, never dropped. `steps` must not be empty.
pub fn walk(steps: &[Step]) -> Walked {
    let mut status: Option<(ReferralStatus, DateTime<Utc>)> = None;
    let mut walked = Walked {
        status: steps[0].status,
        status_at: steps[0].occurred_at,
        flags: Vec::with_capacity(steps.len()),
        sent_at: None,
        answered_at: None,
        accepted_at: None,
        first_appointment_at: None,
    };
    for step in steps {
        let from = status.map(|(s, _)| s);
        let legal = match from {
            None => may_start(step.status),
            Some(from) => may_follow(from, step.status),
        };
        if !legal {
            walked.flags.push(Some(refusal(from, step.status)));
            continue;
        }
        walked.flags.push(None);
        status = Some((step.status, step.occurred_at));
        let at = Some(step.occurred_at);
        match step.status {
            Sent => walked.sent_at = walked.sent_at.or(at),
            Acknowledged | Declined => walked.answered_at = walked.answered_at.or(at),
            Accepted => {
                walked.answered_at = walked.answered_at.or(at);
                walked.accepted_at = walked.accepted_at.or(at);
            }
            AppointmentBooked => {
                walked.first_appointment_at = walked.first_appointment_at.or(step.appointment_at)
            }
            _ => {}
        }
    }
    if let Some((s, at)) = status {
        walked.status = s;
        walked.status_at = at;
    }
    walked
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const ALL: [ReferralStatus; 11] = [
        Draft,
        Sent,
        Acknowledged,
        Accepted,
        Declined,
        AppointmentBooked,
        Attended,
        DidNotAttend,
        Closed,
        Withdrawn,
        Expired,
    ];

    fn step(minute: u32, status: ReferralStatus) -> Step {
        Step {
            id: Uuid::from_u128(u128::from(minute)),
            status,
            occurred_at: Utc.with_ymd_and_hms(2026, 12, 1, 10, minute, 0).unwrap(),
            appointment_at: (status == AppointmentBooked)
                .then(|| Utc.with_ymd_and_hms(2026, 12, 8, 9, minute, 0).unwrap()),
        }
    }

    #[test]
    fn final_states_are_final() {
        for from in [Closed, Withdrawn, Expired] {
            for to in ALL {
                assert!(!may_follow(from, to), "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn the_issue_s_two_examples_are_illegal() {
        assert!(!may_follow(Closed, Sent));
        assert!(!may_follow(Draft, Attended));
    }

    #[test]
    fn a_late_step_flags_what_no_longer_follows() {
        // Sent at 10:01, accepted at 10:05; a withdrawal at 10:03 arrives
        // late: the acceptance no longer follows.
        let steps = [step(0, Draft), step(1, Sent), step(3, Withdrawn), step(5, Accepted)];
        let walked = walk(&steps);
        assert_eq!(walked.status, Withdrawn);
        assert_eq!(walked.flags, vec![None, None, None, Some(refusal(Some(Withdrawn), Accepted))]);
        assert_eq!(walked.sent_at, Some(steps[1].occurred_at));
        assert_eq!(walked.answered_at, None, "the flagged acceptance answers nothing");
    }

    #[test]
    fn times_come_from_the_first_legal_steps() {
        let steps = [
            step(0, Draft),
            step(2, Sent),
            step(10, Acknowledged),
            step(20, Accepted),
            step(30, AppointmentBooked),
            step(40, DidNotAttend),
            step(45, AppointmentBooked),
        ];
        let walked = walk(&steps);
        assert_eq!(walked.status, AppointmentBooked);
        assert_eq!(walked.seconds_since_sent(walked.answered_at), Some(8 * 60));
        assert_eq!(walked.seconds_since_sent(walked.accepted_at), Some(18 * 60));
        assert_eq!(walked.first_appointment_at, steps[4].appointment_at);
        assert!(walked.flags.iter().all(Option::is_none));
    }
}
