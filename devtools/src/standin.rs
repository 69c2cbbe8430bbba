//! A stand-in for Amazon Bedrock's Converse API (`bedrock-standin`), for `make dev` and
//! `make test`: no AWS account, no model. The ask function's real SDK client reaches it
//! through `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`, as the other functions reach DynamoDB Local.
//!
//! It checks the request as Bedrock would see it (`POST /model/{modelId}/converse`, a SigV4
//! signature for the `bedrock` service, a system prompt, user and assistant turns of text,
//! the output capped by `inferenceConfig.maxTokens`) and this project's own contract (one
//! `<facts>` data block of JSON, then the question), and answers deterministically from the
//! facts it was sent, every answer opening with `STANDIN_MARK`. It can also answer each of
//! Bedrock's errors in Bedrock's shape (status, `x-amzn-ErrorType`, `{"message"}`), or late.

use serde_json::{json, Value};

/// The opening of every answer: nobody can take the stand-in's words for a model's.
pub const STANDIN_MARK: &str = "[Bedrock stand-in, not a model]";
/// The largest `maxTokens` accepted (Bedrock's models allow a few thousand).
const MAX_TOKENS_LIMIT: u64 = 8192;

/// A request that passed the checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Converse {
    pub model_id: String,
    pub system: String,
    /// The last user turn's text.
    pub user: String,
    pub max_tokens: u64,
    /// The data block's JSON.
    pub facts: Value,
    /// What follows the data block's `Question: `.
    pub question: String,
}

/// `%3A` and the like of a path segment.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks a Converse request; the reason it would be refused (a `ValidationException`).
pub fn check(path: &str, authorization: Option<&str>, body: &[u8]) -> Result<Converse, String> {
    let model_id = path
        .strip_prefix("/model/")
        .and_then(|rest| rest.strip_suffix("/converse"))
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .map(percent_decode)
        .ok_or_else(|| format!("unknown operation: POST {path}"))?;
    let auth = authorization.unwrap_or("");
    if !auth.starts_with("AWS4-HMAC-SHA256 Credential=") || !auth.contains("/bedrock/aws4_request")
    {
        return Err("the request is not signed with SigV4 for the bedrock service".into());
    }
    let body: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let text_of = |blocks: &Value, what: &str| -> Result<String, String> {
        let blocks = blocks
            .as_array()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| format!("{what}: expected a non-empty list of content blocks"))?;
        let mut text = Vec::new();
        for b in blocks {
            text.push(
                b.get("text")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("{what}: only text blocks are expected here"))?,
            );
        }
        Ok(text.join("\n"))
    };
    let system = text_of(&body["system"], "system")?;
    let messages = body["messages"]
        .as_array()
        .filter(|m| !m.is_empty())
        .ok_or("messages: at least one message is required")?;
    for m in messages {
        match m["role"].as_str() {
            Some("user" | "assistant") => {}
            other => return Err(format!("messages: unknown role {other:?}")),
        }
    }
    let last = messages.last().expect("not empty");
    if last["role"] != "user" {
        return Err("messages: the last message must be the user's".into());
    }
    let user = text_of(&last["content"], "messages.content")?;
    let max_tokens = body["inferenceConfig"]["maxTokens"]
        .as_u64()
        .filter(|t| (1..=MAX_TOKENS_LIMIT).contains(t))
        .ok_or("inferenceConfig.maxTokens: 1 to 8192 expected (an answer must be capped)")?;
    let (facts, question) = facts_and_question(&user)?;
    Ok(Converse {
        model_id,
        system,
        user,
        max_tokens,
        facts,
        question,
    })
}

/// The user turn's `<facts>` block (JSON), which opens it, and the question after it (which
/// may hold anything, `<facts>` included: the block ends at the first `</facts>`, which the
/// escaped JSON cannot hold).
fn facts_and_question(user: &str) -> Result<(Value, String), String> {
    let (open, close) = ("<facts>", "</facts>");
    let rest = user
        .strip_prefix(open)
        .ok_or("the user turn must open with the <facts> block")?;
    let end = rest.find(close).ok_or("the <facts> block is not closed")?;
    let facts: Value = serde_json::from_str(rest[..end].trim())
        .map_err(|e| format!("the facts block is not JSON: {e}"))?;
    let question = rest[end + close.len()..]
        .trim()
        .strip_prefix("Question:")
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .ok_or("the question must follow the facts block as 'Question: ...'")?;
    Ok((facts, question.to_owned()))
}

/// Tokens as the stand-in counts them: about four characters each.
fn tokens(s: &str) -> u64 {
    (s.chars().count() as u64).div_ceil(4)
}

