//! The console for people (`GET /admin`) and its assets (`GET /assets/{version}/{name}`),
//! compiled into this function: same origin as the API, nothing to upload, no build step.
//!
//! `version` is a hash of every asset, so an asset's URL changes whenever any asset does:
//! browsers may keep them a year, while the page itself (which names the version) is never
//! stored. Modules import each other by relative path, so they all load from one version.

use std::sync::OnceLock;

use base64::Engine;
use sha2::{Digest, Sha256};

/// The console's Content-Security-Policy: its own scripts and styles only, no inline
/// script or style, calls only to this origin, never framed.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'self'";

pub struct Asset {
    pub name: &'static str,
    pub body: &'static str,
    pub content_type: &'static str,
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            body: include_str!(concat!("../../../console/assets/", $name)),
            content_type: $type,
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of `console/assets/` (a unit test checks that none is missing).
pub const ASSETS: &[Asset] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("main.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("state.js", JS),
    asset!("errors.js", JS),
    asset!("rules.js", JS),
    asset!("format.js", JS),
    asset!("chart.js", JS),
    asset!("dialog.js", JS),
    asset!("view-signin.js", JS),
    asset!("view-dashboard.js", JS),
    asset!("view-links.js", JS),
    asset!("view-editor.js", JS),
    asset!("view-link.js", JS),
    asset!("view-data.js", JS),
];

const PAGE: &str = include_str!("../../../console/index.html");

/// The hash of every asset's name and body: the `{version}` of their URLs.
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut h = Sha256::new();
        for a in ASSETS {
            h.update(a.name.as_bytes());
            h.update([0]);
            h.update(a.body.as_bytes());
            h.update([0]);
        }
        let digest = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h.finalize());
        digest[..16].to_owned()
    })
}

/// The page, naming the assets of this version.
pub fn page() -> &'static str {
    static HTML: OnceLock<String> = OnceLock::new();
    HTML.get_or_init(|| PAGE.replace("{{ASSETS}}", &format!("/assets/{}", version())))
}

/// The asset `name` of `version`; `None` for another version (an old page after a
/// deploy reloads) or an unknown name.
pub fn asset(version_asked: &str, name: &str) -> Option<&'static Asset> {
    if version_asked != version() {
        return None;
    }
    ASSETS.iter().find(|a| a.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_console_is_served_and_nothing_else() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../console/assets");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        on_disk.sort();
        let mut served: Vec<String> = ASSETS.iter().map(|a| a.name.to_owned()).collect();
        served.sort();
        assert_eq!(on_disk, served);
    }

    #[test]
    fn the_page_names_this_version_and_runs_no_inline_code() {
        let html = page();
        assert!(html.contains(&format!("/assets/{}/main.js", version())));
        assert!(!html.contains("{{"));
        assert!(!html.contains("<style"), "styles come from app.css only");
        assert!(!html.contains(" style="), "no attribute styles either");
        for script in html.split("<script").skip(1) {
            assert!(script.trim_start().starts_with("type=\"module\" src="));
        }
        assert!(asset(version(), "main.js").is_some());
        assert!(asset("old", "main.js").is_none());
        assert!(asset(version(), "../Cargo.toml").is_none());
    }

    #[test]
    fn no_asset_reaches_outside_this_origin_or_writes_html() {
        for a in ASSETS {
            for needle in [
                "from \"http",
                "import(\"http",
                "fetch(\"http",
                "url(http",
                "@import",
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
            ] {
                assert!(!a.body.contains(needle), "{} contains {needle}", a.name);
            }
        }
    }
}
