//! Message templates: `templates/messages/<kind>/{subject.txt, sms.txt,
//! email.txt, email.html}`, rendered with minijinja. The copies in the
//! repository are compiled in; a directory given by `KEPT_TEMPLATES_DIR`
//! (or `./templates` when present) overrides them file by file, so a company
//! can change the wording without touching Rust.

use crate::domain::messaging::MessageKind;
use minijinja::Environment;
use serde::Serialize;
use std::path::Path;

const FILES: &[&str] = &["subject.txt", "sms.txt", "email.txt", "email.html"];

/// One list of kinds gives both the names and the compiled-in copies.
macro_rules! kinds {
    ($($kind:literal),* $(,)?) => {
        /// Every message kind, one folder each under `templates/messages/`.
        pub const KINDS: &[&str] = &[$($kind),*];
        const EMBEDDED: &[(&str, &str, &str)] = &[$(
            ($kind, "subject.txt", include_str!(concat!("../../templates/messages/", $kind, "/subject.txt"))),
            ($kind, "sms.txt", include_str!(concat!("../../templates/messages/", $kind, "/sms.txt"))),
            ($kind, "email.txt", include_str!(concat!("../../templates/messages/", $kind, "/email.txt"))),
            ($kind, "email.html", include_str!(concat!("../../templates/messages/", $kind, "/email.html"))),
        )*];
    };
}

kinds!(
    "introduction",
    "status_update",
    "reminder",
    "on_my_way",
    "reply",
    "dispatcher_alert",
    "pricing_breakdown",
    "running_late",
    "thank_you",
    "follow_up_resolution",
    "password_reset",
    "visit_rescheduled",
    "visit_cancelled",
    "visit_reassigned",
    "job_cancelled",
);

/// The rendered email parts.
#[derive(Debug, Clone)]
pub struct Email {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// One part of a message, as the office edits it: the text message, the
/// email's subject, its plain text and its HTML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Sms,
    Subject,
    EmailText,
    EmailHtml,
}

impl Part {
    pub const ALL: &'static [Part] = &[Part::Sms, Part::Subject, Part::EmailText, Part::EmailHtml];

    pub fn as_str(self) -> &'static str {
        match self {
            Part::Sms => "sms",
            Part::Subject => "subject",
            Part::EmailText => "email_text",
            Part::EmailHtml => "email_html",
        }
    }

    pub fn parse(s: &str) -> Option<Part> {
        Part::ALL.iter().copied().find(|p| p.as_str() == s)
    }

    pub fn choices() -> String {
        Part::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// Its file in `templates/messages/<kind>/`.
    pub fn file(self) -> &'static str {
        match self {
            Part::Sms => "sms.txt",
            Part::Subject => "subject.txt",
            Part::EmailText => "email.txt",
            Part::EmailHtml => "email.html",
        }
    }

    /// Whether the part may render to nothing (only the subject may: some
    /// messages have none of their own).
    pub fn may_be_empty(self) -> bool {
        self == Part::Subject
    }
}

/// The kinds whose wording a company may change: everything we send to
/// customers. The office's own alerts and sign-in links are not theirs to
/// reword (a reset email without its link would lock people out).
pub fn editable(kind: MessageKind) -> bool {
    !matches!(kind, MessageKind::DispatcherAlert | MessageKind::PasswordReset)
}

/// The longest wording we keep for one part.
pub const WORDING_MAX_CHARS: usize = 20_000;

/// A template that does not compile, or fails on the values the message
/// is given: the line (1-based; 0 when minijinja cannot tell) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct Broken {
    pub line: usize,
    pub reason: String,
}

impl Broken {
    fn of(e: &minijinja::Error) -> Broken {
        let reason = match e.detail() {
            Some(d) => format!("{}: {d}", e.kind()),
            None => e.kind().to_string(),
        };
        Broken { line: e.line().unwrap_or(0), reason }
    }
}

/// An organization's own wording, compiled once per use: the parts it
/// changed; every other part is the default file.
pub struct Wording {
    env: Environment<'static>,
    names: std::collections::HashSet<String>,
}

