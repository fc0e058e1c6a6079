//! Integration tests: each test spawns the app on a random port with its own
//! fresh database. `KEPT_TEST_BACKEND=postgres` (with `KEPT_TEST_POSTGRES_URL`)
//! runs the same suite on PostgreSQL; the default is SQLite.

mod fakes;
mod helpers;
mod schema_check;

mod access;
mod availability;
mod board;
mod browser;
mod calendar;
mod call;
mod cli;
mod company_logo;
mod concurrency;
mod crew;
mod customer_notices;
mod customers;
mod delivery;
mod delivery_scale;
mod demo;
mod docs;
mod estimate_options;
mod estimates;
mod events;
mod field;
mod jobs;
mod layers;
mod ledger;
mod notifier;
mod office_messages;
mod office_nav;
mod office_pages;
mod other_time;
mod promise_changes;
mod readme;
mod replicas;
mod requests;
mod scheduling;
mod signin;
mod staff;
mod states;
mod tax_precision;
mod tenancy;
mod truthful;
mod two_way;
mod visits;
mod write_load;
