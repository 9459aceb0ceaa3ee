//! Regression tests for abuse of the API: identifiers leaking to workers,
//! push escaping the REST scope, races on unique keys, unbounded memory at
//! login, NUL bytes, made-up methods, reused mutation ids and oversized
//! requests. One binary, so the suite links once. Each test talks only to
//! 127.0.0.1, is bounded in time, and prints `abuse figures:` where it
//! measures something.

mod abuse {
    mod leaks;
    mod memory;
    mod nul;
    mod protocol;
    mod scope;
    mod storms;
    mod support;
}
