//! The crew's phone: each field person's private calendar feed (its secret
//! stored hashed, one per person, revocable), and which device a session is
//! on and whether it was kept for long (so the person, and an admin, can see
//! and end it).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Staff {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum CalendarFeeds {
    Table,
    Id,
    OrganizationId,
    StaffId,
    TokenHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Device,
    LongLived,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(CalendarFeeds::Table)
                .col(ColumnDef::new(CalendarFeeds::Id).big_integer().not_null().auto_increment().primary_key())
                .col(ColumnDef::new(CalendarFeeds::OrganizationId).big_integer().not_null())
                // One live feed per person: regenerating replaces the row.
                .col(ColumnDef::new(CalendarFeeds::StaffId).big_integer().not_null().unique_key())
                .col(ColumnDef::new(CalendarFeeds::TokenHash).string().not_null().unique_key())
                .col(ColumnDef::new(CalendarFeeds::CreatedAt).timestamp_with_time_zone().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(CalendarFeeds::Table, CalendarFeeds::StaffId)
                        .to(Staff::Table, Staff::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Sessions::Table)
                .add_column(ColumnDef::new(Sessions::Device).string().not_null().default(""))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Sessions::Table)
                .add_column(ColumnDef::new(Sessions::LongLived).boolean().not_null().default(false))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Sessions::Table).drop_column(Sessions::LongLived).to_owned()).await?;
        m.alter_table(Table::alter().table(Sessions::Table).drop_column(Sessions::Device).to_owned()).await?;
        m.drop_table(Table::drop().table(CalendarFeeds::Table).to_owned()).await
    }
}
