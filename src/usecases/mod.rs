//! One home for each use case: the operations people and the notifier
//! perform (book a visit, send an estimate, answer one...). Each owns its
//! transaction and writes the outbox rows it causes; the JSON API, the web
//! pages, the webhooks, the CLI and the demo seeder all call these.

pub mod availability;
pub mod calendar;
pub mod conversations;
pub mod customers;
pub mod estimates;
pub mod field;
pub mod invitations;
pub mod jobs;
pub mod ledger;
pub mod organization;
pub mod ratings;
pub mod staff;
pub mod texts;
pub mod visits;
pub mod wording;
