//! The page templates (`templates/pages/`), compiled into the binary and
//! compiled by minijinja once, when the application is built: a template
//! that does not compile stops `Application::build`, naming it and the line.

use crate::error::Error;
use minijinja::Environment;
use serde::Serialize;

/// Every page template, by the name handlers render it with.
const SOURCES: &[(&str, &str)] = &[
    ("staff_base.html", include_str!("../templates/pages/staff_base.html")),
    ("staff_customers.html", include_str!("../templates/pages/staff_customers.html")),
    ("staff_customer.html", include_str!("../templates/pages/staff_customer.html")),
    ("staff_customer_form.html", include_str!("../templates/pages/staff_customer_form.html")),
    ("staff_jobs.html", include_str!("../templates/pages/staff_jobs.html")),
    ("staff_settings.html", include_str!("../templates/pages/staff_settings.html")),
    ("staff_visit.html", include_str!("../templates/pages/staff_visit.html")),
    ("staff_estimate.html", include_str!("../templates/pages/staff_estimate.html")),
    ("staff_login.html", include_str!("../templates/pages/staff_login.html")),
    ("staff_app.html", include_str!("../templates/pages/staff_app.html")),
    ("staff_board.html", include_str!("../templates/pages/staff_board.html")),
    ("staff_day.html", include_str!("../templates/pages/staff_day.html")),
    ("staff_new.html", include_str!("../templates/pages/staff_new.html")),
    ("staff_new_done.html", include_str!("../templates/pages/staff_new_done.html")),
    ("staff_job.html", include_str!("../templates/pages/staff_job.html")),
    ("staff_admin.html", include_str!("../templates/pages/staff_admin.html")),
    ("staff_problem.html", include_str!("../templates/pages/staff_problem.html")),
    ("staff_outbox.html", include_str!("../templates/pages/staff_outbox.html")),
    ("staff_inbox.html", include_str!("../templates/pages/staff_inbox.html")),
    ("staff_wording.html", include_str!("../templates/pages/staff_wording.html")),
    ("staff_conversation.html", include_str!("../templates/pages/staff_conversation.html")),
    ("staff_office_style.html", include_str!("../templates/pages/staff_office_style.html")),
    ("customer_job.html", include_str!("../templates/pages/customer_job.html")),
    ("customer_notice.html", include_str!("../templates/pages/customer_notice.html")),
];

/// The compiled page templates, shared by every request (`AppState::pages`).
pub struct Pages {
    env: Environment<'static>,
}

/// A page template that does not compile.
#[derive(Debug, thiserror::Error)]
#[error("page template {name} does not compile, line {line}: {detail}")]
pub struct BrokenTemplate {
    pub name: String,
    pub line: usize,
    pub detail: String,
}

impl Pages {
    /// Compiles every page template.
    pub fn load() -> Result<Pages, BrokenTemplate> {
        Self::compile(SOURCES)
    }

    fn compile(sources: &[(&'static str, &'static str)]) -> Result<Pages, BrokenTemplate> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        for (name, source) in sources {
            env.add_template(name, source).map_err(|e| BrokenTemplate {
                name: e.name().unwrap_or(name).to_string(),
                line: e.line().unwrap_or(0),
                detail: e.detail().map(str::to_string).unwrap_or_else(|| e.kind().to_string()),
            })?;
        }
        Ok(Pages { env })
    }

    /// The page `name` filled in with `ctx`. Failing here is a bug (a
    /// template asking for something it cannot have), so it is internal.
    pub fn render(&self, name: &str, ctx: impl Serialize) -> Result<String, Error> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| Error::Internal(format!("page {name}: {e:#}")))
    }
}

/// Rendered pages kept for a moment, for pages many people (or one
/// person's many tabs) ask for at once: the dispatcher's board is fetched
/// again by every open board whenever anything on it changes. An entry
/// stands only while nothing in its organization changed (the live bus's
/// counts, bumped before a change's request answers), within the same
/// minute of the application's clock (the page draws "now"), and for at
/// most `ttl` (what the bus does not carry, like a changed working hour).
pub struct PageCache {
    ttl: std::time::Duration,
    entries: std::sync::Mutex<std::collections::HashMap<PageKey, Cached>>,
    /// One rendering per page at a time: when a page goes stale, the
    /// requests for it wait for one of them to draw it, not all draw it.
    flights: std::sync::Mutex<std::collections::HashMap<PageKey, std::sync::Arc<tokio::sync::Mutex<()>>>>,
}

/// A cached page: whose organization, which page, and for whom.
pub type PageKey = (i64, String, i64);

/// What a page's freshness is judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// `live::Changes::of` for the page's organization.
    pub changes: (u64, u64),
    /// The application's clock, in whole minutes.
    pub minute: i64,
}

struct Cached {
    stamp: Stamp,
    at: std::time::Instant,
    html: std::sync::Arc<str>,
}

