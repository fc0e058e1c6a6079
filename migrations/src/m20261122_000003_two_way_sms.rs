//! Two-way SMS: delivery receipts on messages, inbound replies, the
//! organization's SMS number, and direct replies exempt from quiet hours.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    SmsNumber,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    ProviderId,
    ProviderStatus,
    ProviderErrorCode,
    ProviderStatusAt,
    QuietHoursExemptUntil,
}

#[derive(DeriveIden)]
enum InboundMessages {
    Table,
    Id,
    OrganizationId,
    CustomerId,
    JobId,
    MessageSid,
    FromNumber,
    ToNumber,
    Body,
    Kind,
    ReceivedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let adds = vec![
            Table::alter()
                .table(Organizations::Table)
                .add_column(ColumnDef::new(Organizations::SmsNumber).string().null())
                .to_owned(),
            Table::alter()
                .table(Messages::Table)
                .add_column(ColumnDef::new(Messages::ProviderStatus).string().null())
                .to_owned(),
            Table::alter()
                .table(Messages::Table)
                .add_column(ColumnDef::new(Messages::ProviderErrorCode).integer().null())
                .to_owned(),
            Table::alter()
                .table(Messages::Table)
                .add_column(ColumnDef::new(Messages::ProviderStatusAt).timestamp_with_time_zone().null())
                .to_owned(),
            Table::alter()
                .table(Messages::Table)
                .add_column(ColumnDef::new(Messages::QuietHoursExemptUntil).timestamp_with_time_zone().null())
                .to_owned(),
        ];
        for a in adds {
            m.alter_table(a).await?;
        }
        m.create_index(
            Index::create().name("ix_messages_provider_id").table(Messages::Table).col(Messages::ProviderId).to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(InboundMessages::Table)
                .col(ColumnDef::new(InboundMessages::Id).big_integer().not_null().auto_increment().primary_key())
                // Null when no organization could be told from the number it was sent to.
                .col(ColumnDef::new(InboundMessages::OrganizationId).big_integer().null())
                .col(ColumnDef::new(InboundMessages::CustomerId).big_integer().null())
                .col(ColumnDef::new(InboundMessages::JobId).big_integer().null())
                .col(ColumnDef::new(InboundMessages::MessageSid).string().not_null().unique_key())
                .col(ColumnDef::new(InboundMessages::FromNumber).string().not_null())
                .col(ColumnDef::new(InboundMessages::ToNumber).string().not_null())
                .col(ColumnDef::new(InboundMessages::Body).text().not_null())
                .col(ColumnDef::new(InboundMessages::Kind).string().not_null())
                .col(ColumnDef::new(InboundMessages::ReceivedAt).timestamp_with_time_zone().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(InboundMessages::Table, InboundMessages::OrganizationId)
                        .to(Organizations::Table, Organizations::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_inbound_org_customer")
                .table(InboundMessages::Table)
                .col(InboundMessages::OrganizationId)
                .col(InboundMessages::CustomerId)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(InboundMessages::Table).to_owned()).await?;
        Ok(())
    }
}
