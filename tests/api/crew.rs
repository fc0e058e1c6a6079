//! The crew's phone, in a real Chromium at 390×844: a technician invited by
//! text and email sets a password from the link, signs in to stay signed in
//! on that phone, sees their day, taps *On my way* with an ETA, then
//! *Running late* with a new time; the customer's apology (in the
//! customer's zone) goes out at once, and the ledger shows the broken and
//! the new promise. Plus the page's forms without a browser: CSRF, roles,
//! double taps; and the devices a person (or an admin) can sign out.

use crate::browser::Driver;
use crate::fakes::{FakeSmtp, FakeTwilio};
use crate::helpers::{spawn_app, spawn_app_with, TestApp, TestDb};
use kept::domain::people::Role;
use reqwest::header::COOKIE;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A New York customer's job with two visits today for a Chicago
/// technician (and Lena on the first), and one on Monday.
async fn a_day(app: &TestApp) -> (i64, i64, Vec<i64>) {
    let c = app
        .post(
            "/api/v1/customers",
            json!({"name": "Nadia Brooks", "phone": "+1 212 555 0142", "email": "nadia@example.test",
                   "timezone": "America/New_York", "address": "12 Harbor Rd, Brooklyn, NY 11201"}),
        )
        .await;
    let job = app
        .post(
            "/api/v1/jobs",
            json!({"customer_id": c.id(), "title": "Kitchen leak", "story": "Water under the sink; the floor by the dishwasher feels soft."}),
        )
        .await
        .id();
    let r = app
        .post(
            "/api/v1/staff",
            json!({"name": "Sam Ruiz", "role": "technician", "email": "sam@example.test", "phone": "+1 312 555 0123",
                   "timezone": "America/Chicago"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let sam = r.id();
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let mut visits = Vec::new();
    for (start, end, crew) in [
        ("2026-11-20T11:00:00-05:00", "2026-11-20T12:00:00-05:00", vec![sam, lena]),
        ("2026-11-20T14:00:00-05:00", "2026-11-20T16:00:00-05:00", vec![sam]),
        ("2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", vec![sam]),
    ] {
        let r = app.book(job, &crew, start, end, 60).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        visits.push(r.id());
    }
    (job, sam, visits)
}

fn path_of(url: &str) -> &str {
    url.strip_prefix("https://kept.example.test").unwrap_or(url)
}

#[tokio::test]
async fn in_a_real_browser_a_technician_runs_their_day_from_a_phone() {
    let Some(browser) = Driver::start().await else { return };
    let twilio = FakeTwilio::start().await;
    let smtp = FakeSmtp::start().await;
    let env: Vec<_> = twilio.env().into_iter().chain(smtp.env()).collect();
    let app = spawn_app_with(TestDb::new().await, &env).await;
    let (job, sam, visits) = a_day(&app).await;
    app.tick().await; // introductions out of the way

    // The office invites Sam by email and by text.
    let r = app.post(&format!("/api/v1/staff/{sam}/invite?sms=true"), json!({})).await;
    assert_eq!((r.status, r.body["texted"].as_bool()), (StatusCode::ACCEPTED, Some(true)), "{}", r.body);
    app.tick().await;
    let texted = twilio.accepted().into_iter().find(|m| m["To"] == "+13125550123").expect("the invitation by text");
    let body = &texted["Body"];
    let link = body[body.find("https://").expect("a link")..].split_whitespace().next().unwrap().to_string();
    assert!(smtp.mails().iter().any(|m| m.to == vec!["sam@example.test"]), "and by email");

    // On the phone: choose a password, sign in, stay signed in.
    browser.screen(390, true).await;
    browser.go(&app.url(path_of(&link))).await;
    browser.type_into("#password", "a long enough password").await;
    browser.click("button[type=submit]").await;
    browser.wait_text("Your password is set").await;
    browser.type_into("#email", "sam@example.test").await;
    browser.type_into("#password", "a long enough password").await;
    browser.click("#remember").await;
    browser.click("button[type=submit]").await;
    browser.wait_url("/app/day").await;
    let page = browser.wait_text("Nadia Brooks").await;
    for words in [
        "10:00–11:00 AM CST", // the first window, in Sam's zone
        "Nadia's time: 11:00 AM–12:00 PM EST",
        "1:00–3:00 PM CST", // the second, in planned order
        "Directions",
        "Call Nadia",
        "Water under the sink; the floor by the dishwasher feels soft.",
        "with Lena Okafor",
        "Tomorrow",
    ] {
        assert!(page.contains(words), "{words:?} is missing from:\n{page}");
    }
    assert!(page.find("10:00–11:00 AM CST") < page.find("1:00–3:00 PM CST"), "planned order");
    let (laid_out, screen) = browser.widths().await;
    assert!(laid_out <= screen, "no sideways scrolling on a phone: {laid_out} > {screen}");
    let call = browser.js("return document.querySelector('a[href^=\"tel:\"]').getAttribute('href');", json!([])).await;
    assert_eq!(call, "tel:+12125550142");
    let maps = browser.js("return document.querySelector('.links a').getAttribute('href');", json!([])).await;
    assert!(maps.as_str().unwrap().contains("12+Harbor+Rd%2C+Brooklyn"), "{maps}");
    browser.screenshot("crew-my-day").await;
    browser.full_page_screenshot("crew-my-day-full").await;
    // A narrower phone, and a desktop: still no sideways scrolling.
    for (width, phone) in [(360, true), (1280, false)] {
        browser.screen(width, phone).await;
        browser.go(&app.url("/app/day")).await;
        browser.wait_text("Nadia Brooks").await;
        let (laid_out, screen) = browser.widths().await;
        assert!(laid_out <= screen, "{width} px: {laid_out} > {screen}");
    }
    browser.screenshot("crew-my-day-desktop").await;
    browser.screen(390, true).await;
    browser.go(&app.url("/app/day")).await;
    browser.wait_text("Nadia Brooks").await;
    let session = sessions(&app, sam).await;
    assert_eq!(session.len(), 1);
    assert_eq!(session[0]["long_lived"], true, "{session:?}");
    assert!(session[0]["device"].as_str().unwrap().contains("Chrome"), "{session:?}");

    // On my way, there in 30 minutes: the customer hears it at once.
    let first = visits[0];
    browser.click(&format!("#visit-{first} button[name=eta_minutes][value='30']")).await;
    browser.wait_text("Arrived").await;
    let omw = app.outbox("kind=on_my_way&channel=sms").await;
    assert_eq!(omw.len(), 1, "{omw:?}");
    assert_eq!(omw[0]["state"], "sent", "delivered without a tick: {omw:?}");
    assert!(omw[0]["body_text"].as_str().unwrap().contains("10:30 AM"), "{omw:?}");

    // Running late: there by 11:40 AM (Sam's time) = 12:40 PM for Nadia.
    browser.click(&format!("#visit-{first} details summary")).await;
    browser
        .js(
            "document.querySelector(arguments[0]).value = '11:40';",
            json!([format!("#visit-{first} input[name=new_time]")]),
        )
        .await;
    browser.screenshot("crew-running-late-form").await;
    browser.click(&format!("#visit-{first} button.warn")).await;
    let page = browser.wait_text("Nadia was told you'll be there by 11:40 AM CST").await;
    assert!(page.contains("En Route"), "{page}");
    browser.screenshot("crew-my-day-late").await;
    let apology = twilio
        .accepted()
        .into_iter()
        .find(|m| m["Body"].contains("running late"))
        .expect("the apology went out at once, by text");
    assert!(apology["Body"].contains("New arrival time: 12:40 PM EST today"), "{apology:?}");
    assert!(smtp.mails().iter().any(|m| m.to == vec!["nadia@example.test"] && m.data.contains("12:40 PM EST today")));
    let ledger = arrival_promises(&app, job, first).await;
    let outcomes: Vec<(&str, &str)> =
        ledger.iter().map(|p| (p["outcome"].as_str().unwrap(), p["due_at"].as_str().unwrap())).collect();
    assert_eq!(outcomes, [("broken", "2026-11-20T17:00:00Z"), ("pending", "2026-11-20T17:40:00Z")]);

    // The same tap again (the late form, same time): nothing changes.
    browser.click(&format!("#visit-{first} details summary")).await;
    browser
        .js(
            "const d = document.querySelector(arguments[1]); d.open = true; document.querySelector(arguments[0]).value = '11:40';",
            json!([format!("#visit-{first} input[name=new_time]"), format!("#visit-{first} details")]),
        )
        .await;
    browser.click(&format!("#visit-{first} button.warn")).await;
    browser.wait_text("Nadia was told").await;
    assert_eq!(app.outbox("kind=running_late").await.len(), 2, "one text and one email, once");
    assert_eq!(arrival_promises(&app, job, first).await, ledger);

    // A note from the field, for the customer's next update.
    browser
        .js(
            "document.querySelectorAll(arguments[0]).forEach(d => d.open = true);",
            json!([format!("#visit-{first} details")]),
        )
        .await;
    browser.type_into(&format!("#note-{first}"), "Found a second leak behind the dishwasher").await;
    browser.click(&format!("#visit-{first} form[action$='/notes'] button")).await;
    browser.wait_text("Found a second leak behind the dishwasher").await;

    // Monday is one tap away.
    browser.click("nav.days a[href$='2026-11-23']").await;
    let monday = browser.wait_text("Monday, November 23").await;
    assert!(monday.contains("8:00–10:00 AM CST"), "{monday}");

    // The calendar feed: an address shown once, that a calendar app can read.
    browser.click("#calendar form button").await;
    browser.wait_text("Your calendar address").await;
    let url = browser.js("return document.querySelector('#feed-url').value;", json!([])).await;
    let url = url.as_str().unwrap().to_string();
    browser.screenshot("crew-calendar-address").await;
    let feed = app.client.get(app.url(path_of(&url))).send().await.unwrap();
    assert_eq!(feed.headers()["content-type"], "text/calendar; charset=utf-8");
    let text = feed.text().await.unwrap();
    assert_eq!(text.matches("BEGIN:VEVENT").count(), 3, "{text}");
    browser.go(&app.url("/app/day")).await;
    browser.wait_text("Stop the feed").await;
    browser.click("#calendar form:nth-of-type(2) button").await;
    browser.wait_text("Get my calendar address").await;
    assert_eq!(app.client.get(app.url(path_of(&url))).send().await.unwrap().status(), StatusCode::NOT_FOUND);

    // An admin signs the phone out (it was lost): the page asks to sign in.
    let r = app.send_as(&app.token.clone(), Method::DELETE, &format!("/api/v1/staff/{sam}/sessions"), &json!({})).await;
    assert_eq!((r.status, r.body["ended"].as_u64()), (StatusCode::OK, Some(1)), "{}", r.body);
    browser.go(&app.url("/app/day")).await;
    browser.wait_url("/login").await;
    browser.call(Method::DELETE, "", None).await;
}

async fn sessions(app: &TestApp, staff: i64) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/staff/{staff}/sessions")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

async fn arrival_promises(app: &TestApp, job: i64, visit: i64) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/jobs/{job}/promises")).await;
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == "arrival_window" && p["visit_id"] == visit)
        .cloned()
        .collect()
}

#[tokio::test]
async fn my_day_forms_keep_to_csrf_roles_and_count_a_double_tap_once() {
    let app = spawn_app().await;
    let (job, sam, visits) = a_day(&app).await;
    let lena_only = {
        let lena = app.staff("Lena Two", "technician", "America/New_York").await;
        let r = app.book(job, &[lena], "2026-11-20T13:00:00-05:00", "2026-11-20T14:00:00-05:00", 30).await;
        r.id()
    };
    let (cookie, csrf) = app.session_for(sam).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let post = |path: String, form: Vec<(&'static str, String)>| {
        let (client, cookie) = (client.clone(), cookie.clone());
        let url = app.url(&path);
        async move { client.post(url).header(COOKIE, cookie).form(&form).send().await.unwrap() }
    };

    let page = client.get(app.url("/app/day?date=2026-11-20")).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("id=\"visit-{}\"", visits[0])) && !html.contains(&format!("visit-{lena_only}")));
    let bad = client.get(app.url("/app/day?date=friday")).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let anon = client.get(app.url("/app/day")).send().await.unwrap();
    assert_eq!((anon.status(), anon.headers()["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/login"));

    // No CSRF token: refused, nothing changes.
    let v = visits[0];
    let r = post(format!("/app/day/visits/{v}/status"), vec![("status", "en_route".into())]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Someone else's visit: refused.
    let r =
        post(format!("/app/day/visits/{lena_only}/late"), vec![("csrf", csrf.clone()), ("late_minutes", "15".into())])
            .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A time that is not one: 422 naming the field.
    let r = post(format!("/app/day/visits/{v}/late"), vec![("csrf", csrf.clone()), ("new_time", "25:99".into())]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("new_time"));
    assert!(app.outbox("kind=running_late").await.is_empty());
    assert!(app.outbox("kind=on_my_way").await.is_empty());

    // On my way at a typed time, twice (a double tap): one message.
    for _ in 0..2 {
        let r = post(
            format!("/app/day/visits/{v}/status"),
            vec![
                ("csrf", csrf.clone()),
                ("status", "en_route".into()),
                ("eta_time", "09:40".into()),
                ("date", "2026-11-20".into()),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], format!("/app/day?date=2026-11-20#visit-{v}").as_str());
    }
    let omw = app.outbox("kind=on_my_way&channel=sms").await;
    assert_eq!(omw.len(), 1, "{omw:?}");
    assert!(omw[0]["body_text"].as_str().unwrap().contains("10:40 AM"), "9:40 CST is 10:40 EST: {omw:?}");
    // Running late by 15 minutes, the same form sent twice: one apology, one new promise.
    let html = client.get(app.url("/app/day")).header(COOKIE, &cookie).send().await.unwrap().text().await.unwrap();
    let base = html.split("name=\"base\" value=\"").nth(1).and_then(|r| r.split('"').next()).unwrap().to_string();
    for _ in 0..2 {
        let r = post(
            format!("/app/day/visits/{v}/late"),
            vec![("csrf", csrf.clone()), ("late_minutes", "15".into()), ("base", base.clone())],
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    assert_eq!(app.outbox("kind=running_late&channel=sms").await.len(), 1);
    let promises = arrival_promises(&app, job, v).await;
    let due: Vec<&str> = promises.iter().map(|p| p["due_at"].as_str().unwrap()).collect();
    assert_eq!(due, ["2026-11-20T17:00:00Z", "2026-11-20T17:15:00Z"]);
    // The office sees it on the board, in the office's time.
    let owner = app.get("/api/v1/staff").await.body["items"][0]["id"].as_i64().unwrap();
    let (office, _) = app.session_for(owner).await;
    let board = client.get(app.url("/app/board?date=2026-11-20")).header(COOKIE, &office).send().await.unwrap();
    let board = board.text().await.unwrap();
    assert!(board.contains("running late: there by 12:15 PM"), "{board}");
    // A note, internal, stays off the customer's update.
    let r = post(
        format!("/app/day/visits/{v}/notes"),
        vec![("csrf", csrf.clone()), ("text", "Gate code 4411".into()), ("internal", "1".into())],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let timeline = app.get(&format!("/api/v1/jobs/{job}/timeline")).await;
    assert!(timeline.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "internal_note" && e["summary"] == "Gate code 4411"));

    // Signing out elsewhere: another session of Sam's ends, this one stays.
    let (other_cookie, _) = app.session_for(sam).await;
    let (cookie2, csrf2) = app.session_for(sam).await;
    let r = client
        .post(app.url("/app/day/devices"))
        .header(COOKIE, &cookie2)
        .form(&[("csrf", csrf2.as_str()), ("session", "others")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let gone = client.get(app.url("/app/day")).header(COOKIE, &other_cookie).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::SEE_OTHER, "the other device is signed out");
    let here = client.get(app.url("/app/day")).header(COOKIE, &cookie2).send().await.unwrap();
    assert_eq!(here.status(), StatusCode::OK);

    // Who may end whose sessions: themselves or an admin.
    let lena = app.staff("Lena Three", "technician", "America/New_York").await;
    let lena_token = app.token_for(Role::Technician, Some(lena)).await;
    let r = app.send_as(&lena_token, Method::DELETE, &format!("/api/v1/staff/{sam}/sessions"), &json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.get_as(&lena_token, &format!("/api/v1/staff/{sam}/sessions")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let sam_token = app.token_for(Role::Technician, Some(sam)).await;
    let r = app.send_as(&sam_token, Method::DELETE, &format!("/api/v1/staff/{sam}/sessions"), &json!({})).await;
    assert_eq!((r.status, r.body["ended"].as_u64()), (StatusCode::OK, Some(1)), "the one left: {}", r.body);
}

#[tokio::test]
async fn an_invitation_by_text_needs_a_phone_number() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api/v1/staff",
            json!({"name": "No Phone", "role": "technician", "email": "nophone@example.test", "timezone": "America/New_York"}),
        )
        .await;
    let id = r.id();
    let r = app.post(&format!("/api/v1/staff/{id}/invite?sms=true"), json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.fields(), vec!["sms".to_string()]);
    let r = app.post(&format!("/api/v1/staff/{id}/invite?sms=maybe"), json!({})).await;
    assert_eq!((r.status, r.fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["sms".to_string()]));
    assert!(app.outbox("kind=password_reset").await.is_empty(), "nothing was sent");
    let r = app.post(&format!("/api/v1/staff/{id}/invite"), json!({})).await;
    assert_eq!((r.status, r.body["texted"].as_bool()), (StatusCode::ACCEPTED, Some(false)), "{}", r.body);
    let sent = app.outbox("kind=password_reset").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["channel"], "email");
}

#[tokio::test]
async fn on_the_staff_page_an_admin_texts_an_invitation_and_signs_a_phone_out() {
    let app = spawn_app().await;
    let (_, sam, _) = a_day(&app).await;
    let (sam_cookie, sam_csrf) = app.session_for(sam).await;
    let owner = app.get("/api/v1/staff").await.body["items"][0]["id"].as_i64().unwrap();
    let (admin_cookie, admin_csrf) = app.session_for(owner).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = client.get(app.url("/app/staff")).header(COOKIE, &admin_cookie).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("text it too") && html.contains(&format!("/app/staff/{sam}/sign-out")));

    // A technician may do neither.
    for path in [format!("/app/staff/{sam}/invite"), format!("/app/staff/{sam}/sign-out")] {
        let r = client
            .post(app.url(&path))
            .header(COOKIE, &sam_cookie)
            .form(&[("csrf", sam_csrf.as_str()), ("sms", "1")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert!(app.outbox("kind=password_reset").await.is_empty());

    let r = client
        .post(app.url(&format!("/app/staff/{sam}/invite")))
        .header(COOKIE, &admin_cookie)
        .form(&[("csrf", admin_csrf.as_str()), ("sms", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let links = app.outbox("kind=password_reset").await;
    let channels: Vec<(&str, &str)> =
        links.iter().map(|m| (m["channel"].as_str().unwrap(), m["recipient"].as_str().unwrap())).collect();
    assert_eq!(channels.len(), 2, "{links:?}");
    assert!(channels.contains(&("sms", "+13125550123")) && channels.contains(&("email", "sam@example.test")));

    let r = client
        .post(app.url(&format!("/app/staff/{sam}/sign-out")))
        .header(COOKIE, &admin_cookie)
        .form(&[("csrf", admin_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let gone = client.get(app.url("/app/day")).header(COOKIE, &sam_cookie).send().await.unwrap();
    assert_eq!(gone.headers()["location"], "/login", "Sam's phone is signed out");
    let still = client.get(app.url("/app/staff")).header(COOKIE, &admin_cookie).send().await.unwrap();
    assert_eq!(still.status(), StatusCode::OK, "the admin is not");
}
