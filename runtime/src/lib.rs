//! Executes a checked pipec plan: the HTTP API producing events into Kafka
//! (this crate's `api` and `bus`), and where the plan's files live.
//!
//! Build, then run: [`Pipeline::build`] makes every piece from the plan
//! without starting anything, so `pipec check` could go that far; only
//! [`Pipeline::serve`] binds ports and spawns tasks.

pub mod api;
pub mod backlog;
pub mod bus;
pub mod catalog;
pub mod compact;
pub mod event;
pub mod health;
pub mod memory_bus;
pub mod metastore;
pub mod metrics;
mod pipeline;
pub mod pipeline_test;
pub mod sink;
pub mod sql;
pub mod storage;
pub mod written;

pub use pipeline::{BoundPipeline, Pipeline, Role, RunError, RunSettings, SinkFailurePolicy};

/// This machine's name, for naming a process to operators (checkpoint
/// owners, lock holders).
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "an unknown host".into())
}
