use crate::domain::money::LineKind;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "estimate_lines")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub estimate_id: i64,
    pub organization_id: i64,
    pub position: i32,
    pub kind: LineKind,
    pub description: String,
    /// The decimal as given, normalized (`2.5`).
    pub quantity: String,
    /// The same in ten-thousandths, for arithmetic.
    pub quantity_units: i64,
    pub unit: String,
    pub unit_price_minor: i64,
    pub total_minor: i64,
    /// An item the customer may add (not in the estimate's total).
    pub optional: bool,
    /// The customer chose this optional item when approving.
    pub chosen: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
