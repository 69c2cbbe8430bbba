//! `GET /{code}`: redirect and count the visit, as a human visit with its breakdowns or as
//! a bot visit (docs/api.md: bot policy); `HEAD /{code}`: the same headers, not counted. An
//! expired, used-up or disabled link answers 410 and counts nothing. The target is the
//! first matching redirect rule's URL or the link's own (`domain::rules`), with the
//! visitor's query string merged in for a link with `forward_query` (`domain::forward`).
//!
//! A password link answers `GET` with a form (200, counted nowhere) and `POST /{code}`
//! with the password: right -> 303 to the target, counted as a visit; wrong -> 403; past
//! the lockout -> 429, decided by one conditional write before any hashing.

use common::domain::Code;
use common::http::{
    form_field, html_response, path_code, require_method, visit_request, wants_html, ApiError,
    ErrorCode, NO_STORE,
};
use common::metrics::BotVisit;
use common::render::{page_csp, password_page, PASSWORD_STYLE};
use common::visits::{self, Asked, Outcome, Refusal};
use common::App;
use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};

// The bot matcher is a large regular expression: built during Init.
common::lambda_main!("redirect", redirect, init = common::domain::visit::prepare);

/// Parse, decide (`common::visits`), respond.
async fn redirect(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    require_method(&req, &[Method::GET, Method::HEAD, Method::POST])?;
    let code = path_code(&req)?;
    let link = app.link(&code).await?.ok_or(ApiError::NotFound)?;
    // A form's own refusal (its type, its size) is answered only where a password was due.
    let mut form = None;
    let asked = match *req.method() {
        Method::HEAD => Asked::Head,
        Method::POST => {
            let field = form_field(&req, "password");
            let password = field.as_ref().ok().cloned().flatten();
            form = Some(field);
            Asked::Unlock { password }
        }
        _ => Asked::Get,
    };
    let visitor = visit_request(&req, &app.config);
    let outcome = visits::visit(app, &link, asked, &visitor, chrono::Utc::now()).await?;
    match outcome {
        Outcome::Redirect {
            target,
            bot,
            unlocked,
        } => {
            let location = HeaderValue::from_str(&target).map_err(|_| {
                ApiError::Internal(format!("stored URL of '{code}' is not a header value"))
            })?;
            // After a form post, 303: the browser follows with a GET.
            let status = if unlocked {
                StatusCode::SEE_OTHER
            } else {
                app.config.redirect_status
            };
            let mut resp = Response::builder()
                .status(status)
                .header(header::LOCATION, location)
                .header(header::CACHE_CONTROL, NO_STORE)
                .body(Body::Empty)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            if bot {
                resp.extensions_mut().insert(BotVisit);
            }
            Ok(resp)
        }
        Outcome::PasswordForm => Ok(form_page(&req, &code, StatusCode::OK, None)),
        Outcome::Refused(refusal) => {
            let e = match refusal {
                Refusal::NotFound => ApiError::NotFound,
                Refusal::Gone(gone) => ApiError::Gone(gone),
                Refusal::NotAPasswordLink => ApiError::MethodNotAllowed {
                    allow: "GET, HEAD".into(),
                },
                Refusal::NoPassword => match form {
                    Some(Err(e)) => e,
                    _ => ApiError::bad_request(
                        ErrorCode::InvalidForm,
                        "the form needs a 'password' field",
                    ),
                },
                Refusal::WrongPassword => ApiError::WrongPassword,
                Refusal::Locked { retry_after } => ApiError::TooManyAttempts { retry_after },
                Refusal::QueryTooLong(e) => ApiError::from(e),
            };
            // A browser that posted the form gets it again, with the refusal in words.
            match e {
                ApiError::WrongPassword | ApiError::TooManyAttempts { .. } if wants_html(&req) => {
                    let message = e.to_string();
                    let mut page = form_page(&req, &code, e.status(), Some(&message));
                    if let ApiError::TooManyAttempts { retry_after } = e {
                        page.headers_mut()
                            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                    }
                    Ok(page)
                }
                e => Err(e),
            }
        }
    }
}

