//! `POST /insights/ask` with `{"prompt", "from"?, "to"?, "owner"?}` and a key: a question in
//! plain words about the caller's links, answered by a model on Amazon Bedrock (the
//! Converse API) from a fact sheet of what the stack already keeps (`facts.rs`): the
//! owner's totals and rankings, the period's most visited links with their days,
//! breakdowns, bot share and rule-based insights, and the week's risers and fallers.
//! Never a raw visit, never another owner's link.
//!
//! Answers `{"answer", "facts", "model", "usage": {"input_tokens", "output_tokens"}}`;
//! `facts` is exactly what the model was sent. Questions are off unless the deployment
//! names a model (`BEDROCK_MODEL_ID`): 501 `ask_disabled`; Bedrock busy, late or failing:
//! 503 `model_busy`, 504 `model_timeout`, 502 `model_error`; each with the rule-based
//! insights in `insights`. A key asks at most `ASK_QUESTIONS_PER_HOUR` (20) questions an
//! hour (429 `too_many_questions` with Retry-After past that).
//!
//! A function of its own: the Bedrock SDK grows no other function's zip or cold start.

mod facts;
mod model;

use std::sync::OnceLock;

use chrono::{NaiveDate, Utc};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;

use common::auth;
use common::domain::stats::DateRange;
use common::domain::{insights, Code, KeyId, Period as RankingPeriod};
use common::http::{json_body, json_response, require_method, ApiError, ErrorCode, ModelFailure};
use common::store::QuestionGate;
use common::views::{insights_of, owner_week, stats_of};
use common::App;

use facts::{Facts, LinkFacts, MoverFact, Period, RankedFact, Totals, Week};
use model::Model;

common::lambda_main!("ask", ask, init = init_model);

/// A question's longest prompt, in characters.
pub const MAX_PROMPT_CHARS: usize = 1000;
/// The longest period a question may be about, in days.
pub const MAX_PERIOD_DAYS: i64 = 31;
/// Days of a period when the question names none (the week to `to`).
const DEFAULT_PERIOD_DAYS: u64 = 7;
const DEFAULT_QUESTIONS_PER_HOUR: u32 = 20;

/// The model of this execution environment (built during Init), or why there is none.
static MODEL: OnceLock<Result<Option<Model>, String>> = OnceLock::new();

/// Questions a key may ask per hour, read during Init.
static QUESTIONS_PER_HOUR: OnceLock<u32> = OnceLock::new();

fn init_model() {
    MODEL.get_or_init(|| Model::from_env(common::config::env_var).map_err(|e| e.to_string()));
    QUESTIONS_PER_HOUR.get_or_init(questions_per_hour);
}

/// `ASK_QUESTIONS_PER_HOUR`: 1 to 10,000, 20 unless set.
fn questions_per_hour() -> u32 {
    common::config::env_var("ASK_QUESTIONS_PER_HOUR")
        .and_then(|v| v.parse().ok())
        .filter(|n| (1..=10_000).contains(n))
        .unwrap_or(DEFAULT_QUESTIONS_PER_HOUR)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Question {
    prompt: Option<String>,
    from: Option<String>,
    to: Option<String>,
    owner: Option<String>,
}

/// What was asked, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Asked {
    prompt: String,
    from: NaiveDate,
    to: NaiveDate,
    owner: Option<KeyId>,
}

/// The body checked: a prompt of 1 to `MAX_PROMPT_CHARS` characters (trimmed; no control
/// characters but line breaks and tabs), a period of at most `MAX_PERIOD_DAYS` days ending
/// today at the latest (the week to today by default), and a well-formed `owner`.
fn checked(q: Question, today: NaiveDate) -> Result<Asked, ApiError> {
    let invalid = |m: &str| ApiError::bad_request(ErrorCode::InvalidPrompt, m);
    let prompt = q
        .prompt
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| invalid("'prompt' is required: the question, in plain words"))?;
    if prompt.chars().count() > MAX_PROMPT_CHARS {
        return Err(invalid("'prompt' must be at most 1000 characters"));
    }
    if prompt
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(invalid("'prompt' must not hold control characters"));
    }
    let range = DateRange::parse(q.from.as_deref(), q.to.as_deref())?;
    let to = range.to.unwrap_or(today);
    if to > today {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidDate,
            "'to' must not be after today (UTC)",
        ));
    }
    let from = range
        .from
        .unwrap_or(to - chrono::Days::new(DEFAULT_PERIOD_DAYS - 1));
    // `from` alone may be after `to`'s default, today (a panic of the period's reads once).
    if from > to {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidRange,
            "'from' must not be after 'to' (today when not given)",
        ));
    }
    if (to - from).num_days() + 1 > MAX_PERIOD_DAYS {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidRange,
            format!("a question covers at most {MAX_PERIOD_DAYS} days ('from' to 'to')"),
        ));
    }
    let owner = q
        .owner
        .as_deref()
        .map(|o| {
            KeyId::parse(o).ok_or_else(|| {
                ApiError::bad_request(ErrorCode::InvalidOwner, "'owner' must be a key id")
            })
        })
        .transpose()?;
    Ok(Asked {
        prompt: prompt.to_owned(),
        from,
        to,
        owner,
    })
}

