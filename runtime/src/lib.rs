//! Executes a checked pipec plan. (The HTTP API, the Kafka bus and the sinks
//! land here; for now it resolves where a plan's files live.)

pub mod layout;