impl Default for Wording {
    fn default() -> Self {
        Wording::none()
    }
}

impl Wording {
    /// No wording of the company's own: the files.
    pub fn none() -> Wording {
        Wording { env: environment(), names: Default::default() }
    }

    /// Compiles stored wording. A part that no longer compiles (checked
    /// when saved, so only after an upgrade changed the syntax) is left
    /// out with a warning, and the file speaks instead: a customer still
    /// hears from us.
    pub fn compile(rows: impl IntoIterator<Item = (MessageKind, Part, String)>) -> Wording {
        let mut w = Wording::none();
        for (kind, part, body) in rows {
            let name = format!("{kind}/{}", part.file());
            match w.env.add_template_owned(name.clone(), body) {
                Ok(()) => {
                    w.names.insert(name);
                }
                Err(e) => {
                    tracing::warn!(template = %name, error = %e, "stored wording does not compile; using the file")
                }
            }
        }
        w
    }

    /// Whether the company has its own wording of this part.
    pub fn has(&self, kind: MessageKind, part: Part) -> bool {
        self.names.contains(&format!("{kind}/{}", part.file()))
    }
}

/// The settings every message template is read with.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(false);
    env
}

pub struct Templates {
    env: Environment<'static>,
    /// The default wording, by `kind/file`: the directory's copy or the compiled-in one.
    defaults: std::collections::HashMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
#[error("template {name}: {message}")]
pub struct TemplateError {
    pub name: String,
    pub message: String,
}

impl Templates {
    /// The compiled-in templates.
    pub fn embedded() -> Result<Templates, TemplateError> {
        Self::load(None)
    }

    /// Compiled-in templates, each overridden by `<dir>/messages/<kind>/<file>` if it exists.
    pub fn load(dir: Option<&Path>) -> Result<Templates, TemplateError> {
        let mut env = environment();
        let mut defaults = std::collections::HashMap::new();
        for (kind, file, text) in EMBEDDED {
            let name = format!("{kind}/{file}");
            let source = dir
                .map(|d| d.join("messages").join(kind).join(file))
                .and_then(|p| std::fs::read_to_string(p).ok())
                .unwrap_or_else(|| text.to_string());
            defaults.insert(name.clone(), source.clone());
            env.add_template_owned(name.clone(), source)
                .map_err(|e| TemplateError { name: name.clone(), message: e.to_string() })?;
        }
        debug_assert_eq!(EMBEDDED.len(), KINDS.len() * FILES.len());
        Ok(Templates { env, defaults })
    }

    /// The default wording of a part (what `DELETE` restores).
    pub fn default_source(&self, kind: MessageKind, part: Part) -> &str {
        self.defaults.get(&format!("{kind}/{}", part.file())).map(String::as_str).unwrap_or("")
    }

    fn render(&self, name: &str, ctx: &impl Serialize) -> Result<String, TemplateError> {
        let t = self.env.get_template(name).map_err(|e| TemplateError { name: name.into(), message: e.to_string() })?;
        t.render(ctx).map_err(|e| TemplateError { name: name.into(), message: format!("{e:#}") })
    }

    /// The company's wording of the part if it has one and it renders;
    /// otherwise the default. A company's template failing on values it
    /// was not tried with is logged, and the default speaks instead.
    fn render_in(
        &self,
        w: &Wording,
        kind: MessageKind,
        part: Part,
        ctx: &impl Serialize,
    ) -> Result<String, TemplateError> {
        let name = format!("{kind}/{}", part.file());
        if w.names.contains(&name) {
            match w.env.get_template(&name).and_then(|t| t.render(ctx)) {
                Ok(text) => return Ok(text),
                Err(e) => {
                    tracing::warn!(template = %name, error = %format!("{e:#}"), "the company's wording failed; using the default")
                }
            }
        }
        self.render(&name, ctx)
    }

    /// The SMS body: plain text, whitespace tidied (blank lines collapsed).
    pub fn sms(&self, kind: MessageKind, ctx: &impl Serialize) -> Result<String, TemplateError> {
        self.sms_in(&Wording::none(), kind, ctx)
    }