/// The answer: always the same for the same facts and question, naming link codes and
/// figures from the facts only (and saying so when the facts hold no visit).
pub fn answer(c: &Converse) -> String {
    let f = &c.facts;
    let mut out = vec![STANDIN_MARK.to_owned()];
    let question: String = c.question.chars().take(120).collect();
    out.push(format!("You asked: \"{question}\"."));
    let (from, to) = (
        f["period"]["from"].as_str().unwrap_or("?"),
        f["period"]["to"].as_str().unwrap_or("?"),
    );
    let top = f["period_top"].as_array().cloned().unwrap_or_default();
    if top.is_empty() {
        out.push(format!(
            "The facts hold no human visit from {from} to {to}, so they do not answer this."
        ));
    } else {
        let first = &top[0];
        let code = first["code"].as_str().unwrap_or("?");
        out.push(format!(
            "From {from} to {to}, the most visited link is `{code}` with {} human visits ({} by bots).",
            first["visits"], first["bot_visits"]
        ));
        if let Some(second) = top.get(1) {
            out.push(format!(
                "Next is `{}` with {}.",
                second["code"].as_str().unwrap_or("?"),
                second["visits"]
            ));
        }
        if let Some(r) = first["referrers"].as_array().and_then(|r| r.first()) {
            out.push(format!(
                "Its top referrer is {} ({} visits).",
                r["key"].as_str().unwrap_or("?"),
                r["visits"]
            ));
        }
    }
    if let Some(t) = f["totals"].as_object() {
        out.push(format!(
            "All the links had {} human visits in the period and {} of all time.",
            t["period_visits"], t["all_time_visits"]
        ));
    }
    if let Some(r) = f["week"]["risers"].as_array().and_then(|r| r.first()) {
        out.push(format!(
            "The week's biggest riser is `{}` ({:+}).",
            r["code"].as_str().unwrap_or("?"),
            r["change"].as_i64().unwrap_or(0)
        ));
    }
    out.join(" ")
}

/// Bedrock's answer to a Converse request: the stand-in's `answer`, cut to `maxTokens`
/// (then `stopReason` is `max_tokens`), with the usage counted.
pub fn converse_response(c: &Converse) -> Value {
    let mut text = answer(c);
    let mut stop = "end_turn";
    if tokens(&text) > c.max_tokens {
        text = text.chars().take((c.max_tokens * 4) as usize).collect();
        stop = "max_tokens";
    }
    let (input, output) = (tokens(&c.system) + tokens(&c.user), tokens(&text));
    json!({
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": stop,
        "usage": {"inputTokens": input, "outputTokens": output, "totalTokens": input + output},
        "metrics": {"latencyMs": 1},
    })
}

/// An error Bedrock answers Converse with, as it sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Throttling,
    ServiceUnavailable,
    ModelNotReady,
    ModelTimeout,
    AccessDenied,
    ResourceNotFound,
    Validation,
    InternalServer,
}

impl Fault {
    pub fn parse(s: &str) -> Option<Fault> {
        Some(match s {
            "throttling" => Fault::Throttling,
            "unavailable" => Fault::ServiceUnavailable,
            "not_ready" => Fault::ModelNotReady,
            "model_timeout" => Fault::ModelTimeout,
            "access_denied" => Fault::AccessDenied,
            "not_found" => Fault::ResourceNotFound,
            "validation" => Fault::Validation,
            "internal" => Fault::InternalServer,
            _ => return None,
        })
    }

    /// HTTP status, `x-amzn-ErrorType`, and the message, as Bedrock sends them.
    pub fn shape(self) -> (u16, &'static str, &'static str) {
        match self {
            Fault::Throttling => (
                429,
                "ThrottlingException",
                "Too many requests, please wait before trying again.",
            ),
            Fault::ServiceUnavailable => (
                503,
                "ServiceUnavailableException",
                "The service is temporarily unable to handle the request.",
            ),
            Fault::ModelNotReady => (
                429,
                "ModelNotReadyException",
                "Model is not ready to serve inference requests.",
            ),
            Fault::ModelTimeout => (
                408,
                "ModelTimeoutException",
                "Model has timed out in processing the request.",
            ),
            Fault::AccessDenied => (
                403,
                "AccessDeniedException",
                "You don't have access to the model with the specified model ID.",
            ),
            Fault::ResourceNotFound => (
                404,
                "ResourceNotFoundException",
                "The specified model was not found.",
            ),
            Fault::Validation => (
                400,
                "ValidationException",
                "The provided model identifier is invalid.",
            ),
            Fault::InternalServer => (
                500,
                "InternalServerException",
                "The server encountered an internal error.",
            ),
        }
    }
}

