//! Operational tools, run from the command line or at start-up rather
//! than by API callers: the consistency check (`outpost admin check`) and
//! the demo organisation (`outpost serve --demo`).

pub mod consistency;
pub mod demo;
