//! Visit kinds and the life of a visit.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VisitKind {
    Estimate,
    Work,
    FollowUp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VisitStatus {
    Scheduled,
    EnRoute,
    Arrived,
    Completed,
    Cancelled,
    Missed,
}

str_enum!(VisitKind { Estimate => "estimate", Work => "work", FollowUp => "follow_up" });
str_enum!(VisitStatus {
    Scheduled => "scheduled", EnRoute => "en_route", Arrived => "arrived",
    Completed => "completed", Cancelled => "cancelled", Missed => "missed",
});

impl VisitKind {
    /// Who usually makes this kind of visit: estimators estimate,
    /// technicians do the work and come back to follow up. Suggested windows
    /// look at these people unless told whom to ask about.
    pub fn done_by(self) -> super::people::Role {
        match self {
            VisitKind::Estimate => super::people::Role::Estimator,
            VisitKind::Work | VisitKind::FollowUp => super::people::Role::Technician,
        }
    }
}

impl VisitStatus {
    /// Whether a visit in this state still holds a place in someone's day.
    pub fn occupies_schedule(self) -> bool {
        matches!(self, VisitStatus::Scheduled | VisitStatus::EnRoute | VisitStatus::Arrived)
    }

    pub fn is_final(self) -> bool {
        matches!(self, VisitStatus::Completed | VisitStatus::Cancelled | VisitStatus::Missed)
    }

    /// The moves a crew or dispatcher may make. A crew that taps *Arrived*
    /// without *On my way* has still arrived; a visit nobody came to is
    /// `missed`; a visit that has started can only be completed (or, if
    /// the crew was turned away, cancelled).
    pub fn can_move_to(self, to: VisitStatus) -> bool {
        use VisitStatus::*;
        matches!(
            (self, to),
            (Scheduled, EnRoute)
                | (Scheduled, Arrived)
                | (Scheduled, Cancelled)
                | (Scheduled, Missed)
                | (EnRoute, Arrived)
                | (EnRoute, Cancelled)
                | (EnRoute, Missed)
                | (Arrived, Completed)
                | (Arrived, Cancelled)
        )
    }

    /// Where a visit can go from here, for error messages.
    pub fn next_states(self) -> Vec<&'static str> {
        VisitStatus::ALL.iter().filter(|t| self.can_move_to(**t)).map(|t| t.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::VisitStatus::*;
    use super::*;

    #[test]
    fn the_happy_path_is_allowed() {
        assert!(Scheduled.can_move_to(EnRoute));
        assert!(EnRoute.can_move_to(Arrived));
        assert!(Arrived.can_move_to(Completed));
    }

    #[test]
    fn final_states_are_final() {
        for from in [Completed, Cancelled, Missed] {
            assert!(from.is_final());
            for to in VisitStatus::ALL {
                assert!(!from.can_move_to(*to), "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn impossible_moves_are_refused() {
        assert!(!Scheduled.can_move_to(Completed));
        assert!(!Arrived.can_move_to(EnRoute));
        assert!(!Arrived.can_move_to(Missed));
        assert!(!EnRoute.can_move_to(Scheduled));
        for s in VisitStatus::ALL {
            assert!(!s.can_move_to(*s), "{s:?} to itself");
        }
    }

    #[test]
    fn names_round_trip() {
        for s in VisitStatus::ALL {
            assert_eq!(VisitStatus::parse(s.as_str()), Some(*s));
        }
        for k in VisitKind::ALL {
            assert_eq!(VisitKind::parse(k.as_str()), Some(*k));
        }
        assert_eq!(VisitKind::parse("Estimate"), None);
        assert_eq!(Scheduled.next_states(), vec!["en_route", "arrived", "cancelled", "missed"]);
    }
}
