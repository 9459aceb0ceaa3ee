//! Outpost: the server behind the phones of outreach teams.
//!
//! `http` is the surface (thin handlers, the spec), `service` the domain
//! logic, `session` and `cache` the hot state, `db` the storage connection.

pub mod allocator;
pub mod cache;
pub mod caller;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod http;
pub mod metrics;
mod named_type;
pub mod ops;
pub mod records;
pub mod secrets;
pub mod server;
pub mod service;
pub mod session;
pub mod state;
pub mod stock;
pub mod sync;
pub mod telemetry;
pub mod text;
pub mod webhooks;
