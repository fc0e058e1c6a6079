//! Every office screen carries the same navigation (`staff_base.html`),
//! the message screens (outbox, unmatched texts, wording) included.

use crate::helpers::spawn_app;
use reqwest::header::COOKIE;
use reqwest::StatusCode;

#[tokio::test]
async fn every_office_screen_has_the_one_navigation_with_its_own_screen_marked() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let staff = app.get("/api/v1/staff").await.body["items"].as_array().unwrap().clone();
    let admin = staff.iter().find(|s| s["role"] == "admin").unwrap()["id"].as_i64().unwrap();
    let (cookie, _) = app.session_for(admin).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for (path, current) in [
        ("/app/outbox", Some("/app/outbox")),
        ("/app/inbox", Some("/app/inbox")),
        ("/app/wording", Some("/app/wording")),
        ("/app/customers", Some("/app/customers")),
        ("/app/settings", Some("/app/settings")),
        (&format!("/app/jobs/{job}") as &str, Some("/app/jobs")),
    ] {
        let r = client.get(app.url(path)).header(COOKIE, &cookie).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let html = r.text().await.unwrap();
        let header =
            &html[html.find("<nav aria-label=\"Main\">").unwrap_or_else(|| panic!("{path}: no main navigation"))..];
        let header = &header[..header.find("</nav>").unwrap()];
        for (href, label) in allowed("admin") {
            let marked = if current == Some(href) { " aria-current=\"page\"" } else { "" };
            assert!(
                header.contains(&format!("<a href=\"{}\"{marked}>{label}</a>", href.replace('/', "&#x2f;"))),
                "{path}: {label} in {header}"
            );
        }
        assert_eq!(html.matches("<header").count(), 1, "{path}: one header");
        assert!(html.contains("action=\"/logout\""), "{path}: sign out from every screen");
    }
}

/// Every screen of the main navigation, in its order.
const NAV: [(&str, &str); 11] = [
    ("/app", "Today"),
    ("/app/day", "My day"),
    ("/app/board", "Board"),
    ("/app/new", "New call"),
    ("/app/customers", "Customers"),
    ("/app/jobs", "Jobs"),
    ("/app/outbox", "Outbox"),
    ("/app/inbox", "Unmatched texts"),
    ("/app/wording", "Message wording"),
    ("/app/staff", "Staff"),
    ("/app/settings", "Settings"),
];

/// The screens a role may open, as its navigation lists them.
fn allowed(role: &str) -> Vec<(&'static str, &'static str)> {
    NAV.iter()
        .copied()
        .filter(|(href, _)| match (role, *href) {
            ("technician" | "estimator", href) => href == "/app/day",
            (_, "/app/day") => false,
            ("dispatcher", "/app/staff" | "/app/settings") => false,
            _ => true,
        })
        .collect()
}

/// The main navigation of a page: each link's address, words and whether
/// it is marked as the screen shown.
fn main_nav(path: &str, html: &str) -> Vec<(String, String, bool)> {
    let start = html.find("<nav aria-label=\"Main\">").unwrap_or_else(|| panic!("{path}: no main navigation"));
    let nav = &html[start..];
    let nav = &nav[..nav.find("</nav>").unwrap()];
    nav.split("<a href=\"")
        .skip(1)
        .map(|a| {
            let href = a[..a.find('"').unwrap()].replace("&#x2f;", "/");
            let label = a[a.find('>').unwrap() + 1..a.find("</a>").unwrap()].to_string();
            (href, label, a[..a.find('>').unwrap()].contains("aria-current=\"page\""))
        })
        .collect()
}

/// The navigation `role` should see with `current` marked.
fn expected(role: &str, current: &str) -> Vec<(String, String, bool)> {
    allowed(role).into_iter().map(|(h, l)| (h.to_string(), l.to_string(), h == current)).collect()
}

