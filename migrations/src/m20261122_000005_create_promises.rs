//! The promise ledger, ratings and follow-up tasks.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    AtRiskLeadMinutes,
    LateGraceMinutes,
    EstimateTurnaroundHours,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Promises {
    Table,
    Id,
    OrganizationId,
    JobId,
    VisitId,
    StaffId,
    Kind,
    Key,
    Description,
    WindowStart,
    DueAt,
    Outcome,
    DecidedAt,
    Evidence,
    LatenessMinutes,
    AtRiskAt,
    Renegotiates,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Ratings {
    Table,
    Id,
    OrganizationId,
    JobId,
    Score,
    Comment,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Id,
    OrganizationId,
    JobId,
    Kind,
    Status,
    Note,
    Resolution,
    CreatedAt,
    ResolvedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            ColumnDef::new(Organizations::AtRiskLeadMinutes).integer().not_null().default(30).to_owned(),
            ColumnDef::new(Organizations::LateGraceMinutes).integer().not_null().default(15).to_owned(),
            ColumnDef::new(Organizations::EstimateTurnaroundHours).integer().not_null().default(48).to_owned(),
        ] {
            m.alter_table(Table::alter().table(Organizations::Table).add_column(col).to_owned()).await?;
        }
        let fk_org = |t: Promises| {
            ForeignKey::create()
                .from(t, Alias::new("organization_id"))
                .to(Organizations::Table, Organizations::Id)
                .on_delete(ForeignKeyAction::Cascade)
                .to_owned()
        };
        m.create_table(
            Table::create()
                .table(Promises::Table)
                .col(ColumnDef::new(Promises::Id).big_integer().not_null().auto_increment().primary_key())
                .col(ColumnDef::new(Promises::OrganizationId).big_integer().not_null())
                .col(ColumnDef::new(Promises::JobId).big_integer().not_null())
                .col(ColumnDef::new(Promises::VisitId).big_integer().null())
                .col(ColumnDef::new(Promises::StaffId).big_integer().null())
                .col(ColumnDef::new(Promises::Kind).string().not_null())
                .col(ColumnDef::new(Promises::Key).string().not_null().unique_key())
                .col(ColumnDef::new(Promises::Description).text().not_null())
                .col(ColumnDef::new(Promises::WindowStart).timestamp_with_time_zone().null())
                .col(ColumnDef::new(Promises::DueAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Promises::Outcome).string().not_null())
                .col(ColumnDef::new(Promises::DecidedAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(Promises::Evidence).text().not_null().default("{}"))
                .col(ColumnDef::new(Promises::LatenessMinutes).integer().null())
                .col(ColumnDef::new(Promises::AtRiskAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(Promises::Renegotiates).big_integer().null())
                .col(ColumnDef::new(Promises::CreatedAt).timestamp_with_time_zone().not_null())
                .foreign_key(&mut fk_org(Promises::Table))
                .foreign_key(
                    ForeignKey::create()
                        .from(Promises::Table, Promises::JobId)
                        .to(Jobs::Table, Jobs::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_promises_pending")
                .table(Promises::Table)
                .col(Promises::Outcome)
                .col(Promises::DueAt)
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("ix_promises_job").table(Promises::Table).col(Promises::JobId).to_owned())
            .await?;
        m.create_table(
            Table::create()
                .table(Ratings::Table)
                .col(ColumnDef::new(Ratings::Id).big_integer().not_null().auto_increment().primary_key())
                .col(ColumnDef::new(Ratings::OrganizationId).big_integer().not_null())
                .col(ColumnDef::new(Ratings::JobId).big_integer().not_null().unique_key())
                .col(ColumnDef::new(Ratings::Score).integer().not_null())
                .col(ColumnDef::new(Ratings::Comment).text().not_null().default(""))
                .col(ColumnDef::new(Ratings::CreatedAt).timestamp_with_time_zone().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(Ratings::Table, Ratings::JobId)
                        .to(Jobs::Table, Jobs::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Tasks::Table)
                .col(ColumnDef::new(Tasks::Id).big_integer().not_null().auto_increment().primary_key())
                .col(ColumnDef::new(Tasks::OrganizationId).big_integer().not_null())
                .col(ColumnDef::new(Tasks::JobId).big_integer().not_null())
                .col(ColumnDef::new(Tasks::Kind).string().not_null())
                .col(ColumnDef::new(Tasks::Status).string().not_null())
                .col(ColumnDef::new(Tasks::Note).text().not_null())
                .col(ColumnDef::new(Tasks::Resolution).text().null())
                .col(ColumnDef::new(Tasks::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Tasks::ResolvedAt).timestamp_with_time_zone().null())
                .foreign_key(
                    ForeignKey::create()
                        .from(Tasks::Table, Tasks::JobId)
                        .to(Jobs::Table, Jobs::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [Tasks::Table.into_iden(), Ratings::Table.into_iden(), Promises::Table.into_iden()] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
