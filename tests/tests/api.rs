//! Black-box tests of the HTTP API against spawned servers. One binary, so
//! the suite links once.

mod api {
    mod api_keys;
    mod audit;
    mod auth;
    mod closed_bodies;
    mod conformance;
    mod consent;
    mod consistency;
    mod cursor_fuzz;
    mod drift;
    mod errors;
    mod examples;
    mod inbox;
    mod naloxone;
    mod plans;
    mod reads;
    mod records;
    mod reference;
    mod referrals;
    mod rest_writes;
    mod roles;
    mod schema_rules;
    mod sessions;
    mod sites;
    mod spec;
    mod stock;
    mod sync;
    mod sync_guarantees;
    mod system;
    mod tenancy;
    mod typed_push;
    mod users;
    mod webhooks;
}
