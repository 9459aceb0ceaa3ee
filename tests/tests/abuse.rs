//! Regression tests for abuse of the API: identifiers leaking to workers,
//! push escaping the REST scope, races on unique keys, unbounded memory at
//! login, NUL bytes, made-up methods, reused mutation ids, oversized and
//! stalled requests, large racing batches, erasure, referrals moving
//! between sites, spoofed forwarded addresses and out-of-range values. One
//! binary, so the suite links once. Each test talks only to 127.0.0.1, is
//! bounded in time, and prints `abuse figures:` where it measures
//! something.

mod abuse {
    mod batches;
    mod bounds;
    mod erasure;
    mod leaks;
    mod logins;
    mod memory;
    mod moves;
    mod nul;
    mod protocol;
    mod scope;
    mod storms;
    mod support;
    mod unique_keys;
}
