//! `soak --url URL --state FILE --seconds N --admin-key K --user-key K --revoked-key K
//! [--phase run|verify] [--wait SECONDS]`: the traffic of `make soak` (scripts/soak.sh),
//! and the final check.
//!
//! `run` sends mixed traffic for N seconds with a few requests in flight: creates
//! (anonymous, owned, with aliases, with a visit cap, with a key that the script revokes
//! between the two runs: refused with 401 after it), human visits with referrers and UTM
//! sources, bot visits, PATCH of caps and `disabled`, deletes, and bursts (a bulk of 20, an
//! import of 20 rows, 40 aliases of one URL at once, each link then deleted). What the API answered is
//! what is expected later: a visit counts when it was answered 302. The expectations are
//! kept in the state file, so a second run (after `make dev` restarted) goes on from them.
//!
//! `verify` waits for the aggregator, then checks every link: its stats equal what was
//! sent (human and bot visits apart); the all-time and today's rankings equal them (the
//! soak keeps fewer links than a ranking shows); deleted links are gone (404, in no
//! ranking); no link capped at creation counted more than its cap. Exit code 1 on any miss.

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use loadgen::{check_ranking, RANKING_LIMIT};
use reqwest::{redirect, Client, StatusCode};
use serde_json::{json, Value};

const BROWSER_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                          Chrome/131.0.0.0 Safari/537.36";
const BOT_UA: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
const REFERRERS: [&str; 4] = [
    "https://news.ycombinator.com/",
    "https://www.reddit.com/r/rust/",
    "https://t.co/abc",
    "",
];
const SOURCES: [&str; 3] = ["newsletter", "twitter", ""];
/// Links kept alive at most: every one fits in a ranking of `RANKING_LIMIT`.
const MAX_LINKS: usize = 60;
const IN_FLIGHT: usize = 6;

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct Expected {
    /// "anonymous", "user" or "revoked": who created it.
    by: String,
    humans: u64,
    bots: u64,
    /// A cap set at creation and never changed: counted visits must stay within it.
    creation_cap: Option<u64>,
    deleted: bool,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct State {
    links: BTreeMap<String, Expected>,
    /// What was sent and answered, for the summary: action -> status -> count.
    tally: BTreeMap<String, BTreeMap<u16, u64>>,
    errors: u64,
    day: Option<String>,
}

struct Args {
    url: String,
    state: String,
    seconds: u64,
    admin: String,
    user: String,
    revoked: String,
    phase: String,
    wait: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut map: HashMap<String, String> = HashMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        map.insert(flag, v);
    }
    let mut take = |k: &str| map.remove(k).ok_or(format!("{k} is required"));
    Ok(Args {
        url: take("--url")?.trim_end_matches('/').to_owned(),
        state: take("--state")?,
        seconds: take("--seconds").and_then(|s| s.parse().map_err(|_| "--seconds".into()))?,
        admin: take("--admin-key")?,
        user: take("--user-key")?,
        revoked: take("--revoked-key")?,
        phase: take("--phase").unwrap_or_else(|_| "run".into()),
        wait: Duration::from_secs(
            take("--wait")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(120),
        ),
    })
}

