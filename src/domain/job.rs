//! Job status: where the customer's problem stands.

use super::visit::{VisitKind, VisitStatus};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    New,
    Scheduled,
    Estimating,
    AwaitingApproval,
    Approved,
    InProgress,
    Completed,
    Cancelled,
}
str_enum!(JobStatus {
    New => "new", Scheduled => "scheduled", Estimating => "estimating",
    AwaitingApproval => "awaiting_approval", Approved => "approved",
    InProgress => "in_progress", Completed => "completed", Cancelled => "cancelled",
});

/// What happened on a job, as its timeline records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    JobCreated,
    JobEdited,
    JobStatus,
    Note,
    VisitBooked,
    VisitRescheduled,
    VisitReassigned,
    VisitStatus,
    EstimateDrafted,
    EstimateSent,
    EstimateApproved,
    EstimateDeclined,
    EstimateQuestion,
    PromiseMade,
    Rating,
    FollowUpResolved,
    CustomerOptedOut,
    CustomerOptedIn,
    CustomerHelp,
    CustomerReply,
    /// The crew said they will be late, with a new arrival time.
    RunningLate,
    /// A note from the field for the office only (never in a customer's update).
    InternalNote,
}
str_enum!(TimelineKind {
    JobCreated => "job_created", JobEdited => "job_edited", JobStatus => "job_status", Note => "note",
    VisitBooked => "visit_booked", VisitRescheduled => "visit_rescheduled", VisitReassigned => "visit_reassigned",
    VisitStatus => "visit_status", EstimateDrafted => "estimate_drafted", EstimateSent => "estimate_sent",
    EstimateApproved => "estimate_approved", EstimateDeclined => "estimate_declined",
    EstimateQuestion => "estimate_question", PromiseMade => "promise_made", Rating => "rating",
    FollowUpResolved => "follow_up_resolved", CustomerOptedOut => "customer_opted_out",
    CustomerOptedIn => "customer_opted_in", CustomerHelp => "customer_help", CustomerReply => "customer_reply",
    RunningLate => "running_late", InternalNote => "internal_note",
});

/// Work for the office that a person has to do (call back an unhappy customer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    LowRatingFollowUp,
}
str_enum!(TaskKind { LowRatingFollowUp => "low_rating_follow_up" });

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Open,
    Done,
}
str_enum!(TaskStatus { Open => "open", Done => "done" });

impl JobStatus {
    /// The visit the office books next, and its usual minutes on site: an
    /// estimate of an hour until the customer approved one, then two hours
    /// of work (the suggestions on the job page and the board start there).
    pub fn next_visit(self) -> (VisitKind, i32) {
        match self {
            JobStatus::Approved | JobStatus::InProgress => (VisitKind::Work, 120),
            _ => (VisitKind::Estimate, 60),
        }
    }

    /// Open jobs are the ones customers hear about twice a day.
    pub fn is_open(self) -> bool {
        !matches!(self, JobStatus::Completed | JobStatus::Cancelled)
    }

    /// The job status implied by booking a visit, if it moves the job.
    pub fn after_booking(self) -> Option<JobStatus> {
        (self == JobStatus::New).then_some(JobStatus::Scheduled)
    }

    /// The job status implied by a visit moving to `status`, if any: an
    /// estimator arriving starts the estimate; a crew on its way to a work
    /// visit means the work is under way. A job never moves backwards here.
    pub fn after_visit(self, kind: VisitKind, status: VisitStatus) -> Option<JobStatus> {
        use JobStatus::*;
        match (kind, status) {
            (VisitKind::Estimate, VisitStatus::Arrived) if matches!(self, New | Scheduled) => Some(Estimating),
            (VisitKind::Work, VisitStatus::EnRoute | VisitStatus::Arrived)
                if matches!(self, New | Scheduled | Estimating | AwaitingApproval | Approved) =>
            {
                Some(InProgress)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booking_schedules_a_new_job_only() {
        assert_eq!(JobStatus::New.after_booking(), Some(JobStatus::Scheduled));
        assert_eq!(JobStatus::InProgress.after_booking(), None);
    }

    #[test]
    fn visits_move_jobs_forward_never_back() {
        use VisitKind::*;
        use VisitStatus::*;
        assert_eq!(JobStatus::Scheduled.after_visit(Estimate, Arrived), Some(JobStatus::Estimating));
        assert_eq!(JobStatus::Approved.after_visit(Work, EnRoute), Some(JobStatus::InProgress));
        assert_eq!(JobStatus::Completed.after_visit(Work, Arrived), None);
        assert_eq!(JobStatus::InProgress.after_visit(Estimate, Arrived), None);
        assert_eq!(JobStatus::Scheduled.after_visit(FollowUp, Arrived), None);
    }

    #[test]
    fn closed_jobs_are_not_open() {
        assert!(JobStatus::AwaitingApproval.is_open());
        assert!(!JobStatus::Completed.is_open());
        assert!(!JobStatus::Cancelled.is_open());
    }
}