    pub fn email(&self, kind: MessageKind, ctx: &impl Serialize) -> Result<Email, TemplateError> {
        self.email_in(&Wording::none(), kind, ctx)
    }

    /// The SMS body in the company's wording (`w`), falling back to the file.
    pub fn sms_in(&self, w: &Wording, kind: MessageKind, ctx: &impl Serialize) -> Result<String, TemplateError> {
        Ok(tidy(&self.render_in(w, kind, Part::Sms, ctx)?))
    }

    /// The email in the company's wording (`w`), part by part falling back to the files.
    pub fn email_in(&self, w: &Wording, kind: MessageKind, ctx: &impl Serialize) -> Result<Email, TemplateError> {
        Ok(Email {
            subject: self.render_in(w, kind, Part::Subject, ctx)?.lines().next().unwrap_or("").trim().to_string(),
            text: tidy(&self.render_in(w, kind, Part::EmailText, ctx)?),
            html: self.render_in(w, kind, Part::EmailHtml, ctx)?.trim().to_string(),
        })
    }

    /// Checks a company's wording of one part before it is saved or
    /// previewed: it must compile, and render on `sample` (every value the
    /// message is given, `compose::sample_ctx`) without naming anything
    /// the message does not have. Strictly: a misspelt name is refused
    /// here, where a lenient render would quietly print nothing.
    pub fn check(&self, kind: MessageKind, part: Part, source: &str, sample: &impl Serialize) -> Result<(), Broken> {
        if source.chars().count() > WORDING_MAX_CHARS {
            return Err(Broken { line: 0, reason: format!("is longer than {WORDING_MAX_CHARS} characters") });
        }
        let mut env = environment();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        let name = format!("{kind}/{}", part.file());
        let t = env.template_from_named_str(&name, source).map_err(|e| Broken::of(&e))?;
        let rendered = match t.render(sample) {
            Ok(r) => r,
            Err(e) => {
                let mut b = Broken::of(&e);
                if e.kind() == minijinja::ErrorKind::UndefinedError {
                    let known = names_in(&serde_json::to_value(sample).unwrap_or_default());
                    let unknown: Vec<String> = t
                        .undeclared_variables(true)
                        .into_iter()
                        .filter(|v| !known.iter().any(|k| k == v || k.starts_with(&format!("{v}."))))
                        .filter(|v| !is_template_local(source, v))
                        .collect();
                    if let Some(first) = unknown.iter().min() {
                        b.line = line_of(source, first).unwrap_or(b.line);
                        b.reason = format!("this message has no `{first}`; it can use {}", known.join(", "));
                    }
                }
                return Err(b);
            }
        };
        if !part.may_be_empty() && rendered.trim().is_empty() {
            return Err(Broken { line: 1, reason: "it says nothing; write what the customer should read".into() });
        }
        Ok(())
    }

    /// Renders unsaved drafts of some parts with `ctx`, the rest as the
    /// company has them (`w`) or the files: what the customer would read.
    pub fn preview(
        &self,
        w: &Wording,
        kind: MessageKind,
        drafts: &[(Part, String)],
        ctx: &impl Serialize,
    ) -> Result<(String, Email), (Part, Broken)> {
        let mut env = environment();
        for (part, source) in drafts {
            let name = format!("{kind}/{}", part.file());
            env.add_template_owned(name, source.clone()).map_err(|e| (*part, Broken::of(&e)))?;
        }
        let one = |part: Part| -> Result<String, (Part, Broken)> {
            if drafts.iter().any(|(p, _)| *p == part) {
                let name = format!("{kind}/{}", part.file());
                env.get_template(&name).and_then(|t| t.render(ctx)).map_err(|e| (part, Broken::of(&e)))
            } else {
                self.render_in(w, kind, part, ctx).map_err(|e| (part, Broken { line: 0, reason: e.message }))
            }
        };
        let sms = tidy(&one(Part::Sms)?);
        let email = Email {
            subject: one(Part::Subject)?.lines().next().unwrap_or("").trim().to_string(),
            text: tidy(&one(Part::EmailText)?),
            html: one(Part::EmailHtml)?.trim().to_string(),
        };
        Ok((sms, email))
    }
}

/// Every name a context offers, as templates spell them (`customer.first_name`);
/// lists count as one name (`news`).
pub fn names_in(ctx: &serde_json::Value) -> Vec<String> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) if !m.is_empty() => {
                for (k, v) in m {
                    let name = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&name, v, out);
                }
            }
            _ if !prefix.is_empty() => out.push(prefix.to_string()),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", ctx, &mut out);
    out.sort();
    out
}

