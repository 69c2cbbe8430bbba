//! Around a stop and start of DynamoDB Local (persisted to disk), driven by scripts/test.sh:
//! data survives the restart; while the store is down every route (health included)
//! answers 503 with `Retry-After` in bounded time; once it is back the service recovers by
//! itself and health says so.
//! Ignored in a plain `cargo test`: they only make sense in that sequence.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::Reply;

fn state_file() -> String {
    std::env::var("RESTART_STATE_FILE").expect("RESTART_STATE_FILE is set by scripts/test.sh")
}

/// What phase 1 wrote: the code and URL of the link made before the restart.
fn saved_state() -> Value {
    serde_json::from_str(&std::fs::read_to_string(state_file()).unwrap()).unwrap()
}

#[tokio::test]
#[ignore = "run by scripts/test.sh before DynamoDB Local is stopped"]
async fn phase1_before_restart() {
    let (api, http) = (support::api_url(), support::http());
    let url = format!("https://example.com/{}", support::unique("restart-"));
    let Reply { status, body, .. } =
        Reply::of(http.post(format!("{api}/links")).json(&json!({"url": url}))).await;
    assert_eq!(status, 201, "{body}");
    let code = body["code"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        let Reply { status, .. } = Reply::of(http.get(format!("{api}/{code}"))).await;
        assert_eq!(status, 302);
    }
    std::fs::write(state_file(), json!({"code": code, "url": url}).to_string()).unwrap();
}

#[tokio::test]
#[ignore = "run by scripts/test.sh while DynamoDB Local is stopped"]
async fn phase2_store_down_answers_503() {
    let (api, http) = (support::api_url(), support::http());
    let state = saved_state();
    let code = state["code"].as_str().unwrap();
    let requests = [
        http.post(format!("{api}/links"))
            .json(&json!({"url": "https://example.com/while-down"})),
        http.get(format!("{api}/{code}")),
        http.get(format!("{api}/nOtCaChEd")),
        http.get(format!("{api}/links/{code}/stats")),
        http.get(format!("{api}/health")),
        // A key cannot be checked either: 503, not 401.
        http.get(format!("{api}/links/{code}")).bearer_auth(
            common::domain::ApiKey::generate()
                .unwrap()
                .reveal()
                .to_owned(),
        ),
    ];
    for req in requests {
        let started = Instant::now();
        let Reply {
            status,
            headers,
            body,
            ..
        } = Reply::of(req).await;
        let took = started.elapsed();
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"]["code"], "store_unavailable");
        assert!(headers.get("retry-after").is_some());
        assert!(took < Duration::from_secs(6), "answered in {took:?}");
    }
}

#[tokio::test]
#[ignore = "run by scripts/test.sh after DynamoDB Local is started again"]
async fn phase3_after_restart_data_survives_and_service_recovers() {
    let (api, http) = (support::api_url(), support::http());
    let state = saved_state();
    let code = state["code"].as_str().unwrap();
    // Recovery is by itself: retry as a client honouring Retry-After would, for a while.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let Reply { status, body, .. } = Reply::of(http.get(format!("{api}/health"))).await;
        if status == 200 || Instant::now() > deadline {
            assert_eq!((status, &body), (200, &json!({"status": "ok"})));
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let body = loop {
        let Reply { status, body, .. } =
            Reply::of(http.get(format!("{api}/links/{code}/stats"))).await;
        if status == 200 || Instant::now() > deadline {
            assert_eq!(status, 200, "{body}");
            break body;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert_eq!(body["url"], state["url"]);
    assert_eq!(
        body["total_visits"], 3,
        "visits survive the restart: {body}"
    );
    let Reply {
        status, headers, ..
    } = Reply::of(http.get(format!("{api}/{code}"))).await;
    assert_eq!(status, 302);
    assert_eq!(headers["location"], state["url"].as_str().unwrap());
    let fresh = format!("https://example.com/{}", support::unique("after-"));
    let Reply { status, .. } = Reply::of(
        http.post(format!("{api}/links"))
            .json(&json!({"url": fresh})),
    )
    .await;
    assert_eq!(status, 201);
}
