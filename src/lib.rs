//! Kept: a contractor and field-service appointment coordinator that keeps
//! its promises. See README.md for the tour.

/// mimalloc for every binary that links Kept (the server, its tests and
/// benchmarks): the planner and the request path allocate many small
/// values, and glibc's allocator spent about a third of a planning tick
/// in malloc and free.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod access;
pub mod api;
pub mod auth;
pub mod backup;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod entities;
pub mod error;
pub mod http_error;
pub mod limits;
pub mod live;
pub mod messages;
pub mod notify;
pub mod pages;
pub mod routes;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod usecases;
pub mod web;
pub mod webhooks;