async fn ask(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    require_method(&req, &[Method::POST])?;
    let caller = auth::require(app.auth.caller(&app.store, &req).await?)?;
    let today = Utc::now().date_naive();
    let asked = checked(json_body::<Question>(&req)?, today)?;
    let owner = auth::rankings_scope(Some(&caller), asked.owner.as_ref())?;
    let model = match MODEL.get() {
        Some(Ok(model)) => model.as_ref(),
        Some(Err(e)) => return Err(ApiError::Internal(format!("the model's settings: {e}"))),
        None => return Err(ApiError::Internal("the model was not set up".into())),
    };
    // Off: nothing is counted against the key, and the insights still answer.
    let Some(model) = model else {
        let facts = fact_sheet(app, owner.as_ref(), &asked, today).await?;
        return Ok(refused(ModelFailure::Disabled, &facts));
    };
    let limit = *QUESTIONS_PER_HOUR.get_or_init(questions_per_hour);
    if let QuestionGate::Limited { retry_after } = app
        .store
        .reserve_question(&caller.key_id, limit, Utc::now())
        .await?
    {
        return Err(ApiError::TooManyQuestions { retry_after, limit });
    }
    let facts = fact_sheet(app, owner.as_ref(), &asked, today).await?;
    let sent = facts.to_value();
    let user = facts::user_message(&sent, &asked.prompt);
    match model.ask(facts::SYSTEM_PROMPT, user).await {
        Ok(answer) => Ok(json_response(
            StatusCode::OK,
            &json!({
                "answer": answer.text,
                "facts": sent,
                "model": model.id,
                "stop_reason": answer.stop_reason,
                "usage": {
                    "input_tokens": answer.input_tokens,
                    "output_tokens": answer.output_tokens,
                },
            }),
        )),
        Err(failure) => Ok(refused(failure, &facts)),
    }
}

/// The model gave no answer: the error, with the rule-based insights beside it; the
/// cause (never sent) logged.
fn refused(failure: ModelFailure, facts: &Facts) -> Response<Body> {
    let error = ApiError::Model(failure);
    if let Some(cause) = error.cause() {
        tracing::warn!(code = %error.code(), cause, "the model gave no answer");
    }
    let mut extra = serde_json::Map::new();
    extra.insert("insights".into(), facts.insights());
    error.into_response_with(extra)
}