/// The password form (HEAD: its headers), never cached or indexed, no `Location`.
fn form_page(
    req: &Request,
    code: &Code,
    status: StatusCode,
    error: Option<&str>,
) -> Response<Body> {
    let body = if req.method() == Method::HEAD {
        Body::Empty
    } else {
        Body::Text(password_page(code.as_str(), error))
    };
    let mut resp = html_response(status, body, password_csp(), NO_STORE);
    resp.headers_mut().insert(
        "x-robots-tag",
        HeaderValue::from_static("noindex, nofollow"),
    );
    resp
}

/// The password form's Content-Security-Policy, made once per process.
fn password_csp() -> &'static str {
    static CSP: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CSP.get_or_init(|| page_csp(PASSWORD_STYLE))
}

/// The handler end to end with the store's client mocked: what each request answers and
/// which DynamoDB writes it makes (none where nothing may be counted).
#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::update_item::{UpdateItemInput, UpdateItemOutput};
    use aws_sdk_dynamodb::types::AttributeValue;
    use aws_sdk_dynamodb::Client;
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
    use common::config::Config;
    use common::domain::password::Password;
    use common::domain::{Link, LinkKind, LongUrl};
    use common::store::Store;
    use lambda_http::RequestExt;
    use std::collections::HashMap;
    use std::time::Instant;

    const BROWSER: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

    /// An app whose store answers with `rules` only (any other call fails the request),
    /// with `link` already in its cache (no lookup).
    fn app(rules: &[&Rule], link: &Link) -> App {
        let client: Client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, rules);
        let config = Config::from_lookup(|k| (k == "TABLE_NAME").then(|| "links".to_owned()))
            .expect("config");
        let app = App::new(config, Store::new(client, "links"));
        app.links
            .put(link.code.clone(), Some(link.clone()), Instant::now());
        app
    }

    fn link(code: &str) -> Link {
        Link::new(
            Code::parse(code).unwrap(),
            LongUrl::from_stored("https://example.com/target".into()),
            chrono::Utc::now() - chrono::Duration::days(1),
            LinkKind::Generated,
            None,
        )
    }

    fn request(method: &str, code: &str, ua: &str, form: Option<&str>) -> Request {
        let mut b = lambda_http::http::Request::builder()
            .method(method)
            .uri(format!("https://sho.rt/{code}"))
            .header("user-agent", ua);
        if form.is_some() {
            b = b.header("content-type", "application/x-www-form-urlencoded");
        }
        b.body(Body::from(form.unwrap_or("")))
            .unwrap()
            .with_path_parameters(HashMap::from([("code".to_owned(), code.to_owned())]))
    }

    fn counter_write(input: &UpdateItemInput) -> bool {
        input
            .key()
            .and_then(|k| k.get("sk"))
            .and_then(|v| v.as_s().ok())
            .is_some_and(|sk| sk.starts_with("day#"))
    }

    fn counted() -> Rule {
        mock!(Client::update_item)
            .match_requests(counter_write)
            .then_output(|| UpdateItemOutput::builder().build())
    }

    #[tokio::test]
    async fn a_person_is_sent_on_and_counted_once() {
        let rule = counted();
        let app = app(&[&rule], &link("abc123"));
        let resp = redirect(&app, request("GET", "abc123", BROWSER, None))
            .await
            .unwrap();
        assert_eq!(resp.status(), 302);
        assert_eq!(resp.headers()["location"], "https://example.com/target");
        assert_eq!(resp.headers()["cache-control"], NO_STORE);
        assert!(resp.extensions().get::<BotVisit>().is_none());
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_bot_is_counted_as_one_and_a_head_not_at_all() {
        let rule = counted();
        let app = app(&[&rule], &link("abc123"));
        let resp = redirect(&app, request("GET", "abc123", "Googlebot/2.1", None))
            .await
            .unwrap();
        assert_eq!(resp.status(), 302);
        assert!(resp.extensions().get::<BotVisit>().is_some());
        assert_eq!(rule.num_calls(), 1);
        let resp = redirect(&app, request("HEAD", "abc123", BROWSER, None))
            .await
            .unwrap();
        assert_eq!(resp.status(), 302);
        assert_eq!(rule.num_calls(), 1, "a HEAD writes nothing");
    }

    #[tokio::test]
    async fn a_closed_link_or_a_form_where_none_is_due_counts_nothing() {
        let rule = counted();
        let mut disabled = link("off123");
        disabled.disabled = true;
        let app = app(&[&rule], &disabled);
        let e = redirect(&app, request("GET", "off123", BROWSER, None))
            .await
            .unwrap_err();
        assert_eq!(
            (e.status().as_u16(), e.code().as_str()),
            (410, "link_disabled")
        );
        let app = self::app(&[&rule], &link("abc123"));
        let e = redirect(&app, request("POST", "abc123", BROWSER, Some("password=x")))
            .await
            .unwrap_err();
        assert_eq!(e.status(), 405);
        assert!(matches!(e, ApiError::MethodNotAllowed { ref allow } if allow == "GET, HEAD"));
        let e = redirect(&app, request("PUT", "abc123", BROWSER, None))
            .await
            .unwrap_err();
        assert_eq!(e.status(), 405);
        assert_eq!(rule.num_calls(), 0);
    }

    #[tokio::test]
    async fn a_password_link_shows_its_form_and_refuses_a_wrong_password_without_counting() {
        let mut protected = link("pw1234");
        protected.password_hash = Some(Password::parse("right one").unwrap().hash().unwrap());
        // The try's reservation (an ADD on the tries item) is the only write.
        let reserve = mock!(Client::update_item)
            .match_requests(|r| {
                r.key().and_then(|k| k.get("sk")) == Some(&AttributeValue::S("tries".into()))
            })
            .then_output(|| UpdateItemOutput::builder().build());
        let count = counted();
        let app = app(&[&reserve, &count], &protected);
        let resp = redirect(&app, request("GET", "pw1234", BROWSER, None))
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.headers().get("location").is_none());
        assert_eq!(resp.headers()["x-robots-tag"], "noindex, nofollow");
        let e = redirect(
            &app,
            request("POST", "pw1234", BROWSER, Some("password=wrong")),
        )
        .await
        .unwrap_err();
        assert_eq!(e.code().as_str(), "wrong_password");
        let e = redirect(&app, request("POST", "pw1234", BROWSER, Some("other=1")))
            .await
            .unwrap_err();
        assert_eq!(e.code().as_str(), "invalid_form");
        assert_eq!((reserve.num_calls(), count.num_calls()), (1, 0));
        // The right one: its try given back, then the visit counted, 303.
        let resp = redirect(
            &app,
            request("POST", "pw1234", BROWSER, Some("password=right+one")),
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), 303);
        assert_eq!(resp.headers()["location"], "https://example.com/target");
        assert_eq!((reserve.num_calls(), count.num_calls()), (3, 1));
    }

    #[tokio::test]
    async fn a_store_that_fails_is_a_503_and_no_redirect() {
        use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
        use aws_sdk_dynamodb::types::error::ResourceNotFoundException;
        let failing = mock!(Client::update_item).then_error(|| {
            UpdateItemError::ResourceNotFoundException(
                ResourceNotFoundException::builder()
                    .message("no such table")
                    .build(),
            )
        });
        let app = app(&[&failing], &link("abc123"));
        let e = redirect(&app, request("GET", "abc123", BROWSER, None))
            .await
            .unwrap_err();
        assert_eq!(e.status(), 503);
    }
}