#[tokio::test]
async fn every_role_sees_only_the_screens_it_may_open_with_the_one_it_is_on_marked() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let staff = app.get("/api/v1/staff").await.body["items"].as_array().unwrap().clone();
    let admin = staff.iter().find(|s| s["role"] == "admin").unwrap()["id"].as_i64().unwrap();
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let people = [
        ("admin", admin),
        ("dispatcher", app.staff("Dana Dispatch", "dispatcher", "America/New_York").await),
        ("estimator", app.staff("Erin Estimate", "estimator", "America/New_York").await),
        ("technician", lena),
    ];
    app.book(job, &[lena], "2026-11-20T11:00:00-05:00", "2026-11-20T13:00:00-05:00", 60).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for (role, id) in people {
        let (cookie, _) = app.session_for(id).await;
        let name = staff_name(&app, id).await;
        for (path, _) in NAV {
            let r = client.get(app.url(path)).header(COOKIE, &cookie).send().await.unwrap();
            let may = allowed(role).iter().any(|(h, _)| *h == path);
            let status = r.status();
            if role == "technician" || role == "estimator" {
                if path == "/app" {
                    // A field person's home is their day.
                    assert_eq!(status, StatusCode::SEE_OTHER, "{role} {path}");
                    assert_eq!(r.headers()["location"], "/app/day", "{role}");
                    continue;
                }
            }
            let html = r.text().await.unwrap();
            if path == "/app/day" && !may {
                // The office may look at a day (nobody in the office is
                // sent on visits), but it is not one of their screens.
                assert_eq!(status, StatusCode::OK, "{role} {path}");
                assert_eq!(main_nav(path, &html), expected(role, ""), "{role} {path}");
                continue;
            }
            let want = if may { StatusCode::OK } else { StatusCode::FORBIDDEN };
            assert_eq!(status, want, "{role} {path}: {html}");
            // Refused or not, the page carries the person's own navigation:
            // its screen marked when it is one of theirs, nothing otherwise.
            assert_eq!(main_nav(path, &html), expected(role, if may { path } else { "" }), "{role} {path}");
            assert_eq!(html.matches("<header").count(), 1, "{role} {path}: one header");
            assert!(html.contains("action=\"/logout\""), "{role} {path}: sign out");
            assert!(html.contains(&name), "{role} {path}: who is signed in");
            assert!(html.contains(&format!("· {role}</small>")), "{role} {path}: and as what");
            if !may {
                assert!(html.contains("role=\"alert\""), "{role} {path}: says why: {html}");
            }
        }
    }
}

async fn staff_name(app: &crate::helpers::TestApp, id: i64) -> String {
    app.get(&format!("/api/v1/staff/{id}")).await.body["name"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_refused_reply_or_resend_is_said_inside_the_navigation() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let staff = app.get("/api/v1/staff").await.body["items"].as_array().unwrap().clone();
    let admin = staff.iter().find(|s| s["role"] == "admin").unwrap()["id"].as_i64().unwrap();
    let (cookie, csrf) = app.session_for(admin).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = client
        .post(app.url(&format!("/app/jobs/{job}/reply")))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str()), ("body", " "), ("sms", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("Your message was not sent") && html.contains("body"), "{html}");
    assert_eq!(main_nav("reply", &html), expected("admin", ""));
    assert!(html.contains("href=\"/app\">Back to Today</a>"), "{html}");
    let r = client
        .post(app.url("/app/messages/999999/resend"))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let html = r.text().await.unwrap();
    assert!(html.contains("There is no such message."), "{html}");
    assert_eq!(main_nav("resend", &html), expected("admin", ""));
}

/// Where the first heading of the page starts, in CSS pixels from the top:
/// what the header leaves of the screen.
async fn first_heading_top(browser: &crate::browser::Driver) -> f64 {
    browser
        .js("return document.querySelector('main h1').getBoundingClientRect().top;", serde_json::json!([]))
        .await
        .as_f64()
        .unwrap()
}

/// What sticks out past the right edge of the screen (outside a box that
/// scrolls sideways on purpose, like My day's strip of days): nothing, or
/// the first such element's tag and words.
async fn sticking_out(browser: &crate::browser::Driver) -> Option<String> {
    let v = browser
        .js(
            "const w = document.documentElement.clientWidth;
             const scrolls = e => { for (let p = e.parentElement; p && p.tagName !== 'BODY'; p = p.parentElement) {
                 const o = getComputedStyle(p).overflowX; if (o !== 'visible') return true; } return false; };
             const out = [...document.querySelectorAll('body *')].find(e => {
                 const r = e.getBoundingClientRect(); return r.width > 0 && r.right > w + 1 && !scrolls(e); });
             return out ? out.tagName + ': ' + out.textContent.slice(0, 80) : null;",
            serde_json::json!([]),
        )
        .await;
    v.as_str().map(String::from)
}

/// Signs in on the sign-in page.
async fn sign_in(browser: &crate::browser::Driver, app: &crate::helpers::TestApp, email: &str, password: &str) {
    browser.go(&app.url("/login")).await;
    browser.type_into("#email", email).await;
    browser.type_into("#password", password).await;
    browser.click("button[type=submit]").await;
}

/// Whether the main navigation is shown.
async fn nav_shown(browser: &crate::browser::Driver) -> bool {
    browser
        .js(
            "return getComputedStyle(document.querySelector('nav[aria-label=Main]')).display !== 'none';",
            serde_json::json!([]),
        )
        .await
        .as_bool()
        .unwrap()
}