impl PageCache {
    /// The most entries kept; past it, the stale go, then everything.
    const MAX_ENTRIES: usize = 512;

    /// A cache whose entries last at most `ttl` (zero: nothing is kept).
    pub fn new(ttl: std::time::Duration) -> PageCache {
        PageCache { ttl, entries: Default::default(), flights: Default::default() }
    }

    /// The page rendered for `key` if it still stands at `stamp`.
    pub fn get(&self, key: &PageKey, stamp: Stamp) -> Option<std::sync::Arc<str>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let c = entries.get(key)?;
        (c.stamp == stamp && c.at.elapsed() < self.ttl).then(|| c.html.clone())
    }

    /// Waits for the turn to draw `key`; look in the cache again once
    /// granted (whoever went before may have drawn it).
    pub async fn turn(&self, key: &PageKey) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            if flights.len() >= Self::MAX_ENTRIES {
                flights.retain(|_, l| std::sync::Arc::strong_count(l) > 1);
            }
            flights.entry(key.clone()).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// Keeps `html`, rendered at `stamp` (taken before its data was read).
    pub fn put(&self, key: PageKey, stamp: Stamp, html: std::sync::Arc<str>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= Self::MAX_ENTRIES {
            let ttl = self.ttl;
            entries.retain(|_, c| c.at.elapsed() < ttl);
            if entries.len() >= Self::MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, Cached { stamp, at: std::time::Instant::now(), html });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_page_stands_only_while_nothing_changed_within_the_minute_and_the_ttl() {
        let cache = PageCache::new(std::time::Duration::from_millis(200));
        let key: PageKey = (1, "board 2026-11-23".into(), 7);
        let stamp = Stamp { changes: (0, 3), minute: 100 };
        assert!(cache.get(&key, stamp).is_none());
        cache.put(key.clone(), stamp, "<p>board</p>".into());
        assert_eq!(cache.get(&key, stamp).as_deref(), Some("<p>board</p>"));
        assert!(cache.get(&key, Stamp { changes: (0, 4), ..stamp }).is_none(), "the organization changed");
        assert!(cache.get(&key, Stamp { changes: (1, 3), ..stamp }).is_none(), "events were lost");
        assert!(cache.get(&key, Stamp { minute: 101, ..stamp }).is_none(), "a minute later");
        assert!(cache.get(&(1, "board 2026-11-23".into(), 8), stamp).is_none(), "someone else's");
        std::thread::sleep(std::time::Duration::from_millis(250));
        assert!(cache.get(&key, stamp).is_none(), "past its time");
        let off = PageCache::new(std::time::Duration::ZERO);
        off.put(key.clone(), stamp, "x".into());
        assert!(off.get(&key, stamp).is_none(), "a zero ttl keeps nothing");
    }

    #[tokio::test]
    async fn a_stale_page_is_drawn_by_one_request_while_the_others_for_it_wait() {
        let cache = PageCache::new(std::time::Duration::from_secs(5));
        let key: PageKey = (1, "board".into(), 7);
        let first = cache.turn(&key).await;
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), cache.turn(&key)).await;
        assert!(waiting.is_err(), "the second waits for the first");
        let other =
            tokio::time::timeout(std::time::Duration::from_millis(50), cache.turn(&(1, "board".into(), 8))).await;
        assert!(other.is_ok(), "another page does not wait");
        drop(first);
        let next = tokio::time::timeout(std::time::Duration::from_millis(50), cache.turn(&key)).await;
        assert!(next.is_ok(), "its turn comes once the first is done");
    }

    #[test]
    fn every_page_template_compiles() {
        let pages = Pages::load().expect("the page templates compile");
        for (name, _) in SOURCES {
            assert!(pages.env.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn a_template_that_does_not_compile_is_named_with_its_line() {
        let sources = [
            ("fine.html", "<p>{{ text }}</p>"),
            ("staff_broken.html", "<h1>Today</h1>\n<ul>\n{% for v in visits %}\n<li>{{ v.name }</li>\n"),
        ];
        let e = Pages::compile(&sources).err().expect("refused");
        assert_eq!((e.name.as_str(), e.line), ("staff_broken.html", 4), "{e}");
        let words = e.to_string();
        assert!(words.contains("staff_broken.html") && words.contains("line 4"), "{words}");
    }

    #[test]
    fn rendering_an_unknown_page_is_an_internal_error_naming_it() {
        let pages = Pages::compile(&[("fine.html", "<p>{{ text }}</p>")]).expect("compiles");
        assert_eq!(pages.render("fine.html", serde_json::json!({"text": "hi"})).expect("renders"), "<p>hi</p>");
        let e = pages.render("missing.html", serde_json::json!({})).unwrap_err().to_string();
        assert!(e.contains("missing.html"), "{e}");
    }
}
