//! Indexes for reading a stretch of people's schedules: the visits of an
//! organization by window (availability, the board, the day read), and the
//! visits of a person without a second lookup per row.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Visits {
    Table,
    OrganizationId,
    WindowStart,
    WindowEnd,
}

#[derive(DeriveIden)]
enum VisitStaff {
    Table,
    StaffId,
    VisitId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("ix_visits_org_window")
                .table(Visits::Table)
                .col(Visits::OrganizationId)
                .col(Visits::WindowStart)
                .col(Visits::WindowEnd)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_visit_staff_staff_visit")
                .table(VisitStaff::Table)
                .col(VisitStaff::StaffId)
                .col(VisitStaff::VisitId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("ix_visit_staff_staff_visit").table(VisitStaff::Table).to_owned()).await?;
        m.drop_index(Index::drop().name("ix_visits_org_window").table(Visits::Table).to_owned()).await
    }
}
