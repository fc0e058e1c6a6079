//! Optional estimate items the customer can tick (which ones they chose,
//! and the total they approved), and the company's logo.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum EstimateLines {
    Table,
    Optional,
    Chosen,
}

#[derive(DeriveIden)]
enum Estimates {
    Table,
    ApprovedTotalMinor,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    LogoUrl,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        m.alter_table(
            Table::alter()
                .table(EstimateLines::Table)
                .add_column(ColumnDef::new(EstimateLines::Optional).boolean().not_null().default(false))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(EstimateLines::Table)
                .add_column(ColumnDef::new(EstimateLines::Chosen).boolean().not_null().default(false))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Estimates::Table)
                .add_column(ColumnDef::new(Estimates::ApprovedTotalMinor).big_integer().null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Organizations::Table)
                .add_column(ColumnDef::new(Organizations::LogoUrl).string_len(500).null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Organizations::Table).drop_column(Organizations::LogoUrl).to_owned())
            .await?;
        m.alter_table(Table::alter().table(Estimates::Table).drop_column(Estimates::ApprovedTotalMinor).to_owned())
            .await?;
        m.alter_table(Table::alter().table(EstimateLines::Table).drop_column(EstimateLines::Chosen).to_owned()).await?;
        m.alter_table(Table::alter().table(EstimateLines::Table).drop_column(EstimateLines::Optional).to_owned()).await
    }
}
