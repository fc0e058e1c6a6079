//! The notifier: message settings, the outbox, customer links, and the
//! bookkeeping columns that keep each tick cheap.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    UpdateTimes,
    QuietHoursStart,
    QuietHoursEnd,
}

#[derive(DeriveIden)]
enum Customers {
    Table,
    OrganizationId,
    Timezone,
    SmsProblem,
    EmailProblem,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    OrganizationId,
    LastUpdateSlot,
}

#[derive(DeriveIden)]
enum Visits {
    Table,
    RemindedFor,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
    OrganizationId,
    JobId,
    VisitId,
    CustomerId,
    Kind,
    Channel,
    Recipient,
    Subject,
    BodyText,
    BodyHtml,
    Segments,
    Encoding,
    DedupeKey,
    State,
    DueAt,
    NextAttemptAt,
    ExpiresAt,
    Attempts,
    LeaseUntil,
    ProviderId,
    LastError,
    CreatedAt,
    UpdatedAt,
    SentAt,
}

#[derive(DeriveIden)]
enum CustomerLinks {
    Table,
    Id,
    OrganizationId,
    JobId,
    TokenHash,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        let adds: Vec<TableAlterStatement> = vec![
            Table::alter()
                .table(Organizations::Table)
                .add_column(ColumnDef::new(Organizations::UpdateTimes).string().not_null().default("08:30,16:30"))
                .to_owned(),
            Table::alter()
                .table(Organizations::Table)
                .add_column(ColumnDef::new(Organizations::QuietHoursStart).string().not_null().default("08:00"))
                .to_owned(),
            Table::alter()
                .table(Organizations::Table)
                .add_column(ColumnDef::new(Organizations::QuietHoursEnd).string().not_null().default("21:00"))
                .to_owned(),
            Table::alter()
                .table(Customers::Table)
                .add_column(ColumnDef::new(Customers::SmsProblem).text().null())
                .to_owned(),
            Table::alter()
                .table(Customers::Table)
                .add_column(ColumnDef::new(Customers::EmailProblem).text().null())
                .to_owned(),
            Table::alter()
                .table(Jobs::Table)
                .add_column(ColumnDef::new(Jobs::LastUpdateSlot).timestamp_with_time_zone().null())
                .to_owned(),
            Table::alter()
                .table(Visits::Table)
                .add_column(ColumnDef::new(Visits::RemindedFor).timestamp_with_time_zone().null())
                .to_owned(),
        ];
        for a in adds {
            m.alter_table(a).await?;
        }

        // The planner looks for jobs whose current slot is not handled yet.
        m.create_index(
            Index::create()
                .name("ix_jobs_org_update_slot")
                .table(Jobs::Table)
                .col(Jobs::OrganizationId)
                .col(Jobs::LastUpdateSlot)
                .to_owned(),
        )
        .await?;
        // The planner walks open jobs zone by zone.
        m.create_index(
            Index::create()
                .name("ix_customers_org_zone")
                .table(Customers::Table)
                .col(Customers::OrganizationId)
                .col(Customers::Timezone)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Messages::Table)
                .col(ColumnDef::new(Messages::Id).big_integer().not_null().auto_increment().primary_key())
                .col(ColumnDef::new(Messages::OrganizationId).big_integer().not_null())
                .col(ColumnDef::new(Messages::JobId).big_integer().null())
                .col(ColumnDef::new(Messages::VisitId).big_integer().null())
                .col(ColumnDef::new(Messages::CustomerId).big_integer().null())
                .col(ColumnDef::new(Messages::Kind).string().not_null())
                .col(ColumnDef::new(Messages::Channel).string().not_null())
                .col(ColumnDef::new(Messages::Recipient).string().not_null())
                .col(ColumnDef::new(Messages::Subject).text().null())
                .col(ColumnDef::new(Messages::BodyText).text().not_null())
                .col(ColumnDef::new(Messages::BodyHtml).text().null())
                .col(ColumnDef::new(Messages::Segments).integer().null())
                .col(ColumnDef::new(Messages::Encoding).string().null())
                .col(ColumnDef::new(Messages::DedupeKey).string().not_null().unique_key())
                .col(ColumnDef::new(Messages::State).string().not_null())
                .col(ColumnDef::new(Messages::DueAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Messages::NextAttemptAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Messages::ExpiresAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(Messages::Attempts).integer().not_null().default(0))
                .col(ColumnDef::new(Messages::LeaseUntil).timestamp_with_time_zone().null())
                .col(ColumnDef::new(Messages::ProviderId).string().null())
                .col(ColumnDef::new(Messages::LastError).text().null())
                .col(ColumnDef::new(Messages::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Messages::UpdatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Messages::SentAt).timestamp_with_time_zone().null())
                .foreign_key(
                    ForeignKey::create()
                        .from(Messages::Table, Messages::OrganizationId)
                        .to(Organizations::Table, Organizations::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Messages::Table, Messages::JobId)
                        .to(Jobs::Table, Jobs::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_messages_due")
                .table(Messages::Table)
                .col(Messages::State)
                .col(Messages::NextAttemptAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_messages_job")
                .table(Messages::Table)
                .col(Messages::JobId)
                .col(Messages::Id)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(CustomerLinks::Table)
                .col(ColumnDef::new(CustomerLinks::Id).big_integer().not_null().auto_increment().primary_key())
                .col(ColumnDef::new(CustomerLinks::OrganizationId).big_integer().not_null())
                .col(ColumnDef::new(CustomerLinks::JobId).big_integer().not_null())
                .col(ColumnDef::new(CustomerLinks::TokenHash).string().not_null().unique_key())
                .col(ColumnDef::new(CustomerLinks::CreatedAt).timestamp_with_time_zone().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(CustomerLinks::Table, CustomerLinks::JobId)
                        .to(Jobs::Table, Jobs::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(CustomerLinks::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Messages::Table).to_owned()).await?;
        Ok(())
    }
}