fn load(path: &str) -> State {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn pick<T: Copy>(items: &[T]) -> T {
    items[fastrand::usize(..items.len())]
}

struct Ctx {
    client: Client,
    args: Args,
    state: Mutex<State>,
    /// After the key was revoked (the second run): its requests must get 401.
    key_revoked: bool,
}

impl Ctx {
    fn tally(&self, action: &str, status: Option<StatusCode>) {
        let mut s = self.state.lock().unwrap();
        match status {
            // A 5xx is a failed request too: the service must never fail on this mix.
            Some(st) if st.is_server_error() => {
                s.errors += 1;
                *s.tally
                    .entry(action.to_owned())
                    .or_default()
                    .entry(st.as_u16())
                    .or_default() += 1
            }
            Some(st) => {
                *s.tally
                    .entry(action.to_owned())
                    .or_default()
                    .entry(st.as_u16())
                    .or_default() += 1
            }
            None => s.errors += 1,
        }
    }

    /// A random link that is not deleted, optionally only those `by` made.
    fn alive(&self, by: Option<&str>) -> Option<String> {
        let s = self.state.lock().unwrap();
        let codes: Vec<&String> = s
            .links
            .iter()
            .filter(|(_, e)| !e.deleted && by.is_none_or(|b| e.by == b))
            .map(|(c, _)| c)
            .collect();
        (!codes.is_empty()).then(|| codes[fastrand::usize(..codes.len())].clone())
    }

    async fn create(&self) {
        let alive = self
            .state
            .lock()
            .unwrap()
            .links
            .values()
            .filter(|e| !e.deleted)
            .count();
        if alive >= MAX_LINKS {
            return self.visit(true).await;
        }
        let n = fastrand::u64(..1_000_000_000);
        let (by, key) = match fastrand::u8(..4) {
            0 => ("anonymous", None),
            1 => ("revoked", Some(&self.args.revoked)),
            _ => ("user", Some(&self.args.user)),
        };
        let mut body = json!({ "url": format!("https://example.com/soak/{n}") });
        if by == "user" && fastrand::bool() {
            body["alias"] = json!(format!("soak-{n}"));
        }
        // A cap is set by PATCH right after the create (POST /links takes url and alias):
        // before any visit, so it is exact from the first one.
        let cap = (by == "user" && fastrand::u8(..4) == 0).then(|| fastrand::u64(2..6));
        let mut req = self
            .client
            .post(format!("{}/links", self.args.url))
            .json(&body);
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().await;
        let action = format!("create ({by})");
        let Ok(resp) = resp else {
            return self.tally(&action, None);
        };
        let status = resp.status();
        self.tally(&action, Some(status));
        if by == "revoked" && self.key_revoked {
            if status != StatusCode::UNAUTHORIZED {
                self.state.lock().unwrap().errors += 1;
                eprintln!("MISS: a revoked key created a link: {status}");
            }
            return;
        }
        if status == StatusCode::CREATED || status == StatusCode::OK {
            let Ok(v) = resp.json::<Value>().await else {
                return;
            };
            let Some(code) = v["code"].as_str() else {
                return;
            };
            let mut creation_cap = None;
            if let Some(c) = cap {
                let resp = self
                    .client
                    .patch(format!("{}/links/{code}", self.args.url))
                    .bearer_auth(&self.args.user)
                    .json(&json!({ "max_visits": c }))
                    .send()
                    .await;
                let status = resp.as_ref().ok().map(|r| r.status());
                self.tally("patch (cap at creation)", status);
                creation_cap = (status == Some(StatusCode::OK)).then_some(c);
            }
            let mut s = self.state.lock().unwrap();
            let e = s.links.entry(code.to_owned()).or_default();
            // The same URL twice gives the same code: only a new or deleted one starts over.
            if e.by.is_empty() || e.deleted {
                *e = Expected {
                    by: by.to_owned(),
                    creation_cap,
                    ..Default::default()
                };
            }
        }
    }

    async fn visit(&self, human: bool) {
        let Some(code) = self.alive(None) else {
            return;
        };
        let mut url = format!("{}/{code}", self.args.url);
        let source = pick(&SOURCES);
        if !source.is_empty() {
            url.push_str(&format!("?utm_source={source}"));
        }
        let mut req = self
            .client
            .get(url)
            .header("user-agent", if human { BROWSER_UA } else { BOT_UA });
        let referrer = pick(&REFERRERS);
        if !referrer.is_empty() {
            req = req.header("referer", referrer);
        }
        let action = if human {
            "visit (human)"
        } else {
            "visit (bot)"
        };
        match req.send().await {
            Ok(resp) => {
                let status = resp.status();
                self.tally(action, Some(status));
                if status == StatusCode::FOUND {
                    let mut s = self.state.lock().unwrap();
                    if let Some(e) = s.links.get_mut(&code) {
                        if human {
                            e.humans += 1;
                        } else {
                            e.bots += 1;
                        }
                    }
                }
            }
            Err(_) => self.tally(action, None),
        }
    }

    /// The key that manages links `by` made: the user's own, an admin's for the others
    /// (anonymous links, and the revoked key's, which it can no longer manage itself).
    /// The hostile mix, one action in a hundred: a burst of creates of one of three kinds, a
    /// bulk of 20 links, an import of 20 CSV rows, or 40 aliases of one URL sent at once;
    /// then each link it made is deleted (so that the live links stay within a ranking).
    /// Every answer, each item's included, is tallied: a 5xx or no answer is a miss.
    async fn burst(&self) {
        let tag = format!("b{:x}", fastrand::u64(..));
        let base = &self.args.url;
        let user = &self.args.user;
        let mut codes = Vec::new();
        match fastrand::u8(..3) {
            0 => {
                let links: Vec<Value> = (0..20)
                    .map(|i| json!({ "url": format!("https://soak.example/{tag}/bulk/{i}") }))
                    .collect();
                let req = self
                    .client
                    .post(format!("{base}/links/bulk"))
                    .bearer_auth(user);
                let resp = req.json(&json!({ "links": links })).send().await;
                codes = self.item_codes("burst: bulk of 20", resp).await;
            }
            1 => {
                let mut csv = String::from("\u{feff}Long URL,Short code,Title,Tags\r\n");
                for i in 0..20 {
                    csv.push_str(&format!(
                        "https://soak.example/{tag}/import/{i},{tag}-i{i},\"Row {i}, \"\"quoted\"\"\",soak|burst\r\n"
                    ));
                }
                let resp = self
                    .client
                    .post(format!("{base}/links/import?on_conflict=generate"))
                    .bearer_auth(user)
                    .header("content-type", "text/csv")
                    .body(csv)
                    .send()
                    .await;
                codes = self.item_codes("burst: import of 20 rows", resp).await;
            }
            _ => {
                let url = format!("https://soak.example/{tag}/aliased");
                let sends = (0..40).map(|i| {
                    let body = json!({ "url": url, "alias": format!("{tag}-a{i}") });
                    let req = self.client.post(format!("{base}/links")).bearer_auth(user);
                    req.json(&body).send()
                });
                for resp in futures::future::join_all(sends).await {
                    let status = resp.as_ref().ok().map(|r| r.status());
                    self.tally("burst: 40 aliases of one URL at once", status);
                    if status == Some(StatusCode::CREATED) {
                        if let Ok(v) = resp.unwrap().json::<Value>().await {
                            codes.extend(v["code"].as_str().map(str::to_owned));
                        }
                    }
                }
            }
        }
        {
            let mut s = self.state.lock().unwrap();
            for code in &codes {
                s.links.insert(
                    code.clone(),
                    Expected {
                        by: "burst".into(),
                        ..Default::default()
                    },
                );
            }
        }
        for code in codes {
            // 404 too: gone all the same (and a miss, counted by send_delete).
            if let Some(StatusCode::NO_CONTENT | StatusCode::NOT_FOUND) =
                self.send_delete("burst: delete", &code, user).await
            {
                self.state
                    .lock()
                    .unwrap()
                    .links
                    .get_mut(&code)
                    .unwrap()
                    .deleted = true;
            }
        }
    }

    /// One `DELETE /links/{code}` of a link the soak holds alive, tallied under `action`;
    /// a 404 for it is a miss of the API (verify reports the link as gone).
    async fn send_delete(&self, action: &str, code: &str, key: &str) -> Option<StatusCode> {
        let resp = self
            .client
            .delete(format!("{}/links/{code}", self.args.url))
            .bearer_auth(key)
            .send()
            .await;
        let status = resp.as_ref().ok().map(|r| r.status());
        self.tally(action, status);
        if status == Some(StatusCode::NOT_FOUND) {
            eprintln!("MISS: DELETE /links/{code} of a live link answered 404");
            self.state.lock().unwrap().errors += 1;
        }
        status
    }

    /// A bulk or import answer: the request and each item tallied, the codes made (201).
    async fn item_codes(
        &self,
        action: &str,
        resp: Result<reqwest::Response, reqwest::Error>,
    ) -> Vec<String> {
        let status = resp.as_ref().ok().map(|r| r.status());
        self.tally(action, status);
        let Some(body) = (match resp {
            Ok(r) if r.status() == StatusCode::OK => r.json::<Value>().await.ok(),
            _ => None,
        }) else {
            return Vec::new();
        };
        let mut codes = Vec::new();
        for item in body["results"].as_array().into_iter().flatten() {
            let status = item["status"]
                .as_u64()
                .and_then(|s| StatusCode::from_u16(s as u16).ok());
            self.tally(&format!("{action} (item)"), status);
            if status == Some(StatusCode::CREATED) {
                codes.extend(item["link"]["code"].as_str().map(str::to_owned));
            }
        }
        codes
    }

    fn manager_key(&self, by: &str) -> &str {
        if by == "user" {
            &self.args.user
        } else {
            &self.args.admin
        }
    }

    async fn patch(&self) {
        // The user's links, and the revoked key's by an admin: once the live links are all
        // the revoked key's, the soak must still patch and delete after the restart.
        let by = if fastrand::bool() { "user" } else { "revoked" };
        let Some(code) = self.alive(Some(by)) else {
            return;
        };
        let body = if fastrand::bool() {
            json!({ "disabled": fastrand::bool() })
        } else {
            let humans = self.state.lock().unwrap().links[&code].humans;
            json!({ "max_visits": humans + fastrand::u64(3..20) })
        };
        let resp = self
            .client
            .patch(format!("{}/links/{code}", self.args.url))
            .bearer_auth(self.manager_key(by))
            .json(&body)
            .send()
            .await;
        let status = resp.as_ref().ok().map(|r| r.status());
        self.tally("patch", status);
        if status == Some(StatusCode::OK) {
            if let Some(e) = self.state.lock().unwrap().links.get_mut(&code) {
                e.creation_cap = None;
            }
        }
    }

    async fn delete(&self) {
        let by = ["user", "anonymous", "revoked"][fastrand::usize(..3)];
        // Picked and marked under one lock: a visit racing the delete must not count
        // towards a live link, and two workers must not delete the same link (the second
        // would see 404 and, un-marking it, leave the soak expecting a deleted link).
        let code = {
            let mut s = self.state.lock().unwrap();
            let codes: Vec<&String> = s
                .links
                .iter()
                .filter(|(_, e)| !e.deleted && e.by == by)
                .map(|(c, _)| c)
                .collect();
            if codes.is_empty() {
                return;
            }
            let code = codes[fastrand::usize(..codes.len())].clone();
            s.links.get_mut(&code).unwrap().deleted = true;
            code
        };
        let status = self
            .send_delete("delete", &code, self.manager_key(by))
            .await;
        // 404: gone all the same (and a miss of the API that verify reports, as the link
        // was alive as far as the soak knows); anything else leaves the link as it was.
        if status != Some(StatusCode::NO_CONTENT) && status != Some(StatusCode::NOT_FOUND) {
            self.state
                .lock()
                .unwrap()
                .links
                .get_mut(&code)
                .unwrap()
                .deleted = false;
        }
    }
}

/// No burst in the first seconds of a phase: make dev has just started DynamoDB Local, whose
/// JVM is still compiling its hot paths (the first import of a CI run, at that moment, had 6
/// of its 20 items time out at 3 s; the same import a little later, none).
const BURSTS_AFTER: Duration = Duration::from_secs(10);

async fn worker(ctx: Arc<Ctx>, until: Instant) {
    let bursts_from = Instant::now() + BURSTS_AFTER;
    while Instant::now() < until {
        match fastrand::u8(..100) {
            0..10 => ctx.create().await,
            10..65 => ctx.visit(true).await,
            65..88 => ctx.visit(false).await,
            88..95 => ctx.patch().await,
            95..99 => ctx.delete().await,
            // The hostile mix: 1 in 100 (a burst every few seconds).
            _ if Instant::now() >= bursts_from => ctx.burst().await,
            _ => ctx.create().await,
        }
    }
}

async fn run(ctx: Arc<Ctx>) -> bool {
    let bar = ProgressBar::new(ctx.args.seconds);
    bar.set_style(
        ProgressStyle::with_template("{spinner} soak [{elapsed_precise}] {wide_bar} {pos}/{len} s")
            .expect("a valid template"),
    );
    let until = Instant::now() + Duration::from_secs(ctx.args.seconds);
    let workers: Vec<_> = (0..IN_FLIGHT)
        .map(|_| tokio::spawn(worker(ctx.clone(), until)))
        .collect();
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(500)).await;
        bar.set_position(
            ctx.args
                .seconds
                .saturating_sub(until.saturating_duration_since(Instant::now()).as_secs()),
        );
    }
    for w in workers {
        let _ = w.await;
    }
    bar.finish();
    true
}

