//! Shared crate of the URL shortener's functions.
//!
//! Data flows one way: an API Gateway event is parsed into domain types (`domain`), the
//! caller is identified (`auth`), the store is asked (`store`, the only module that speaks
//! DynamoDB), and the domain result or error becomes a response (`http`, the only place
//! that picks statuses). `runtime` wires a function together in one call.

pub mod auth;
pub mod cache;
pub mod config;
pub mod cors;
pub mod domain;
pub mod http;
pub mod metrics;
pub mod render;
pub mod runtime;
pub mod store;
pub mod views;
pub mod visits;

pub use config::Config;
pub use runtime::App;
pub use store::Store;
