//! The error statuses each operation declares: the ones it can answer,
//! from what it takes, not the same list on every operation (the error
//! type is shared, so poem-openapi would put all of its statuses on each).
//! The test client checks every answer the suite receives against the
//! operation's declaration (`tests/src/lib.rs`, `TestApp::call`).

use poem::http::Method;
use poem_openapi::registry::{MetaOperation, MetaParamIn};

/// Whether `op` can answer `status` (an error status; successes are the
/// operation's own).
pub fn answers(op: &MetaOperation, status: u16) -> bool {
    let id = op.operation_id.unwrap_or_default();
    let secured = !op.security.is_empty();
    let body = op.request.is_some();
    let takes_input = body || !op.params.is_empty();
    let names_a_record = op.params.iter().any(|p| p.in_type == MetaParamIn::Path);
    let if_match =
        op.params.iter().any(|p| p.in_type == MetaParamIn::Header && p.name == "If-Match");
    let changes = op.method != Method::GET;
    match status {
        // Malformed input, or input that breaks a rule (422).
        400 | 422 => takes_input,
        // Credentials missing or wrong; at login, a wrong password.
        401 => secured || id == "login",
        // A role without the permission; at login, a device registered to
        // someone else or revoked.
        403 => secured || id == "login",
        // A record that is not there, or not the caller's to see.
        404 => names_a_record,
        // The change clashes with what is stored (a taken id or code, an
        // edit of something archived, a conflict already resolved).
        409 => changes && (body || names_a_record) && id != "logout",
        // A pull cursor from before the feed's horizon.
        410 => id == "sync_pull",
        // An edit from a version that is no longer current.
        412 => if_match,
        // A body too large, or not JSON.
        413 | 415 => body,
        // Too many logins from one place or for one account.
        429 => id == "login",
        // The server failed; the database or the password hasher is busy.
        500 => true,
        503 => id != "get_health",
        _ => false,
    }
}
