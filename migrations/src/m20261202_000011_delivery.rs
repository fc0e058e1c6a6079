//! Delivery from several replicas: who holds a claimed message
//! (`lease_owner`), and when its send started (`send_started_at`), so a
//! message whose worker died mid-send is checked with the provider before
//! it is sent again.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Messages {
    Table,
    LeaseOwner,
    SendStartedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        m.alter_table(
            Table::alter()
                .table(Messages::Table)
                .add_column(ColumnDef::new(Messages::LeaseOwner).string().null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Messages::Table)
                .add_column(ColumnDef::new(Messages::SendStartedAt).timestamp_with_time_zone().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Messages::Table).drop_column(Messages::SendStartedAt).to_owned()).await?;
        m.alter_table(Table::alter().table(Messages::Table).drop_column(Messages::LeaseOwner).to_owned()).await
    }
}