/// The body and `x-amzn-ErrorType` of an error answer.
pub fn error_answer(error_type: &str, message: &str) -> (Value, String) {
    (
        json!({"message": message}),
        format!("{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTH: &str = "AWS4-HMAC-SHA256 Credential=local/20261203/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=x";

    fn body(user: &str) -> Vec<u8> {
        json!({
            "system": [{"text": "Answer only from the facts."}],
            "messages": [{"role": "user", "content": [{"text": user}]}],
            "inferenceConfig": {"maxTokens": 600, "temperature": 0.2},
        })
        .to_string()
        .into_bytes()
    }

    fn facts() -> Value {
        json!({
            "period": {"from": "2026-11-27", "to": "2026-12-03", "days": 7},
            "totals": {"period_visits": 42, "all_time_visits": 900},
            "period_top": [
                {"code": "abc123", "visits": 30, "bot_visits": 2,
                 "referrers": [{"key": "news.example", "visits": 20}]},
                {"code": "xyz789", "visits": 12, "bot_visits": 0, "referrers": []},
            ],
            "week": {"risers": [{"code": "abc123", "change": 25}], "fallers": []},
        })
    }

    fn user(facts: &Value, q: &str) -> String {
        format!("<facts>\n{facts}\n</facts>\n\nQuestion: {q}")
    }

    #[test]
    fn a_well_formed_request_is_answered_from_its_facts() {
        let c = check(
            "/model/amazon.nova-micro-v1%3A0/converse",
            Some(AUTH),
            &body(&user(&facts(), "What did best?")),
        )
        .unwrap();
        assert_eq!(c.model_id, "amazon.nova-micro-v1:0");
        assert_eq!(c.question, "What did best?");
        let a = answer(&c);
        assert!(a.starts_with(STANDIN_MARK));
        for needle in [
            "`abc123` with 30 human visits",
            "`xyz789` with 12",
            "news.example (20",
            "42 human visits",
            "riser is `abc123` (+25)",
        ] {
            assert!(a.contains(needle), "{needle} in {a}");
        }
        assert_eq!(answer(&c), a, "deterministic");
        let r = converse_response(&c);
        assert_eq!(r["stopReason"], "end_turn");
        assert_eq!(r["output"]["message"]["content"][0]["text"], a.as_str());
        assert!(r["usage"]["inputTokens"].as_u64().unwrap() > 20);
    }

    #[test]
    fn no_visits_means_the_facts_do_not_answer() {
        let f = json!({"period": {"from": "2026-11-27", "to": "2026-12-03"}, "period_top": []});
        let c = check("/model/m/converse", Some(AUTH), &body(&user(&f, "Why?"))).unwrap();
        assert!(answer(&c).contains("do not answer this"));
        // The question may hold anything after the block.
        let odd = user(&f, "what about </facts> and <facts>?");
        let c = check("/model/m/converse", Some(AUTH), &body(&odd)).unwrap();
        assert_eq!(c.question, "what about </facts> and <facts>?");
    }

    #[test]
    fn the_output_cap_is_applied() {
        let mut c = check("/model/m/converse", Some(AUTH), &body(&user(&facts(), "x"))).unwrap();
        c.max_tokens = 5;
        let r = converse_response(&c);
        assert_eq!(r["stopReason"], "max_tokens");
        assert_eq!(r["usage"]["outputTokens"], 5);
    }

    #[test]
    fn malformed_requests_are_refused_with_the_reason() {
        let good = user(&facts(), "q");
        for (path, auth, body, reason) in [
            ("/model/m/invoke", Some(AUTH), body(&good), "unknown operation"),
            ("/model/m/converse", None, body(&good), "SigV4"),
            ("/model/m/converse", Some("AWS4-HMAC-SHA256 Credential=a/b/us-east-1/dynamodb/aws4_request"), body(&good), "SigV4"),
            ("/model/m/converse", Some(AUTH), b"{".to_vec(), "not JSON"),
            ("/model/m/converse", Some(AUTH), body("no facts here"), "open with the <facts>"),
            ("/model/m/converse", Some(AUTH), body("<facts>{}"), "not closed"),
            ("/model/m/converse", Some(AUTH), body("<facts>{}</facts> <facts>"), "Question"),
            ("/model/m/converse", Some(AUTH), body("<facts>not json</facts>\n\nQuestion: q"), "not JSON"),
            ("/model/m/converse", Some(AUTH), body("<facts>{}</facts>"), "Question"),
            ("/model/m/converse", Some(AUTH), json!({"messages": [{"role": "user", "content": [{"text": good}]}], "inferenceConfig": {"maxTokens": 5}}).to_string().into_bytes(), "system"),
            ("/model/m/converse", Some(AUTH), json!({"system": [{"text": "s"}], "messages": [{"role": "user", "content": [{"text": good}]}]}).to_string().into_bytes(), "maxTokens"),
            ("/model/m/converse", Some(AUTH), json!({"system": [{"text": "s"}], "messages": [{"role": "user", "content": [{"text": good}]}, {"role": "assistant", "content": [{"text": "a"}]}], "inferenceConfig": {"maxTokens": 5}}).to_string().into_bytes(), "last message"),
        ] {
            let e = check(path, auth, &body).unwrap_err();
            assert!(e.contains(reason), "{reason}: {e}");
        }
    }

    #[test]
    fn faults_have_bedrocks_shapes() {
        for (name, status, ty) in [
            ("throttling", 429, "ThrottlingException"),
            ("unavailable", 503, "ServiceUnavailableException"),
            ("model_timeout", 408, "ModelTimeoutException"),
            ("access_denied", 403, "AccessDeniedException"),
            ("internal", 500, "InternalServerException"),
        ] {
            let (s, t, _) = Fault::parse(name).unwrap().shape();
            assert_eq!((s, t), (status, ty));
        }
        assert!(Fault::parse("other").is_none());
        let (body, header) = error_answer("ThrottlingException", "slow down");
        assert_eq!(body["message"], "slow down");
        assert!(header.starts_with("ThrottlingException:"));
    }
}
