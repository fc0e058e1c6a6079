//! One private link per job: the token every message about the job carries
//! (until now each message made a link of its own, a row per update).
//! `customer_links` still holds the token's hash, which is what a visit to
//! the link looks up; the job keeps the token itself so its next message
//! can carry the same link. That is no new exposure: the token is already
//! in the outbox, in the body of every message that carried it.
//!
//! Also trades the index on (organization, last update slot) for one on
//! (organization, id): reads of an organization's jobs used only its first
//! column (the planner walks open jobs by id), and every planned update
//! moved the job's entry in it. Now the slot is in no index, so marking it
//! changes only the row (on PostgreSQL, in place: a HOT update).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Jobs {
    Table,
    LinkToken,
    OrganizationId,
    LastUpdateSlot,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create().name("ix_jobs_org").table(Jobs::Table).col(Jobs::OrganizationId).col(Jobs::Id).to_owned(),
        )
        .await?;
        m.drop_index(Index::drop().name("ix_jobs_org_update_slot").table(Jobs::Table).to_owned()).await?;
        m.alter_table(
            Table::alter()
                .table(Jobs::Table)
                .add_column(ColumnDef::new(Jobs::LinkToken).string_len(40).null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Jobs::Table).drop_column(Jobs::LinkToken).to_owned()).await?;
        m.create_index(
            Index::create()
                .name("ix_jobs_org_update_slot")
                .table(Jobs::Table)
                .col(Jobs::OrganizationId)
                .col(Jobs::LastUpdateSlot)
                .to_owned(),
        )
        .await?;
        m.drop_index(Index::drop().name("ix_jobs_org").table(Jobs::Table).to_owned()).await
    }
}
