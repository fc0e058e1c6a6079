//! Twilio's webhooks: delivery receipts and inbound replies, both verified
//! by `X-Twilio-Signature` before anything is read or written, then handed
//! to their use cases (`usecases::texts`).

use crate::domain::messaging::{InboundKind, ProviderStatus};
use crate::http_error::ApiError;
use crate::state::AppState;
use crate::usecases::texts::{Inbound, Receipt};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Form;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new().routes(utoipa_axum::routes!(status)).routes(utoipa_axum::routes!(inbound))
}

/// A delivery receipt, as Twilio posts it (Twilio adds parameters of its
/// own; every one is covered by the signature).
#[derive(utoipa::ToSchema)]
#[allow(dead_code, non_snake_case)] // documents Twilio's form; the handler reads every pair to verify the signature
struct TwilioStatus {
    /// Required: the message's SID.
    MessageSid: String,
    /// Required: queued, sending, sent, delivered, undelivered, failed….
    MessageStatus: String,
    /// Twilio's error code, on failure.
    ErrorCode: Option<String>,
    AccountSid: Option<String>,
}

/// A text to our number, as Twilio posts it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, non_snake_case)] // documents Twilio's form; the handler reads every pair to verify the signature
struct TwilioInbound {
    /// Required: the message's SID (a retry carries the same one).
    MessageSid: String,
    /// Required: the sender's number.
    From: String,
    /// Our number.
    To: Option<String>,
    Body: Option<String>,
    AccountSid: Option<String>,
}

/// Twilio's signature: HMAC-SHA1, keyed by the auth token, over the full URL
/// followed by every POST parameter name and value, sorted by name; base64.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    base64::engine::general_purpose::STANDARD.encode(mac(auth_token, url, params).finalize().into_bytes())
}

fn mac(auth_token: &str, url: &str, params: &[(String, String)]) -> Hmac<Sha1> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut m = <Hmac<Sha1> as Mac>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes keys of any length");
    m.update(url.as_bytes());
    for (k, v) in sorted {
        m.update(k.as_bytes());
        m.update(v.as_bytes());
    }
    m
}

/// Checks the header in constant time.
pub fn verify(auth_token: &str, url: &str, params: &[(String, String)], header: Option<&str>) -> bool {
    let Some(given) = header.and_then(|h| base64::engine::general_purpose::STANDARD.decode(h.trim()).ok()) else {
        return false;
    };
    mac(auth_token, url, params).verify_slice(&given).is_ok()
}

fn forbidden() -> ApiError {
    ApiError::Forbidden("missing or invalid X-Twilio-Signature".into())
}

/// Verifies the request against `KEPT_PUBLIC_URL` + the path Twilio called.
fn authenticate(state: &AppState, uri: &Uri, headers: &HeaderMap, params: &[(String, String)]) -> Result<(), ApiError> {
    let Some(twilio) = &state.settings.twilio else { return Err(forbidden()) };
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let url = format!("{}{}", state.settings.public_url, path);
    let header = headers.get("x-twilio-signature").and_then(|v| v.to_str().ok());
    if verify(&twilio.auth_token, &url, params, header) {
        Ok(())
    } else {
        tracing::warn!(%url, "rejected a Twilio webhook with a bad signature");
        Err(forbidden())
    }
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A delivery receipt from Twilio: the message's state moves forward only
/// (a late `sent` never overwrites `delivered`), and a permanent failure
/// (an unreachable or landline number) stops texts to that number.
///
/// Signed by Twilio: `X-Twilio-Signature` is verified (HMAC-SHA1 over
/// KEPT_PUBLIC_URL + path and the sorted POST parameters, keyed by
/// KEPT_TWILIO_AUTH_TOKEN); unsigned or tampered requests get 403 and
/// change nothing.
#[utoipa::path(post, path = "/webhooks/twilio/status", tag = "webhooks",
    request_body(content = TwilioStatus, content_type = "application/x-www-form-urlencoded"),
    params(("X-Twilio-Signature" = String, Header, description = "Twilio's signature of the request")),
    responses(
        (status = 204, description = "Recorded (or a receipt for a message we do not know: ignored)"),
        (status = 400, description = "MessageSid or MessageStatus missing", body = crate::http_error::ErrorBody),
        (status = 403, description = "Bad or missing signature", body = crate::http_error::ErrorBody),
    ))]
