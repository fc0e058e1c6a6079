//! The company's own wording of its messages (one row per message kind and
//! part it changed; the files in `templates/messages/` otherwise), and
//! "send again": a message resent by the office names the one it repeats.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    ResentFromId,
}

#[derive(DeriveIden)]
enum MessageWording {
    Table,
    Id,
    OrganizationId,
    Kind,
    Part,
    Body,
    UpdatedBy,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(MessageWording::Table)
                .col(ColumnDef::new(MessageWording::Id).big_integer().not_null().auto_increment().primary_key())
                .col(ColumnDef::new(MessageWording::OrganizationId).big_integer().not_null())
                .col(ColumnDef::new(MessageWording::Kind).string().not_null())
                .col(ColumnDef::new(MessageWording::Part).string().not_null())
                .col(ColumnDef::new(MessageWording::Body).text().not_null())
                .col(ColumnDef::new(MessageWording::UpdatedBy).big_integer().null())
                .col(ColumnDef::new(MessageWording::UpdatedAt).timestamp_with_time_zone().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(MessageWording::Table, MessageWording::OrganizationId)
                        .to(Organizations::Table, Organizations::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("message_wording_one_per_part")
                .table(MessageWording::Table)
                .col(MessageWording::OrganizationId)
                .col(MessageWording::Kind)
                .col(MessageWording::Part)
                .unique()
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Messages::Table)
                .add_column(ColumnDef::new(Messages::ResentFromId).big_integer().null())
                .to_owned(),
        )
        .await?;
        // One "send again" per message: a second click finds the first.
        m.create_index(
            Index::create()
                .name("messages_resent_once")
                .table(Messages::Table)
                .col(Messages::ResentFromId)
                .unique()
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("messages_resent_once").table(Messages::Table).to_owned()).await?;
        m.alter_table(Table::alter().table(Messages::Table).drop_column(Messages::ResentFromId).to_owned()).await?;
        m.drop_table(Table::drop().table(MessageWording::Table).to_owned()).await
    }
}
