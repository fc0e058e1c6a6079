//! Organizations, API tokens, staff, customers, jobs, visits and the timeline.
//! Every table carries `organization_id`; every query is scoped by it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Name,
    Timezone,
    Country,
    Currency,
    MissionStatement,
    Phone,
    Email,
    TravelBufferMinutes,
    MaxWindowMinutes,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    OrganizationId,
    StaffId,
    Name,
    Role,
    TokenHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Staff {
    Table,
    Id,
    OrganizationId,
    Name,
    Role,
    Phone,
    Email,
    PhotoUrl,
    Bio,
    Timezone,
    WorkingHours,
    ScheduleVersion,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Customers {
    Table,
    Id,
    OrganizationId,
    Name,
    Phone,
    Email,
    Channels,
    Timezone,
    Address,
    SmsOptedOut,
    EmailOptedOut,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    OrganizationId,
    CustomerId,
    Title,
    Story,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Visits {
    Table,
    Id,
    OrganizationId,
    JobId,
    Kind,
    Status,
    WindowStart,
    WindowEnd,
    DurationMinutes,
    EnRouteAt,
    ArrivedAt,
    CompletedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum VisitStaff {
    Table,
    VisitId,
    StaffId,
    OrganizationId,
}

#[derive(DeriveIden)]
enum TimelineEvents {
    Table,
    Id,
    OrganizationId,
    JobId,
    VisitId,
    Kind,
    Summary,
    Data,
    At,
}

fn id<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().auto_increment().primary_key().to_owned()
}

fn org_fk<T: IntoIden + 'static>(table: T) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, Alias::new("organization_id"))
        .to(Organizations::Table, Organizations::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn now<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().not_null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Organizations::Table)
                .col(id(Organizations::Id))
                .col(ColumnDef::new(Organizations::Name).string().not_null())
                .col(ColumnDef::new(Organizations::Timezone).string().not_null())
                .col(ColumnDef::new(Organizations::Country).string().not_null().default("US"))
                .col(ColumnDef::new(Organizations::Currency).string().not_null().default("USD"))
                .col(ColumnDef::new(Organizations::MissionStatement).text().not_null().default(""))
                .col(ColumnDef::new(Organizations::Phone).string().null())
                .col(ColumnDef::new(Organizations::Email).string().null())
                .col(ColumnDef::new(Organizations::TravelBufferMinutes).integer().not_null().default(30))
                .col(ColumnDef::new(Organizations::MaxWindowMinutes).integer().not_null().default(240))
                .col(now(Organizations::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Staff::Table)
                .col(id(Staff::Id))
                .col(ColumnDef::new(Staff::OrganizationId).big_integer().not_null())
                .col(ColumnDef::new(Staff::Name).string().not_null())
                .col(ColumnDef::new(Staff::Role).string().not_null())
                .col(ColumnDef::new(Staff::Phone).string().null())
                .col(ColumnDef::new(Staff::Email).string().not_null())
                .col(ColumnDef::new(Staff::PhotoUrl).string().null())
                .col(ColumnDef::new(Staff::Bio).text().not_null().default(""))
                .col(ColumnDef::new(Staff::Timezone).string().not_null())
                .col(ColumnDef::new(Staff::WorkingHours).text().not_null())
                .col(ColumnDef::new(Staff::ScheduleVersion).big_integer().not_null().default(0))
                .col(now(Staff::CreatedAt))
                .foreign_key(&mut org_fk(Staff::Table))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_staff_org_email")
                .table(Staff::Table)
                .col(Staff::OrganizationId)
                .col(Staff::Email)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ApiTokens::Table)
                .col(id(ApiTokens::Id))
                .col(ColumnDef::new(ApiTokens::OrganizationId).big_integer().not_null())
                .col(ColumnDef::new(ApiTokens::StaffId).big_integer().null())
                .col(ColumnDef::new(ApiTokens::Name).string().not_null())
                .col(ColumnDef::new(ApiTokens::Role).string().not_null())
                .col(ColumnDef::new(ApiTokens::TokenHash).string().not_null().unique_key())
                .col(now(ApiTokens::CreatedAt))
                .foreign_key(&mut org_fk(ApiTokens::Table))
                .foreign_key(
                    ForeignKey::create()
                        .from(ApiTokens::Table, ApiTokens::StaffId)
                        .to(Staff::Table, Staff::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Customers::Table)
                .col(id(Customers::Id))
                .col(ColumnDef::new(Customers::OrganizationId).big_integer().not_null())
                .col(ColumnDef::new(Customers::Name).string().not_null())
                .col(ColumnDef::new(Customers::Phone).string().null())
                .col(ColumnDef::new(Customers::Email).string().null())
                .col(ColumnDef::new(Customers::Channels).string().not_null())
                .col(ColumnDef::new(Customers::Timezone).string().not_null())
                .col(ColumnDef::new(Customers::Address).text().not_null().default(""))
                .col(ColumnDef::new(Customers::SmsOptedOut).boolean().not_null().default(false))
                .col(ColumnDef::new(Customers::EmailOptedOut).boolean().not_null().default(false))
                .col(now(Customers::CreatedAt))
                .foreign_key(&mut org_fk(Customers::Table))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Jobs::Table)
                .col(id(Jobs::Id))
                .col(ColumnDef::new(Jobs::OrganizationId).big_integer().not_null())
                .col(ColumnDef::new(Jobs::CustomerId).big_integer().not_null())
                .col(ColumnDef::new(Jobs::Title).string().not_null())
                .col(ColumnDef::new(Jobs::Story).text().not_null().default(""))
                .col(ColumnDef::new(Jobs::Status).string().not_null())
                .col(now(Jobs::CreatedAt))
                .col(now(Jobs::UpdatedAt))
                .foreign_key(&mut org_fk(Jobs::Table))
                .foreign_key(
                    ForeignKey::create()
                        .from(Jobs::Table, Jobs::CustomerId)
                        .to(Customers::Table, Customers::Id)
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("ix_jobs_customer").table(Jobs::Table).col(Jobs::CustomerId).to_owned())
            .await?;

        m.create_table(
            Table::create()
                .table(Visits::Table)
                .col(id(Visits::Id))
                .col(ColumnDef::new(Visits::OrganizationId).big_integer().not_null())
                .col(ColumnDef::new(Visits::JobId).big_integer().not_null())
                .col(ColumnDef::new(Visits::Kind).string().not_null())
                .col(ColumnDef::new(Visits::Status).string().not_null())
                .col(ColumnDef::new(Visits::WindowStart).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Visits::WindowEnd).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Visits::DurationMinutes).integer().not_null())
                .col(ColumnDef::new(Visits::EnRouteAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(Visits::ArrivedAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(Visits::CompletedAt).timestamp_with_time_zone().null())
                .col(now(Visits::CreatedAt))
                .col(now(Visits::UpdatedAt))
                .foreign_key(&mut org_fk(Visits::Table))
                .foreign_key(
                    ForeignKey::create()
                        .from(Visits::Table, Visits::JobId)
                        .to(Jobs::Table, Jobs::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_visits_job")
                .table(Visits::Table)
                .col(Visits::JobId)
                .col(Visits::WindowStart)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(VisitStaff::Table)
                .col(ColumnDef::new(VisitStaff::VisitId).big_integer().not_null())
                .col(ColumnDef::new(VisitStaff::StaffId).big_integer().not_null())
                .col(ColumnDef::new(VisitStaff::OrganizationId).big_integer().not_null())
                .primary_key(Index::create().col(VisitStaff::VisitId).col(VisitStaff::StaffId))
                .foreign_key(&mut org_fk(VisitStaff::Table))
                .foreign_key(
                    ForeignKey::create()
                        .from(VisitStaff::Table, VisitStaff::VisitId)
                        .to(Visits::Table, Visits::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(VisitStaff::Table, VisitStaff::StaffId)
                        .to(Staff::Table, Staff::Id)
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_visit_staff_staff").table(VisitStaff::Table).col(VisitStaff::StaffId).to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(TimelineEvents::Table)
                .col(id(TimelineEvents::Id))
                .col(ColumnDef::new(TimelineEvents::OrganizationId).big_integer().not_null())
                .col(ColumnDef::new(TimelineEvents::JobId).big_integer().not_null())
                .col(ColumnDef::new(TimelineEvents::VisitId).big_integer().null())
                .col(ColumnDef::new(TimelineEvents::Kind).string().not_null())
                .col(ColumnDef::new(TimelineEvents::Summary).text().not_null())
                .col(ColumnDef::new(TimelineEvents::Data).text().not_null().default("{}"))
                .col(now(TimelineEvents::At))
                .foreign_key(&mut org_fk(TimelineEvents::Table))
                .foreign_key(
                    ForeignKey::create()
                        .from(TimelineEvents::Table, TimelineEvents::JobId)
                        .to(Jobs::Table, Jobs::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_timeline_job")
                .table(TimelineEvents::Table)
                .col(TimelineEvents::JobId)
                .col(TimelineEvents::At)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            TimelineEvents::Table.into_iden(),
            VisitStaff::Table.into_iden(),
            Visits::Table.into_iden(),
            Jobs::Table.into_iden(),
            Customers::Table.into_iden(),
            ApiTokens::Table.into_iden(),
            Staff::Table.into_iden(),
            Organizations::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
