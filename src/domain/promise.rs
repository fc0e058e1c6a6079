//! The promise ledger's words: what was promised, and how it turned out.

use serde::{Deserialize, Serialize};

/// What a promise to a customer is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PromiseKind {
    ArrivalWindow,
    StatusUpdate,
    EstimateBy,
    CallbackBy,
    CompletionBy,
}
str_enum!(PromiseKind {
    ArrivalWindow => "arrival_window", StatusUpdate => "status_update", EstimateBy => "estimate_by",
    CallbackBy => "callback_by", CompletionBy => "completion_by",
});

impl PromiseKind {
    /// The kinds the office may record by hand; the rest follow from bookings and updates.
    pub fn by_hand(self) -> bool {
        matches!(self, PromiseKind::CallbackBy | PromiseKind::CompletionBy)
    }
}

/// How a promise turned out; `pending` until it is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PromiseOutcome {
    Pending,
    Kept,
    Broken,
    Renegotiated,
    Cancelled,
    /// A message promise that could not go out because no provider is
    /// configured (the demo): neither kept nor broken.
    NotSent,
}
str_enum!(PromiseOutcome {
    Pending => "pending", Kept => "kept", Broken => "broken", Renegotiated => "renegotiated",
    Cancelled => "cancelled", NotSent => "not_sent",
});
