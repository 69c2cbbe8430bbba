//! What `make load` and `make soak` share: how a ranking is checked against what was sent.

use std::collections::HashMap;

use serde_json::Value;

/// Links asked of `GET /stats`.
pub const RANKING_LIMIT: usize = 100;

/// Whether a ranking agrees with what this run sent: most visited first; each of this run's
/// links in it with exactly the visits sent; and every link of the run that got more
/// visits than the last one shown is in it. Other links of a shared table may rank too.
/// Returns how many of the run's links it shows.
pub fn check_ranking(body: &Value, sent: &HashMap<String, u64>) -> Result<usize, String> {
    let links = body["links"].as_array().ok_or("no links in the answer")?;
    let mut previous = u64::MAX;
    let mut shown = 0;
    for l in links {
        let code = l["code"].as_str().unwrap_or_default();
        let visits = l["visits"].as_u64().ok_or("a link without visits")?;
        if visits > previous {
            return Err(format!(
                "{code} ({visits}) ranks below a link with fewer visits"
            ));
        }
        previous = visits;
        if let Some(expected) = sent.get(code) {
            shown += 1;
            if visits != *expected {
                return Err(format!(
                    "{code}: ranked with {visits} visits, {expected} sent"
                ));
            }
        }
    }
    let floor = if links.len() == RANKING_LIMIT {
        previous
    } else {
        0
    };
    let in_list: Vec<&str> = links.iter().filter_map(|l| l["code"].as_str()).collect();
    if let Some((code, n)) = sent
        .iter()
        .find(|(code, n)| **n > floor && !in_list.contains(&code.as_str()))
    {
        return Err(format!("{code} ({n} visits sent) is missing"));
    }
    Ok(shown)
}
