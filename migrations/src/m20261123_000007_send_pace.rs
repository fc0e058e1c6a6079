//! The SMS pace per sender, shared by every replica: the next moment the
//! sender may send, in microseconds since the Unix epoch.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SendPace {
    Table,
    Sender,
    NextAtUs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SendPace::Table)
                .col(ColumnDef::new(SendPace::Sender).string().not_null().primary_key())
                .col(ColumnDef::new(SendPace::NextAtUs).big_integer().not_null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SendPace::Table).to_owned()).await
    }
}