#[tokio::test]
async fn in_a_real_browser_today_new_call_staff_and_my_day_share_the_header_on_a_desktop_and_a_phone() {
    use crate::browser::{set_password, Driver};
    let Some(browser) = Driver::start().await else { return };
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let marcus = app.staff("Marcus Bell", "estimator", "America/New_York").await;
    app.book(job, &[lena], "2026-11-20T11:00:00-05:00", "2026-11-20T13:00:00-05:00", 60).await;
    app.book(job, &[marcus, lena], "2026-11-20T14:00:00-05:00", "2026-11-20T16:00:00-05:00", 60).await;
    set_password(&app, "owner@example.test", "correct horse battery").await;
    set_password(&app, "lena.okafor@example.test", "lena's long password").await;

    // The dispatcher (here the owner) signs in at a desk.
    browser.screen(1280, false).await;
    sign_in(&browser, &app, "owner@example.test", "correct horse battery").await;
    browser.wait_url("/app").await;
    for (path, heading, shot) in
        [("/app", "Today", "today"), ("/app/new", "Take a call", "new-call"), ("/app/staff", "Staff of", "staff")]
    {
        browser.screen(1280, false).await;
        browser.go(&app.url(path)).await;
        let page = browser.wait_text(heading).await;
        assert!(page.contains("Olive Owner") && page.contains("Sign out"), "{path}: who, and sign-out: {page}");
        assert!(nav_shown(&browser).await, "{path}: the navigation is in the header on a desk");
        let marked = browser
            .js(
                "return document.querySelector('nav[aria-label=Main] a[aria-current=page]').textContent;",
                serde_json::json!([]),
            )
            .await;
        let (laid_out, screen) = browser.widths().await;
        assert!(laid_out <= screen, "{path} at 1280 px: {laid_out} > {screen}");
        assert_eq!(sticking_out(&browser).await, None, "{path} at 1280 px");
        browser.screenshot(&format!("nav-{shot}-desktop")).await;
        // On a phone the navigation folds behind one button that names the
        // screen; the page's own heading stays near the top.
        browser.screen(360, true).await;
        browser.go(&app.url(path)).await;
        browser.wait_text(heading).await;
        assert!(!nav_shown(&browser).await, "{path}: folded on a phone");
        let button =
            browser.js("return document.querySelector('label.menu-button').innerText;", serde_json::json!([])).await;
        let button = button.as_str().unwrap();
        assert!(button.contains(marked.as_str().unwrap()), "{path}: the button names the screen: {button}");
        let top = first_heading_top(&browser).await;
        assert!(top < 110.0, "{path}: the header takes {top} px of a phone");
        let (laid_out, screen) = browser.widths().await;
        assert!(laid_out <= screen, "{path} at 360 px: {laid_out} > {screen}");
        assert_eq!(sticking_out(&browser).await, None, "{path} at 360 px");
        browser.screenshot(&format!("nav-{shot}-phone")).await;
    }
    // The menu opens by a tap, and its links go where they say.
    browser.click("label.menu-button").await;
    assert!(nav_shown(&browser).await, "the menu opens");
    browser.screenshot("nav-menu-open-phone").await;
    browser.click("nav[aria-label=Main] a[href='/app/new']").await;
    browser.wait_url("/app/new").await;
    browser.click("header form button").await;
    browser.wait_url("/login").await;

    // Lena, on her phone: her home is her day, and her header is short.
    sign_in(&browser, &app, "lena.okafor@example.test", "lena's long password").await;
    browser.wait_url("/app/day").await;
    browser.go(&app.url("/app")).await;
    browser.wait_url("/app/day").await;
    let page = browser.wait_text("Nadia Brooks").await;
    assert!(page.contains("Lena Okafor") && page.contains("technician") && page.contains("Sign out"), "{page}");
    assert!(nav_shown(&browser).await, "one link needs no menu");
    let links = browser.js("return [...document.querySelectorAll('nav[aria-label=Main] a')].map(a => [a.textContent, a.getAttribute('aria-current')]);", serde_json::json!([])).await;
    assert_eq!(links, serde_json::json!([["My day", "page"]]), "only what a technician may open");
    let top = first_heading_top(&browser).await;
    assert!(top < 110.0, "the header takes {top} px of Lena's phone");
    let (laid_out, screen) = browser.widths().await;
    assert!(laid_out <= screen, "My day at 360 px: {laid_out} > {screen}");
    assert_eq!(sticking_out(&browser).await, None, "My day at 360 px");
    browser.screenshot("nav-my-day-phone").await;
    // A screen that is not hers says so inside her header, with the way back.
    browser.go(&app.url("/app/board")).await;
    let page = browser.wait_text("The board is the office's").await;
    assert!(page.contains("Back to your day") && page.contains("Sign out"), "{page}");
    browser.screenshot("nav-refused-phone").await;
    browser.click("main a[href='/app/day']").await;
    browser.wait_url("/app/day").await;
    browser.screen(1280, false).await;
    browser.go(&app.url("/app/day")).await;
    browser.wait_text("Nadia Brooks").await;
    browser.screenshot("nav-my-day-desktop").await;
}
