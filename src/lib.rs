//! Kept: a contractor and field-service appointment coordinator that keeps
//! its promises. See README.md for the tour.

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