async fn get_json(ctx: &Ctx, path: &str) -> Result<(StatusCode, Value), String> {
    let resp = ctx
        .client
        .get(format!("{}{path}", ctx.args.url))
        .bearer_auth(&ctx.args.admin)
        .send()
        .await
        .map_err(|e| format!("GET {path}: {e}"))?;
    let status = resp.status();
    Ok((status, resp.json().await.unwrap_or(Value::Null)))
}

async fn verify(ctx: &Ctx) -> Vec<String> {
    let mut misses = Vec::new();
    let links = ctx.state.lock().unwrap().links.clone();
    for (code, e) in &links {
        let (status, body) = match get_json(ctx, &format!("/links/{code}/stats")).await {
            Ok(r) => r,
            Err(err) => {
                misses.push(err);
                continue;
            }
        };
        if e.deleted {
            if status != StatusCode::NOT_FOUND {
                misses.push(format!("{code}: deleted, but its stats answered {status}"));
            }
            continue;
        }
        let (humans, bots) = (body["total_visits"].as_u64(), body["bot_visits"].as_u64());
        if status != StatusCode::OK || humans != Some(e.humans) || bots != Some(e.bots) {
            misses.push(format!(
                "{code}: stats {status} {humans:?} human / {bots:?} bot visits, sent {} / {}",
                e.humans, e.bots
            ));
        }
        if let Some(cap) = e.creation_cap {
            if e.humans > cap {
                misses.push(format!(
                    "{code}: {} visits counted over its cap of {cap}",
                    e.humans
                ));
            }
        }
    }
    let sent: HashMap<String, u64> = links
        .iter()
        .filter(|(_, e)| !e.deleted && e.humans > 0)
        .map(|(c, e)| (c.clone(), e.humans))
        .collect();
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    let day_ok = ctx.state.lock().unwrap().day.as_deref() == Some(today.as_str());
    let mut periods = vec![format!("/stats?period=all&limit={RANKING_LIMIT}")];
    if day_ok {
        periods.push(format!(
            "/stats?period=day&date={today}&limit={RANKING_LIMIT}"
        ));
    }
    for path in periods {
        let started = Instant::now();
        loop {
            let why = match get_json(ctx, &path).await {
                Ok((StatusCode::OK, body)) => {
                    let ranked: Vec<&str> = body["links"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|l| l["code"].as_str())
                        .collect();
                    match check_ranking(&body, &sent) {
                        Err(why) => Some(why),
                        Ok(_) => ranked
                            .iter()
                            .find(|c| links.get(**c).is_some_and(|e| e.deleted))
                            .map(|c| format!("{c} was deleted but is ranked")),
                    }
                }
                Ok((status, body)) => Some(format!("{status} {body}")),
                Err(e) => Some(e),
            };
            match why {
                None => break,
                Some(_) if started.elapsed() < ctx.args.wait => {
                    tokio::time::sleep(Duration::from_secs(1)).await
                }
                Some(why) => {
                    misses.push(format!("ranking {path}: {why}"));
                    break;
                }
            }
        }
    }
    misses
}

