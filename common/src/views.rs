//! What more than one function shows: a link's stats as the JSON route and the HTML page
//! both present them, read and authorized in one place.

use chrono::Utc;
use lambda_http::Request;
use std::collections::BTreeMap;

use crate::auth;
use crate::domain::link::rfc3339;
use crate::domain::stats::KeyVisits;
use crate::domain::{histogram, span, top_breakdowns, DailyVisits, DateRange, Link};
use crate::http::{path_code, query_param, ApiError};
use crate::runtime::App;

/// A link's stats over the requested days.
pub struct LinkStats {
    pub link: Link,
    pub total_visits: u64,
    pub bot_visits: u64,
    pub daily: Vec<DailyVisits>,
    pub breakdowns: BTreeMap<&'static str, Vec<KeyVisits>>,
}

/// `{code}`, `from`, `to` and the caller of `req`; one `Query`. Public for anonymous
/// links; an owned link's owner or an admin otherwise.
pub async fn link_stats(app: &App, req: &Request) -> Result<LinkStats, ApiError> {
    let code = path_code(req)?;
    let range = DateRange::parse(query_param(req, "from"), query_param(req, "to"))?;
    let caller = app.auth.caller(&app.store, req).await?;
    let found = app
        .store
        .stats_for(&code)
        .await?
        .ok_or(ApiError::NotFound)?;
    auth::may_read_stats(caller.as_ref(), &found.link)?;
    let today = Utc::now().date_naive();
    let created = found.link.created_at.date_naive();
    let (start, end) = span(created, today, range);
    Ok(LinkStats {
        total_visits: found.total_visits(),
        bot_visits: found.total_bot_visits(),
        daily: histogram(&found.daily, &found.bot_daily, created, today, range),
        breakdowns: top_breakdowns(&found.breakdowns, start, end),
        link: found.link,
    })
}

impl LinkStats {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.link.code.as_str(),
            "url": self.link.url.as_str(),
            "created_at": rfc3339(self.link.created_at),
            "total_visits": self.total_visits,
            "bot_visits": self.bot_visits,
            "daily": self.daily,
            "breakdowns": self.breakdowns,
        })
    }
}
