//! Staff sign-in: passwords, sessions, reset links, and the audit log.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Staff {
    Table,
    Id,
    PasswordHash,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    OrganizationId,
    StaffId,
    TokenHash,
    CsrfToken,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum PasswordResets {
    Table,
    Id,
    StaffId,
    TokenHash,
    ExpiresAt,
    UsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    OrganizationId,
    StaffId,
    Action,
    Detail,
    Ip,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table(Staff::Table).add_column(ColumnDef::new(Staff::PasswordHash).text().null()).to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Sessions::Table)
                .col(ColumnDef::new(Sessions::Id).big_integer().not_null().auto_increment().primary_key())
                .col(ColumnDef::new(Sessions::OrganizationId).big_integer().not_null())
                .col(ColumnDef::new(Sessions::StaffId).big_integer().not_null())
                .col(ColumnDef::new(Sessions::TokenHash).string().not_null().unique_key())
                .col(ColumnDef::new(Sessions::CsrfToken).string().not_null())
                .col(ColumnDef::new(Sessions::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Sessions::ExpiresAt).timestamp_with_time_zone().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(Sessions::Table, Sessions::StaffId)
                        .to(Staff::Table, Staff::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(PasswordResets::Table)
                .col(ColumnDef::new(PasswordResets::Id).big_integer().not_null().auto_increment().primary_key())
                .col(ColumnDef::new(PasswordResets::StaffId).big_integer().not_null())
                .col(ColumnDef::new(PasswordResets::TokenHash).string().not_null().unique_key())
                .col(ColumnDef::new(PasswordResets::ExpiresAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(PasswordResets::UsedAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(PasswordResets::CreatedAt).timestamp_with_time_zone().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(PasswordResets::Table, PasswordResets::StaffId)
                        .to(Staff::Table, Staff::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .col(ColumnDef::new(AuditLog::Id).big_integer().not_null().auto_increment().primary_key())
                .col(ColumnDef::new(AuditLog::OrganizationId).big_integer().null())
                .col(ColumnDef::new(AuditLog::StaffId).big_integer().null())
                .col(ColumnDef::new(AuditLog::Action).string().not_null())
                .col(ColumnDef::new(AuditLog::Detail).text().not_null())
                .col(ColumnDef::new(AuditLog::Ip).string().null())
                .col(ColumnDef::new(AuditLog::At).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [AuditLog::Table.into_iden(), PasswordResets::Table.into_iden(), Sessions::Table.into_iden()] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