/// The fact sheet of `owner`'s links (every link's for `None`) over the question's period:
/// - the owner's all-time ranking and totals (one `BatchGetItem` and one for the URLs);
/// - the day rankings from the period's first day (or 13 days before its last, for the
///   week's movers) to its last, and the movers' links (`views::owner_week`);
/// - for the period's `DETAILED_LINKS` most visited links, one `Query` each (the period
///   and the year to its last day, for the insights). A link of the code that is not the
///   owner's (the code was freed and taken again) is left out.
async fn fact_sheet(
    app: &App,
    owner: Option<&KeyId>,
    asked: &Asked,
    today: NaiveDate,
) -> Result<Facts, ApiError> {
    let (all_time, totals) = match owner {
        Some(o) => {
            let (ranking, totals) = app
                .store
                .owner_top_links(o, RankingPeriod::All, facts::ALL_TIME_LINKS)
                .await?;
            (ranking, Some(totals))
        }
        None => (
            app.store
                .top_links(RankingPeriod::All, facts::ALL_TIME_LINKS)
                .await?,
            None,
        ),
    };
    let week = owner_week(app, owner, asked.from, asked.to).await?;
    // The period's visits per code, from the day rankings.
    let mut period: std::collections::BTreeMap<&str, u64> = Default::default();
    for (_, counts) in week.days.range(asked.from..=asked.to) {
        for (code, visits) in counts {
            *period.entry(code.as_str()).or_default() += visits;
        }
    }
    let period_visits: u64 = period.values().sum();
    let mut ranked: Vec<(&str, u64)> = period.into_iter().filter(|(_, v)| *v > 0).collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let first = asked
        .from
        .min(asked.to - chrono::Days::new(insights::LOOKBACK_DAYS as u64));
    let mut period_top = Vec::new();
    for (code, _) in ranked {
        if period_top.len() == facts::DETAILED_LINKS {
            break;
        }
        let Some(code) = Code::parse(code) else {
            continue;
        };
        let Some(read) = app
            .store
            .stats_for(&code, (first, asked.to), 0, today)
            .await?
        else {
            continue;
        };
        if owner.is_some() && read.found.link.owner.as_ref() != owner {
            continue;
        }
        let insights = insights_of(&read.found, asked.to);
        let stats = stats_of(read, (asked.from, asked.to), true);
        period_top.push(LinkFacts::new(&stats, &insights));
    }
    let known = |code: &str| week.urls.contains_key(code);
    Ok(Facts {
        owner: owner.map(|o| o.as_str().to_owned()),
        period: Period::new(asked.from, asked.to),
        totals: totals.map(|t| Totals::new(&t, period_visits)),
        all_time_top: RankedFact::of(&all_time.links),
        period_top,
        week: Week {
            to: common::domain::day_string(asked.to),
            risers: MoverFact::of(&week.risers, known),
            fallers: MoverFact::of(&week.fallers, known),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(prompt: Option<&str>, from: Option<&str>, to: Option<&str>) -> Question {
        Question {
            prompt: prompt.map(String::from),
            from: from.map(String::from),
            to: to.map(String::from),
            owner: None,
        }
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_question_is_the_week_to_today_by_default() {
        let a = checked(
            q(Some("  Which link did best?  "), None, None),
            day("2026-12-03"),
        )
        .unwrap();
        assert_eq!(a.prompt, "Which link did best?");
        assert_eq!((a.from, a.to), (day("2026-11-27"), day("2026-12-03")));
        let a = checked(q(Some("x"), None, Some("2026-11-10")), day("2026-12-03")).unwrap();
        assert_eq!((a.from, a.to), (day("2026-11-04"), day("2026-11-10")));
    }

    #[test]
    fn bad_questions_are_400s_with_their_codes() {
        let today = day("2026-12-03");
        let long = "é".repeat(MAX_PROMPT_CHARS + 1);
        for (question, code) in [
            (q(None, None, None), "invalid_prompt"),
            (q(Some("   "), None, None), "invalid_prompt"),
            (q(Some(&long), None, None), "invalid_prompt"),
            (q(Some("a\u{0}b"), None, None), "invalid_prompt"),
            (q(Some("x"), Some("2026-13-01"), None), "invalid_date"),
            (q(Some("x"), None, Some("2026-12-04")), "invalid_date"),
            (
                q(Some("x"), Some("2026-12-03"), Some("2026-12-01")),
                "invalid_range",
            ),
            (
                q(Some("x"), Some("2026-10-01"), Some("2026-12-01")),
                "invalid_range",
            ),
            // `from` alone, after today (`to`'s default): schemathesis found it a panic.
            (q(Some("x"), Some("5495-12-01"), None), "invalid_range"),
            (q(Some("x"), Some("2026-12-04"), None), "invalid_range"),
        ] {
            let e = checked(question, today).unwrap_err();
            assert_eq!((e.status().as_u16(), e.code().as_str()), (400, code));
        }
        let at_most = "é".repeat(MAX_PROMPT_CHARS);
        assert!(checked(q(Some(&at_most), Some("2026-11-03"), None), today).is_ok());
        let mut bad_owner = q(Some("x"), None, None);
        bad_owner.owner = Some("not a key id!".into());
        assert_eq!(
            checked(bad_owner, today).unwrap_err().code(),
            ErrorCode::InvalidOwner
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        let parsed: Result<Question, _> =
            serde_json::from_value(json!({"prompt": "x", "model": "other"}));
        assert!(parsed.is_err());
    }

    /// Off (no model), busy, late or failing: the error, and the rule-based insights.
    #[test]
    fn without_an_answer_the_insights_still_come() {
        let facts = Facts {
            owner: Some("abc".into()),
            period: Period::new(day("2026-11-27"), day("2026-12-03")),
            totals: None,
            all_time_top: vec![],
            period_top: vec![],
            week: Week {
                to: "2026-12-03".into(),
                risers: vec![MoverFact {
                    code: "up1".into(),
                    visits: 9,
                    previous_week_visits: 1,
                    change: 8,
                }],
                fallers: vec![],
            },
        };
        for (failure, status, code) in [
            (ModelFailure::Disabled, 501, "ask_disabled"),
            (ModelFailure::Busy("t".into()), 503, "model_busy"),
            (ModelFailure::Timeout("t".into()), 504, "model_timeout"),
            (ModelFailure::Failed("t".into()), 502, "model_error"),
        ] {
            let resp = refused(failure, &facts);
            assert_eq!(resp.status(), status);
            let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
            assert_eq!(body["error"]["code"], code);
            assert_eq!(body["insights"]["risers"][0]["code"], "up1");
            assert_eq!(body["insights"]["links"], json!([]));
            assert!(body.get("answer").is_none() && body.get("facts").is_none());
        }
    }
}