fn summary(state: &State) {
    println!("\n{:<38} {:>8}  answers", "action", "sent");
    for (action, statuses) in &state.tally {
        let total: u64 = statuses.values().sum();
        let detail: Vec<String> = statuses.iter().map(|(s, n)| format!("{n} x {s}")).collect();
        println!("{action:<38} {total:>8}  {}", detail.join(", "));
    }
    let alive = state.links.values().filter(|e| !e.deleted).count();
    let humans: u64 = state
        .links
        .values()
        .filter(|e| !e.deleted)
        .map(|e| e.humans)
        .sum();
    let bots: u64 = state
        .links
        .values()
        .filter(|e| !e.deleted)
        .map(|e| e.bots)
        .sum();
    println!(
        "links: {} made, {alive} alive, {} deleted; counted on live links: {humans} human, {bots} bot visits; transport errors: {}",
        state.links.len(),
        state.links.len() - alive,
        state.errors
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("soak: {e}");
            return ExitCode::from(2);
        }
    };
    let mut state = load(&args.state);
    let key_revoked = state.tally.contains_key("create (revoked)");
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    if args.phase == "run" && state.day.is_none() {
        state.day = Some(today);
    }
    let client = Client::builder()
        .redirect(redirect::Policy::none())
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client");
    let ctx = Arc::new(Ctx {
        client,
        args,
        state: Mutex::new(state),
        key_revoked,
    });
    let ok = match ctx.args.phase.as_str() {
        "run" => run(ctx.clone()).await,
        "verify" => {
            let misses = verify(&ctx).await;
            summary(&ctx.state.lock().unwrap());
            for m in misses.iter().take(30) {
                println!("MISS {m}");
            }
            println!(
                "soak verify: {} links checked, {} misses",
                ctx.state.lock().unwrap().links.len(),
                misses.len()
            );
            misses.is_empty()
        }
        other => {
            eprintln!("soak: unknown phase {other}");
            false
        }
    };
    let state = ctx.state.lock().unwrap();
    let errors = state.errors;
    if let Err(e) = std::fs::write(&ctx.args.state, serde_json::to_vec_pretty(&*state).unwrap()) {
        eprintln!("soak: {e}");
        return ExitCode::FAILURE;
    }
    if ctx.args.phase == "run" {
        summary(&state);
        if errors > 0 {
            println!(
                "soak: {errors} requests failed (no answer or a 5xx) or a revoked key was accepted"
            );
            return ExitCode::FAILURE;
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
