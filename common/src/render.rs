//! What people look at rather than JSON: a link's QR code as SVG and its stats page, a
//! small server-rendered HTML document with an SVG chart of the daily visits, the
//! breakdowns and the QR code. No JavaScript, no external assets: everything is inline.

use std::collections::BTreeMap;
use std::fmt::Write;

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

use crate::domain::insights::Insight;
use crate::domain::rules::{self, Rule};
use crate::domain::stats::KeyVisits;
use crate::domain::DailyVisits;

pub const QR_DEFAULT_SIZE: u32 = 256;
pub const QR_MIN_SIZE: u32 = 64;
pub const QR_MAX_SIZE: u32 = 2048;

/// A QR code of `text` as an SVG document of about `size` pixels square (the modules are
/// whole pixels, quiet zone included). Medium error correction: it survives print wear.
pub fn qr_svg(text: &str, size: u32) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    Some(
        code.render::<svg::Color<'_>>()
            .min_dimensions(size, size)
            .max_dimensions(size, size)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .build(),
    )
}

/// Text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CHART_W: f64 = 720.0;
const CHART_H: f64 = 220.0;
const PAD_L: f64 = 44.0;
const PAD_B: f64 = 24.0;
const PAD_T: f64 = 12.0;

/// Stacked bars of visits (dark) and bot visits (light) per day, with the day range and
/// the highest count on the axes. Each bar has a `<title>` with its day and counts.
pub fn daily_chart(days: &[DailyVisits]) -> String {
    let mut svg = String::new();
    let max = days
        .iter()
        .map(|d| d.visits + d.bot_visits)
        .max()
        .unwrap_or(0)
        .max(1);
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {CHART_W} {CHART_H}" width="{CHART_W}" height="{CHART_H}" role="img" aria-label="visits per day">"##
    );
    let plot_w = CHART_W - PAD_L - 8.0;
    let plot_h = CHART_H - PAD_T - PAD_B;
    let base = PAD_T + plot_h;
    let _ = write!(
        svg,
        r##"<line x1="{PAD_L}" y1="{base}" x2="{}" y2="{base}" stroke="#888"/><line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{base}" stroke="#888"/>"##,
        PAD_L + plot_w
    );
    let _ = write!(
        svg,
        r##"<text x="{}" y="{}" font-size="11" text-anchor="end" fill="#444">{max}</text><text x="{}" y="{base}" font-size="11" text-anchor="end" fill="#444">0</text>"##,
        PAD_L - 4.0,
        PAD_T + 10.0,
        PAD_L - 4.0
    );
    if !days.is_empty() {
        let slot = plot_w / days.len() as f64;
        let bar = (slot * 0.8).max(0.5);
        for (i, d) in days.iter().enumerate() {
            let x = PAD_L + i as f64 * slot + (slot - bar) / 2.0;
            let h_human = plot_h * d.visits as f64 / max as f64;
            let h_bot = plot_h * d.bot_visits as f64 / max as f64;
            let _ = write!(
                svg,
                r##"<g><title>{}: {} visits, {} bot visits</title><rect x="{x:.2}" y="{:.2}" width="{bar:.2}" height="{h_human:.2}" fill="#2b6cb0"/><rect x="{x:.2}" y="{:.2}" width="{bar:.2}" height="{h_bot:.2}" fill="#a0aec0"/></g>"##,
                d.date,
                d.visits,
                d.bot_visits,
                base - h_human,
                base - h_human - h_bot,
            );
        }
        let first = days.first().map(|d| d.date.to_string()).unwrap_or_default();
        let last = days.last().map(|d| d.date.to_string()).unwrap_or_default();
        let _ = write!(
            svg,
            r##"<text x="{PAD_L}" y="{}" font-size="11" fill="#444">{first}</text><text x="{}" y="{}" font-size="11" text-anchor="end" fill="#444">{last}</text>"##,
            CHART_H - 6.0,
            PAD_L + plot_w,
            CHART_H - 6.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// What the stats page shows.
pub struct StatsPage<'a> {
    pub code: &'a str,
    pub short_url: &'a str,
    /// `None`: the caller may not see it (a password link's target).
    pub url: Option<&'a str>,
    pub created_at: &'a str,
    pub total_visits: u64,
    pub bot_visits: u64,
    pub daily: &'a [DailyVisits],
    pub breakdowns: &'a BTreeMap<&'static str, Vec<KeyVisits>>,
    pub password_protected: bool,
    pub rules: &'a [Rule],
    /// What changed in the last 7 days (`domain::insights`).
    pub insights: &'a [Insight],
}

/// The stats page's only style (no attribute styles: its CSP allows this block by hash).
pub const STATS_STYLE: &str = r#"body{font-family:system-ui,-apple-system,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1a202c}
h1{font-size:1.5rem;margin-bottom:.25rem} .url{color:#4a5568;word-break:break-all}
.totals{display:flex;gap:2rem;margin:1rem 0} .totals div{font-size:.9rem;color:#4a5568} .totals b{display:block;font-size:1.75rem;color:#1a202c}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(14rem,1fr));gap:1rem}
table{border-collapse:collapse;width:100%;font-size:.9rem} th,td{text-align:left;padding:.2rem .4rem;border-bottom:1px solid #e2e8f0} td.n{text-align:right}
.qr{float:right;margin-left:1rem} 
.sw{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 1rem;vertical-align:middle} .sw-h{background:#2b6cb0} .sw-b{background:#a0aec0}
"#;

/// The password form's only style.
pub const PASSWORD_STYLE: &str = r#"body{font-family:system-ui,-apple-system,sans-serif;margin:4rem auto;max-width:24rem;padding:0 1rem;color:#1a202c}
input,button{font:inherit;padding:.5rem;width:100%;box-sizing:border-box;margin:.25rem 0} .error{color:#c53030}
"#;

/// The Content-Security-Policy of a server-made page whose one inline `<style>` is
/// `style`: nothing loads (but its own empty `data:` icon, so that browsers ask for no
/// /favicon.ico), nothing runs, nothing frames it; forms post only back here.
pub fn page_csp(style: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(style));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self' data:; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    )
}

/// The whole HTML document: self-contained, no script.
pub fn stats_page(p: &StatsPage<'_>) -> String {
    let mut html = String::new();
    let code = escape(p.code);
    let _ = write!(
        html,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,"><meta name="robots" content="noindex"><title>Stats of {code}</title><style>{STATS_STYLE}</style></head><body>"#
    );
    let _ = write!(
        html,
        r#"<div class="qr" title="QR code of {short}">{qr}</div><h1>{code}</h1><p><a href="{short}">{short}</a> &rarr; <span class="url">{url}</span></p><p>Created {created}</p>"#,
        short = escape(p.short_url),
        url = match p.url {
            Some(url) => escape(url),
            None => "<i>hidden: only the owner sees a password link's target</i>".to_owned(),
        },
        created = escape(p.created_at),
        qr = qr_svg(p.short_url, 160).unwrap_or_default(),
    );
    if p.password_protected {
        html.push_str(r#"<p id="password-protected">&#128274; Password protected: visitors enter the password before they are sent on.</p>"#);
    }
    if !p.rules.is_empty() {
        html.push_str(r#"<h2>Redirect rules</h2><table id="rules"><tr><th>#</th><th>when</th><th>to</th></tr>"#);
        let json = rules::to_json(p.rules);
        for (i, rule) in json.as_array().into_iter().flatten().enumerate() {
            let when: Vec<String> = rule["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| match c["key"].as_str() {
                    Some(k) => format!("query {k} = {}", c["value"].as_str().unwrap_or("")),
                    None => format!(
                        "{} = {}",
                        c["type"].as_str().unwrap_or(""),
                        c["value"].as_str().unwrap_or("")
                    ),
                })
                .collect();
            let _ = write!(
                html,
                r#"<tr><td>{}</td><td>{}</td><td class="url">{}</td></tr>"#,
                i + 1,
                escape(&when.join(" and ")),
                escape(rule["url"].as_str().unwrap_or(""))
            );
        }
        html.push_str("</table><p>Other visitors go to the link's URL.</p>");
    }
    html.push_str(r#"<h2>Insights</h2><ul id="insights">"#);
    if p.insights.is_empty() {
        html.push_str("<li>Nothing stands out in the last 7 days.</li>");
    }
    for insight in p.insights {
        let _ = write!(
            html,
            r#"<li data-type="{}">{}</li>"#,
            escape(insight.kind.as_str()),
            escape(&insight.message)
        );
    }
    html.push_str("</ul>");
    let _ = write!(
        html,
        r#"<div class="totals"><div><b id="total-visits">{}</b>visits</div><div><b id="bot-visits">{}</b>bot visits</div><div><b>{}</b>days shown</div></div>"#,
        p.total_visits,
        p.bot_visits,
        p.daily.len()
    );
    let _ = write!(
        html,
        r##"<h2>Visits per day</h2><p class="legend"><span class="sw sw-h"></span>visits<span class="sw sw-b"></span>bot visits</p>{}<h2>Breakdowns</h2><div class="grid">"##,
        daily_chart(p.daily)
    );
    for (name, list) in p.breakdowns {
        let _ = write!(
            html,
            "<section><h3>{name}</h3><table><tr><th>key</th><th>visits</th></tr>"
        );
        if list.is_empty() {
            html.push_str(r#"<tr><td colspan="2">no visits yet</td></tr>"#);
        }
        for kv in list {
            let _ = write!(
                html,
                r#"<tr><td>{}</td><td class="n">{}</td></tr>"#,
                escape(&kv.key),
                kv.visits
            );
        }
        html.push_str("</table></section>");
    }
    html.push_str("</div></body></html>");
    html
}

/// The page a password link answers `GET` with: a form that posts the password back to
/// the same URL (its query string included, for forwarding and rules). No script; the
/// error of a wrong try when there was one.
pub fn password_page(code: &str, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, escape(e)))
        .unwrap_or_default();
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,"><meta name="robots" content="noindex, nofollow"><title>Password required</title><style>{PASSWORD_STYLE}</style></head><body><h1>Password required</h1><p>The link <b>{code}</b> is protected by a password.</p>{error}<form method="post"><label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required minlength="{min}" maxlength="{max}" autofocus><button type="submit">Continue</button></form></body></html>"#,
        code = escape(code),
        min = crate::domain::password::MIN_PASSWORD_CHARS,
        max = crate::domain::password::MAX_PASSWORD_CHARS,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn password_page_posts_back_and_escapes() {
        let html = password_page("a<b", Some("Wrong <password>"));
        assert!(
            html.contains(r#"<form method="post">"#),
            "posts to its own URL"
        );
        assert!(html.contains(r#"name="password" type="password""#));
        assert!(html.contains("a&lt;b") && html.contains("Wrong &lt;password&gt;"));
        assert!(html.contains("noindex") && !html.contains("<script"));
        assert!(!password_page("abc", None).contains("class=\"error\""));
    }

    fn day(d: &str, visits: u64, bot_visits: u64) -> DailyVisits {
        DailyVisits {
            date: NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap(),
            visits,
            bot_visits,
        }
    }

    #[test]
    fn qr_is_an_svg_of_the_asked_size() {
        let svg = qr_svg("https://sho.rt/abc", 256).unwrap();
        assert!(svg.starts_with("<?xml") && svg.contains("<svg") && svg.ends_with("</svg>"));
        let width = |svg: &str| -> u32 {
            let at = svg.find("width=\"").unwrap() + 7;
            svg[at..].split('"').next().unwrap().parse().unwrap()
        };
        // Whole-pixel modules: as close to the size as fits, never over it.
        assert!((200..=256).contains(&width(&svg)), "{}", width(&svg));
        let big = qr_svg("https://sho.rt/abc", 1024).unwrap();
        assert!((900..=1024).contains(&width(&big)), "{}", width(&big));
        assert!(
            qr_svg(&"x".repeat(5000), 256).is_none(),
            "too long for a QR code"
        );
    }

    #[test]
    fn escaping() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn chart_has_a_bar_per_day_scaled_to_the_highest() {
        let days = [
            day("2026-01-01", 4, 0),
            day("2026-01-02", 0, 0),
            day("2026-01-03", 2, 2),
        ];
        let svg = daily_chart(&days);
        assert_eq!(svg.matches("<title>").count(), 3);
        assert!(svg.contains("2026-01-03: 2 visits, 2 bot visits"));
        assert!(svg.contains(">4</text>"), "the axis shows the highest day");
        assert!(svg.contains(">2026-01-01</text>") && svg.contains(">2026-01-03</text>"));
        // The tallest stack fills the plot height.
        assert!(svg.contains(&format!(r#"height="{:.2}""#, CHART_H - PAD_T - PAD_B)));
        let empty = daily_chart(&[]);
        assert!(empty.starts_with("<svg") && empty.ends_with("</svg>"));
    }

    #[test]
    fn page_is_self_contained_and_escaped() {
        let days = [day("2026-01-01", 1, 0)];
        let breakdowns = BTreeMap::from([(
            "referrers",
            vec![KeyVisits {
                key: "<b>x</b>".into(),
                visits: 1,
            }],
        )]);
        let html = stats_page(&StatsPage {
            code: "abc",
            short_url: "https://sho.rt/abc",
            url: Some("https://example.com/?q=<script>alert(1)</script>"),
            created_at: "2026-01-01T00:00:00.000Z",
            total_visits: 1,
            bot_visits: 0,
            daily: &days,
            breakdowns: &breakdowns,
            password_protected: true,
            rules: &crate::domain::rules::parse(
                &serde_json::json!([{"url": "https://example.com/<m>", "conditions": [{"type": "device", "value": "mobile"}, {"type": "query", "key": "k", "value": "v"}]}]),
                &Default::default(),
                &[],
            )
            .unwrap(),
            insights: &[Insight {
                kind: crate::domain::insights::InsightKind::NewReferrer,
                message: "new referrer <evil>.example".into(),
                figures: serde_json::json!({}),
            }],
        });
        assert!(
            html.contains(r#"<li data-type="new_referrer">new referrer &lt;evil&gt;.example</li>"#)
        );
        assert!(html.contains(r#"id="password-protected""#));
        assert!(html.contains("device = mobile and query k = v"));
        assert!(
            html.contains("https://example.com/&lt;m&gt;"),
            "the rule's URL, escaped"
        );
        assert!(!html.contains("<script"), "no script, and none injected");
        assert!(html.contains("&lt;script&gt;") && html.contains("&lt;b&gt;x&lt;/b&gt;"));
        assert!(
            !html.contains("src=\"http")
                && html.matches("<link ").count()
                    == html.matches(r#"<link rel="icon" href="data:,">"#).count(),
            "no external assets"
        );
        assert!(html.contains(r#"<b id="total-visits">1</b>"#));
        assert_eq!(html.matches("<svg").count(), 2, "the chart and the QR code");
    }

    #[test]
    fn each_page_csp_allows_exactly_its_own_style_block() {
        use base64::Engine;
        use sha2::Digest;
        let pages = [
            (password_page("abc", None), PASSWORD_STYLE),
            (
                stats_page(&StatsPage {
                    code: "abc",
                    short_url: "https://sho.rt/abc",
                    url: Some("https://example.com/"),
                    created_at: "2026-12-02T00:00:00Z",
                    total_visits: 0,
                    bot_visits: 0,
                    daily: &[],
                    breakdowns: &BTreeMap::new(),
                    password_protected: false,
                    rules: &[],
                    insights: &[],
                }),
                STATS_STYLE,
            ),
        ];
        for (html, style) in pages {
            let inline = html
                .split_once("<style>")
                .and_then(|(_, rest)| rest.split_once("</style>"))
                .map(|(css, _)| css)
                .unwrap();
            assert_eq!(html.matches("<style").count(), 1);
            assert!(
                !html.contains(" style="),
                "no attribute style: the CSP forbids it"
            );
            let hash = base64::engine::general_purpose::STANDARD
                .encode(sha2::Sha256::digest(inline.as_bytes()));
            let csp = page_csp(style);
            assert!(csp.contains(&format!("'sha256-{hash}'")), "{csp}");
            assert!(
                csp.starts_with("default-src 'none'") && csp.contains("frame-ancestors 'none'")
            );
            assert!(!csp.contains("unsafe"));
        }
    }
}
