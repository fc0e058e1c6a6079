//! Schema migrations, run at start-up (`kept migrate` runs them alone).
//! The same migrations serve SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_foundation;
mod m20261122_000002_create_outbox;
mod m20261122_000003_two_way_sms;
mod m20261122_000004_create_estimates;
mod m20261122_000005_create_promises;
mod m20261122_000006_create_sessions;
mod m20261123_000007_send_pace;
mod m20261202_000008_customer_reschedule;
mod m20261202_000009_schedule_indexes;
mod m20261202_000010_crew_phone;
mod m20261202_000011_delivery;
mod m20261202_000012_message_wording;
mod m20261202_000013_estimate_options;
mod m20261202_000015_tax_precision;
mod m20261203_000016_job_link;
mod m20261203_000017_update_slots;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_foundation::Migration),
            Box::new(m20261122_000002_create_outbox::Migration),
            Box::new(m20261122_000003_two_way_sms::Migration),
            Box::new(m20261122_000004_create_estimates::Migration),
            Box::new(m20261122_000005_create_promises::Migration),
            Box::new(m20261122_000006_create_sessions::Migration),
            Box::new(m20261123_000007_send_pace::Migration),
            Box::new(m20261202_000008_customer_reschedule::Migration),
            Box::new(m20261202_000009_schedule_indexes::Migration),
            Box::new(m20261202_000010_crew_phone::Migration),
            Box::new(m20261202_000011_delivery::Migration),
            Box::new(m20261202_000012_message_wording::Migration),
            Box::new(m20261202_000013_estimate_options::Migration),
            Box::new(m20261202_000015_tax_precision::Migration),
            Box::new(m20261203_000016_job_link::Migration),
            Box::new(m20261203_000017_update_slots::Migration),
        ]
    }
}