async fn status(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    Form(params): Form<Vec<(String, String)>>,
) -> Result<StatusCode, ApiError> {
    authenticate(&state, &uri, &headers, &params)?;
    let (Some(sid), Some(new_status)) = (param(&params, "MessageSid"), param(&params, "MessageStatus")) else {
        return Err(ApiError::BadRequest("MessageSid and MessageStatus are required".into()));
    };
    // A receipt this version does not know is acknowledged and ignored.
    let Some(new_status) = ProviderStatus::parse(new_status) else {
        return Ok(StatusCode::NO_CONTENT);
    };
    let receipt = Receipt {
        message_sid: sid,
        status: new_status,
        error_code: param(&params, "ErrorCode").and_then(|c| c.parse().ok()),
    };
    // Not ours, or behind what we have: acknowledged, so Twilio stops retrying.
    crate::usecases::texts::record_receipt(&state.db, &state.notify, receipt, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn twiml(reply: Option<&str>) -> Response {
    let body = match reply {
        Some(text) => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>{}</Message></Response>",
            xml_escape(text)
        ),
        None => "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>".to_string(),
    };
    ([(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

/// A customer's text. STOP/STOPALL/UNSUBSCRIBE/CANCEL/END/QUIT opt out of
/// SMS, START/YES/UNSTOP opt back in, HELP is answered; anything else lands
/// on the customer's open job and alerts the dispatcher. Retries (the same
/// MessageSid) are processed once.
///
/// Signed by Twilio: `X-Twilio-Signature` is verified (HMAC-SHA1 over
/// KEPT_PUBLIC_URL + path and the sorted POST parameters, keyed by
/// KEPT_TWILIO_AUTH_TOKEN); unsigned or tampered requests get 403 and
/// change nothing.
#[utoipa::path(post, path = "/webhooks/twilio/inbound", tag = "webhooks",
    request_body(content = TwilioInbound, content_type = "application/x-www-form-urlencoded"),
    params(("X-Twilio-Signature" = String, Header, description = "Twilio's signature of the request")),
    responses(
        (status = 200, description = "TwiML: a Message for HELP, otherwise empty", body = String, content_type = "text/xml"),
        (status = 400, description = "MessageSid or From missing", body = crate::http_error::ErrorBody),
        (status = 403, description = "Bad or missing signature", body = crate::http_error::ErrorBody),
    ))]
async fn inbound(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    Form(params): Form<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    authenticate(&state, &uri, &headers, &params)?;
    let (Some(sid), Some(from)) = (param(&params, "MessageSid"), param(&params, "From")) else {
        return Err(ApiError::BadRequest("MessageSid and From are required".into()));
    };
    let text = Inbound {
        message_sid: sid,
        from,
        to: param(&params, "To").unwrap_or(""),
        body: param(&params, "Body").unwrap_or(""),
    };
    let to = text.to.to_string();
    let received = crate::usecases::texts::record_inbound(&state.db, &state.notify, text, state.clock.now()).await?;
    if received.unmatched {
        tracing::warn!(%to, "inbound SMS for a number no organization has; kept as unmatched");
    }
    Ok(twiml(if received.kind == InboundKind::Help { received.help.as_deref() } else { None }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    // Expected values computed independently with Python's hmac module:
    //   base64(hmac.new(token, url + "".join(k + v for k, v in sorted(params)), sha1).digest())
    #[test]
    fn matches_twilios_published_example() {
        let params = p(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]);
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(twilio_signature("12345", url, &params), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
        assert!(verify("12345", url, &params, Some("0/KCTR6DLpKmkAf8muzZqo1nDgQ=")));
    }

    #[test]
    fn matches_independently_computed_vectors() {
        let inbound = p(&[
            ("To", "+12065550100"),
            ("MessageSid", "SM0001"),
            ("From", "+12135550178"),
            ("Body", "STOP"),
            ("AccountSid", "AC00000000000000000000000000000001"),
        ]);
        assert_eq!(
            twilio_signature("test-auth-token", "https://kept.example.test/webhooks/twilio/inbound", &inbound),
            "3qyryFaYmb/13gDcFX/eD9Zwg6c="
        );
        let receipt = p(&[("MessageSid", "SMabc"), ("MessageStatus", "delivered"), ("ErrorCode", "")]);
        assert_eq!(
            twilio_signature("secret", "https://kept.example.test/webhooks/twilio/status", &receipt),
            "wTQgWzG1w+7IXNK8j0Xa8nFvCCI="
        );
    }

    #[test]
    fn tampering_with_anything_fails_verification() {
        let url = "https://kept.example.test/webhooks/twilio/inbound";
        let params = p(&[("Body", "STOP"), ("From", "+12135550178")]);
        let good = twilio_signature("tok", url, &params);
        assert!(verify("tok", url, &params, Some(&good)));
        assert!(!verify("tok", url, &p(&[("Body", "STOP!"), ("From", "+12135550178")]), Some(&good)));
        assert!(!verify("tok", "https://evil.example/webhooks/twilio/inbound", &params, Some(&good)));
        assert!(!verify("other", url, &params, Some(&good)));
        assert!(!verify("tok", url, &params, None));
        assert!(!verify("tok", url, &params, Some("not base64!")));
    }
}
