//! Estimates: versioned, itemized, priced by the server.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Estimates {
    Table,
    Id,
    OrganizationId,
    JobId,
    Version,
    Status,
    Currency,
    Taxes,
    Notes,
    ValidUntil,
    SubtotalMinor,
    TaxMinor,
    TotalMinor,
    AuthorStaffId,
    CreatedAt,
    UpdatedAt,
    SentAt,
    DecidedAt,
    DecisionComment,
}

#[derive(DeriveIden)]
enum EstimateLines {
    Table,
    Id,
    EstimateId,
    OrganizationId,
    Position,
    Kind,
    Description,
    Quantity,
    QuantityUnits,
    Unit,
    UnitPriceMinor,
    TotalMinor,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Estimates::Table)
                .col(ColumnDef::new(Estimates::Id).big_integer().not_null().auto_increment().primary_key())
                .col(ColumnDef::new(Estimates::OrganizationId).big_integer().not_null())
                .col(ColumnDef::new(Estimates::JobId).big_integer().not_null())
                .col(ColumnDef::new(Estimates::Version).integer().not_null())
                .col(ColumnDef::new(Estimates::Status).string().not_null())
                .col(ColumnDef::new(Estimates::Currency).string().not_null())
                .col(ColumnDef::new(Estimates::Taxes).text().not_null())
                .col(ColumnDef::new(Estimates::Notes).text().not_null().default(""))
                .col(ColumnDef::new(Estimates::ValidUntil).date().null())
                .col(ColumnDef::new(Estimates::SubtotalMinor).big_integer().not_null())
                .col(ColumnDef::new(Estimates::TaxMinor).big_integer().not_null())
                .col(ColumnDef::new(Estimates::TotalMinor).big_integer().not_null())
                .col(ColumnDef::new(Estimates::AuthorStaffId).big_integer().null())
                .col(ColumnDef::new(Estimates::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Estimates::UpdatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Estimates::SentAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(Estimates::DecidedAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(Estimates::DecisionComment).text().null())
                .foreign_key(
                    ForeignKey::create()
                        .from(Estimates::Table, Estimates::OrganizationId)
                        .to(Organizations::Table, Organizations::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Estimates::Table, Estimates::JobId)
                        .to(Jobs::Table, Jobs::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // One version number per job, so two editors cannot both make "version 3".
        m.create_index(
            Index::create()
                .name("ux_estimates_job_version")
                .table(Estimates::Table)
                .col(Estimates::JobId)
                .col(Estimates::Version)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(EstimateLines::Table)
                .col(ColumnDef::new(EstimateLines::Id).big_integer().not_null().auto_increment().primary_key())
                .col(ColumnDef::new(EstimateLines::EstimateId).big_integer().not_null())
                .col(ColumnDef::new(EstimateLines::OrganizationId).big_integer().not_null())
                .col(ColumnDef::new(EstimateLines::Position).integer().not_null())
                .col(ColumnDef::new(EstimateLines::Kind).string().not_null())
                .col(ColumnDef::new(EstimateLines::Description).text().not_null())
                .col(ColumnDef::new(EstimateLines::Quantity).string().not_null())
                .col(ColumnDef::new(EstimateLines::QuantityUnits).big_integer().not_null())
                .col(ColumnDef::new(EstimateLines::Unit).string().not_null().default(""))
                .col(ColumnDef::new(EstimateLines::UnitPriceMinor).big_integer().not_null())
                .col(ColumnDef::new(EstimateLines::TotalMinor).big_integer().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(EstimateLines::Table, EstimateLines::EstimateId)
                        .to(Estimates::Table, Estimates::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_estimate_lines_estimate")
                .table(EstimateLines::Table)
                .col(EstimateLines::EstimateId)
                .col(EstimateLines::Position)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(EstimateLines::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Estimates::Table).to_owned()).await?;
        Ok(())
    }
}
