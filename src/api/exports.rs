//! Data exports for admins: the organization's customers and jobs as CSV,
//! for a spreadsheet or a move to another tool. Every export is written to
//! the audit log (who, what, how many rows) before the file is sent.

use crate::api::error::ApiError;
use crate::auth::Caller;
use crate::entities::{customer, job};
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(customers)).routes(routes!(jobs))
}

/// Rows are read this many at a time, so a large organization never holds
/// two copies of its data while the file is built.
const BATCH: u64 = 1000;

/// Every customer as CSV (UTF-8, a header row, RFC 4180 quoting); the export
/// is written to the audit log.
#[utoipa::path(get, path = "/exports/customers", tag = "exports",
    responses((status = 200, description = "customers.csv: id, name, phone, email, channels, timezone, address, sms_opted_out, email_opted_out, created_at", content_type = "text/csv")))]
async fn customers(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let mut csv = Csv::new(&[
        "id",
        "name",
        "phone",
        "email",
        "channels",
        "timezone",
        "address",
        "sms_opted_out",
        "email_opted_out",
        "created_at",
    ]);
    let mut after = 0;
    loop {
        let rows = customer::Entity::find()
            .filter(customer::Column::OrganizationId.eq(caller.organization_id))
            .filter(customer::Column::Id.gt(after))
            .order_by_asc(customer::Column::Id)
            .limit(BATCH)
            .all(&state.db)
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        for c in &rows {
            csv.row(&[
                &c.id.to_string(),
                &c.name,
                c.phone.as_deref().unwrap_or(""),
                c.email.as_deref().unwrap_or(""),
                &c.channels.to_string().replace(',', " "),
                &c.timezone,
                &c.address,
                &c.sms_opted_out.to_string(),
                &c.email_opted_out.to_string(),
                &c.created_at.to_rfc3339(),
            ]);
        }
    }
    finish(&state, &caller, "customers", csv).await
}

/// Every job as CSV, with its customer's name; the export is written to the
/// audit log.
#[utoipa::path(get, path = "/exports/jobs", tag = "exports",
    responses((status = 200, description = "jobs.csv, one row per job", content_type = "text/csv")))]
async fn jobs(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let mut csv =
        Csv::new(&["id", "customer_id", "customer_name", "title", "status", "story", "created_at", "updated_at"]);
    let mut after = 0;
    loop {
        let rows = job::Entity::find()
            .filter(job::Column::OrganizationId.eq(caller.organization_id))
            .filter(job::Column::Id.gt(after))
            .order_by_asc(job::Column::Id)
            .limit(BATCH)
            .all(&state.db)
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        let names = crate::store::customers::by_ids(&state.db, rows.iter().map(|j| j.customer_id)).await?;
        for j in &rows {
            csv.row(&[
                &j.id.to_string(),
                &j.customer_id.to_string(),
                names.get(&j.customer_id).map(|c| c.name.as_str()).unwrap_or(""),
                &j.title,
                j.status.as_str(),
                &j.story,
                &j.created_at.to_rfc3339(),
                &j.updated_at.to_rfc3339(),
            ]);
        }
    }
    finish(&state, &caller, "jobs", csv).await
}

/// Audits the export, then sends the file as a download.
async fn finish(state: &AppState, caller: &Caller, what: &str, csv: Csv) -> Result<Response, ApiError> {
    let now = state.clock.now();
    crate::store::sessions::audit(
        &state.db,
        Some(caller.organization_id),
        caller.staff_id,
        crate::domain::people::AuditAction::DataExport,
        json!({"what": what, "rows": csv.rows}),
        None,
        now,
    )
    .await?;
    let file = format!("attachment; filename=\"kept-{what}-{}.csv\"", now.format("%Y-%m-%d"));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, file),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        csv.text,
    )
        .into_response())
}

/// RFC 4180 CSV: CRLF line ends, fields quoted when they hold a comma, a
/// quote or a line break. Text a customer typed that starts like a formula
/// (`=`, `+`, `-`, `@`, tab) gets a leading apostrophe, so opening the file in
/// a spreadsheet never runs it.
struct Csv {
    text: String,
    rows: usize,
}

impl Csv {
    fn new(header: &[&str]) -> Csv {
        let mut csv = Csv { text: String::new(), rows: 0 };
        csv.line(header);
        csv
    }

    fn row(&mut self, fields: &[&str]) {
        self.line(fields);
        self.rows += 1;
    }

    fn line(&mut self, fields: &[&str]) {
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                self.text.push(',');
            }
            self.text.push_str(&cell(f));
        }
        self.text.push_str("\r\n");
    }
}

fn cell(value: &str) -> String {
    // A phone number in E.164 starts with '+' and is data, not a formula.
    let is_phone = value.len() > 1 && value.starts_with('+') && value[1..].bytes().all(|b| b.is_ascii_digit());
    let defused = match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') if !is_phone => format!("'{value}"),
        _ => value.to_string(),
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_fields_pass_and_awkward_ones_are_quoted() {
        assert_eq!(cell("Maria Alvarez"), "Maria Alvarez");
        assert_eq!(cell("12 Elm St, Apt 3"), "\"12 Elm St, Apt 3\"");
        assert_eq!(cell("the \"big\" leak"), "\"the \"\"big\"\" leak\"");
        assert_eq!(cell("line one\nline two"), "\"line one\nline two\"");
        assert_eq!(cell(""), "");
    }

    #[test]
    fn formulas_are_defused_but_phone_numbers_are_kept() {
        assert_eq!(cell("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("-2+3"), "'-2+3");
        assert_eq!(cell("+15550100"), "+15550100");
        assert_eq!(cell("+1 555 0100"), "'+1 555 0100");
    }

    #[test]
    fn a_file_has_a_header_and_crlf_rows() {
        let mut csv = Csv::new(&["id", "name"]);
        csv.row(&["1", "A, B"]);
        csv.row(&["2", "C"]);
        assert_eq!(csv.text, "id,name\r\n1,\"A, B\"\r\n2,C\r\n");
        assert_eq!(csv.rows, 2);
    }
}
