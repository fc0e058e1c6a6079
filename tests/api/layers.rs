//! Dependencies run one way. This reads every `crate::…` path in `src/`
//! (in `use` lines and inline) and fails, naming the file and the line,
//! when a module reaches up into a layer above it:
//!
//! domain (pure) ← entities, db, clock, config ← store (data access)
//!   ← live (the events bus) ← messages (drafting, the outbox) ← usecases
//!   ← notify (the ticks) ← api / web / webhooks (HTTP) ← startup, main.
//!
//! The HTTP modules do not call one another: the JSON API and the pages
//! share use cases, not handlers (startup merges their routers).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Top-level modules a layer must never name.
fn forbidden(layer: &str) -> &'static [&'static str] {
    match layer {
        "domain" => &[
            "entities", "db", "clock", "config", "error", "store", "live", "messages", "usecases", "notify", "limits",
            "api", "web", "webhooks", "startup", "auth", "access", "demo", "backup",
        ],
        "entities" => {
            &["db", "store", "live", "messages", "usecases", "notify", "api", "web", "webhooks", "startup", "auth"]
        }
        "store" => &[
            "live", "messages", "usecases", "notify", "limits", "api", "web", "webhooks", "startup", "auth", "access",
            "demo", "backup",
        ],
        "messages" => {
            &["usecases", "notify", "limits", "api", "web", "webhooks", "startup", "auth", "access", "demo", "backup"]
        }
        "usecases" => &["notify", "limits", "api", "web", "webhooks", "startup", "auth", "access", "demo", "backup"],
        // The live events bus: published from use cases, the notifier and the
        // webhooks, read by the API's stream; it knows none of them.
        "live" => &[
            "store",
            "messages",
            "usecases",
            "notify",
            "limits",
            "api",
            "web",
            "webhooks",
            "startup",
            "routes",
            "auth",
            "access",
            "demo",
            "backup",
            "state",
            "pages",
            "http_error",
        ],
        "notify" => &["api", "web", "webhooks", "startup", "auth", "access", "demo", "backup"],
        // Who is calling and what they may touch: read from the request and
        // the database, never from the application that assembles them.
        "auth" | "access" => &["startup", "routes", "api", "web", "webhooks", "notify", "usecases", "demo", "backup"],
        // What handlers reach, and the error they answer with: below every HTTP layer.
        "state" => &["api", "web", "webhooks", "startup", "routes", "auth", "access", "demo", "backup"],
        "http_error" => &[
            "store", "messages", "usecases", "notify", "api", "web", "webhooks", "startup", "routes", "auth", "access",
            "demo", "backup", "state",
        ],
        // The page templates: data, below every HTTP layer.
        "pages" => &["store", "messages", "usecases", "notify", "api", "web", "webhooks", "startup", "routes", "state"],
        // The HTTP layers stand side by side; `routes` assembles them.
        "api" => &["web", "webhooks", "startup", "routes"],
        "webhooks" => &["api", "web", "startup", "routes"],
        "web" => &["api", "webhooks", "startup", "routes"],
        _ => &[],
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/store/visits.rs` → `store`; `src/db.rs` → `db`.
fn layer_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("a component").as_os_str().to_string_lossy().to_string();
    first.trim_end_matches(".rs").to_string()
}

/// How many `super::` lead from the file's module to the crate root:
/// `src/web/customer.rs` (web::customer) → 2, `src/web/mod.rs` (web) → 1.
fn depth_of(src: &Path, file: &Path) -> usize {
    let rel = file.strip_prefix(src).expect("under src");
    let parts = rel.components().count();
    if rel.file_name().is_some_and(|f| f == "mod.rs") {
        parts - 1
    } else {
        parts
    }
}

/// Every `crate::name` outside comments, with its line number, and every
/// `super::…::name` that climbs `depth` levels, to the crate root.
fn crate_paths(text: &str, depth: usize) -> Vec<(usize, String)> {
    let to_root = "super::".repeat(depth.max(1));
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for prefix in ["crate::", to_root.as_str()] {
            let mut from = 0;
            while let Some(found) = code[from..].find(prefix) {
                let at = from + found;
                let after = &code[at + prefix.len()..];
                let name: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                // A `super::` chain reaches the root only if it is the whole chain.
                let whole = prefix == "crate::" || !code[..at].ends_with("super::");
                if !name.is_empty() && name != "super" && whole {
                    out.push((i + 1, name));
                }
                from = at + prefix.len();
            }
        }
    }
    out
}

#[test]
fn no_module_reaches_up_into_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 50, "found the sources");
    let mut violations = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for file in &files {
        let layer = layer_of(&src, file);
        let text = std::fs::read_to_string(file).expect("read");
        for (line, name) in crate_paths(&text, depth_of(&src, file)) {
            *seen.entry(layer.clone()).or_default() += 1;
            if forbidden(&layer).contains(&name.as_str()) {
                violations.push(format!(
                    "{}:{line}: {layer} must not use crate::{name}",
                    file.strip_prefix(&src).unwrap().display()
                ));
            }
        }
    }
    for layer in ["store", "live", "messages", "usecases", "notify", "api", "web"] {
        assert!(seen.get(layer).copied().unwrap_or(0) > 0, "the check saw no paths in {layer}");
    }
    assert!(violations.is_empty(), "imports against the layering:\n{}", violations.join("\n"));
}

/// Top-level modules and the ones each names.
fn module_graph() -> BTreeMap<String, std::collections::BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let module = layer_of(&src, file);
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("read");
        for (_, name) in crate_paths(&text, depth_of(&src, file)) {
            if name != module {
                graph.entry(module.clone()).or_default().insert(name);
            }
        }
    }
    graph
}

/// A path from `from` back to itself through the graph, if there is one.
fn circle_through(graph: &BTreeMap<String, std::collections::BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, std::collections::BTreeSet<String>>,
        goal: &str,
        at: &str,
        path: &mut Vec<String>,
        seen: &mut std::collections::BTreeSet<String>,
    ) -> bool {
        for next in graph.get(at).into_iter().flatten() {
            if next == goal {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, goal, next, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![from.to_string()];
    walk(graph, from, from, &mut path, &mut Default::default()).then_some(path)
}

#[test]
fn no_import_circle_among_top_level_modules() {
    let graph = module_graph();
    assert!(graph.len() > 15, "found the modules");
    let circles: Vec<String> = graph.keys().filter_map(|m| circle_through(&graph, m)).map(|c| c.join(" → ")).collect();
    assert!(circles.is_empty(), "import circles:\n{}", circles.join("\n"));
}

#[test]
fn the_circle_finder_finds_a_circle_and_nothing_else() {
    let graph: BTreeMap<String, std::collections::BTreeSet<String>> =
        [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a", "d"]), ("d", vec![])]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
            .collect();
    assert_eq!(circle_through(&graph, "a"), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
    assert_eq!(circle_through(&graph, "d"), None);
}

#[test]
fn the_checker_catches_a_path_in_code_and_ignores_one_in_a_comment() {
    let text =
        "use crate::store::visits;\n// crate::api is only mentioned\nlet x = crate::notify::plan(); // crate::web\n";
    let names: Vec<(usize, String)> = crate_paths(text, 1);
    assert_eq!(names, vec![(1, "store".to_string()), (3, "notify".to_string())]);
    assert!(forbidden("store").contains(&"notify"));
    assert!(forbidden("usecases").contains(&"api"));
    assert!(!forbidden("api").contains(&"usecases"));
    assert!(forbidden("web").contains(&"api") && forbidden("api").contains(&"web"));
}

#[test]
fn the_checker_follows_super_up_to_the_crate_root() {
    let src = Path::new("/k/src");
    assert_eq!(depth_of(src, &src.join("web/customer.rs")), 2);
    assert_eq!(depth_of(src, &src.join("web/staff/mod.rs")), 2);
    assert_eq!(depth_of(src, &src.join("web/staff/job.rs")), 3);
    assert_eq!(depth_of(src, &src.join("web/mod.rs")), 1);
    let text = "let id = super::super::api::path_id(&id);\nuse super::extract::SignedIn;\n";
    assert_eq!(crate_paths(text, 2), vec![(1, "api".to_string())], "two levels up from web::customer is the root");
    assert_eq!(crate_paths(text, 3), vec![], "three levels up from web::staff::job is not reached here");
    assert_eq!(crate_paths("use super::super::super::store;", 2), vec![], "a longer chain is not the root plus one");
}
