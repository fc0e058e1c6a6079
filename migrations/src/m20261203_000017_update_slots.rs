//! Which update slots the planner has handled, one row per organization,
//! zone and slot instead of a mark on every job: a slot planned for 100,000
//! jobs wrote 100,000 job rows; now it writes one row per zone. The outbox's
//! dedupe keys still keep a slot from being sent twice.
//!
//! The row also says where the slot's messages are in the outbox (the ids
//! its planning stored, `first_message_id` < id <= `last_message_id`) and
//! how far the ledger has recorded their promises: a status update's
//! promise is written once, decided, when its messages have settled,
//! instead of a pending row at planning and a change to it later.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UpdateSlots {
    Table,
    OrganizationId,
    Zone,
    Slot,
    FirstMessageId,
    LastMessageId,
    PlannedAt,
    DecidedThrough,
    DecidedAt,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    LastUpdateSlot,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(UpdateSlots::Table)
                .col(ColumnDef::new(UpdateSlots::OrganizationId).big_integer().not_null())
                .col(ColumnDef::new(UpdateSlots::Zone).string_len(64).not_null())
                .col(ColumnDef::new(UpdateSlots::Slot).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(UpdateSlots::FirstMessageId).big_integer().not_null())
                .col(ColumnDef::new(UpdateSlots::LastMessageId).big_integer().null())
                .col(ColumnDef::new(UpdateSlots::PlannedAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(UpdateSlots::DecidedThrough).big_integer().null())
                .col(ColumnDef::new(UpdateSlots::DecidedAt).timestamp_with_time_zone().null())
                .primary_key(
                    Index::create().col(UpdateSlots::OrganizationId).col(UpdateSlots::Zone).col(UpdateSlots::Slot),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(UpdateSlots::Table, UpdateSlots::OrganizationId)
                        .to(Organizations::Table, Organizations::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.alter_table(Table::alter().table(Jobs::Table).drop_column(Jobs::LastUpdateSlot).to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Each job's mark comes back empty: the outbox's dedupe keys keep
        // the next tick from planning a handled slot's messages again.
        m.alter_table(
            Table::alter()
                .table(Jobs::Table)
                .add_column(ColumnDef::new(Jobs::LastUpdateSlot).timestamp_with_time_zone().null())
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(UpdateSlots::Table).to_owned()).await
    }
}