/// Names a template sets itself (`{% for n in others %}`, `{% set x = … %}`).
fn is_template_local(source: &str, name: &str) -> bool {
    let root = name.split('.').next().unwrap_or(name);
    source.contains(&format!("for {root} in")) || source.contains(&format!("set {root} ")) || root == "loop"
}

/// The first line (1-based) that mentions `name`.
fn line_of(source: &str, name: &str) -> Option<usize> {
    source.lines().position(|l| l.contains(name)).map(|i| i + 1)
}

/// Trims trailing spaces and collapses runs of blank lines that optional
/// template sections leave behind.
fn tidy(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank = 0;
    for line in s.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_collapses_blank_runs_and_trims() {
        assert_eq!(tidy("  a  \n\n\n\nb\n\n"), "a\n\nb");
    }

    #[test]
    fn a_directory_overrides_one_file_and_keeps_the_rest() {
        let dir = std::env::temp_dir().join(format!("kept-templates-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("messages/reminder")).unwrap();
        std::fs::write(
            dir.join("messages/reminder/sms.txt"),
            "See you tomorrow, {{ customer.first_name }}. {{ link }}",
        )
        .unwrap();
        let t = Templates::load(Some(&dir)).unwrap();
        let ctx = serde_json::json!({"customer": {"first_name": "Nadia"}, "link": "https://k.example/c/x"});
        assert_eq!(t.sms(MessageKind::Reminder, &ctx).unwrap(), "See you tomorrow, Nadia. https://k.example/c/x");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_companys_wording_is_used_and_one_failing_on_a_messages_values_gives_way_to_the_default() {
        let t = Templates::embedded().unwrap();
        let mut ctx = crate::messages::compose::sample_ctx(MessageKind::StatusUpdate);
        let w = Wording::compile([
            (MessageKind::StatusUpdate, Part::Sms, "Hi {{ customer.first_name }}: {{ news[1].text }}".to_string()),
            (MessageKind::StatusUpdate, Part::Subject, "{{ org.name }} checking in".to_string()),
        ]);
        assert!(w.has(MessageKind::StatusUpdate, Part::Sms) && !w.has(MessageKind::StatusUpdate, Part::EmailText));
        let sms = t.sms_in(&w, MessageKind::StatusUpdate, &ctx).unwrap();
        assert!(sms.starts_with("Hi Nadia: We moved your work visit"), "{sms}");
        let email = t.email_in(&w, MessageKind::StatusUpdate, &ctx).unwrap();
        assert_eq!(email.subject, "Harbor & Pine Restoration checking in");
        assert_eq!(email.text, t.email(MessageKind::StatusUpdate, &ctx).unwrap().text, "the rest is the default");
        // A day with one piece of news: our wording fails on it, the default speaks.
        ctx.insert("news".into(), serde_json::json!([{"text": "Parts ordered", "when": "Mon 2:10 PM"}]));
        let sms = t.sms_in(&w, MessageKind::StatusUpdate, &ctx).unwrap();
        assert_eq!(sms, t.sms(MessageKind::StatusUpdate, &ctx).unwrap());
        // Stored wording that no longer compiles is left out.
        let w = Wording::compile([(MessageKind::Reminder, Part::Sms, "{{ broken".to_string())]);
        assert!(!w.has(MessageKind::Reminder, Part::Sms));
    }

    #[test]
    fn every_message_kind_has_its_templates_and_no_folder_is_left_over() {
        let kinds: Vec<&str> = MessageKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(kinds, KINDS);
    }
}
