//! A bounded in-memory cache of link lookups for a warm Lambda: a link never changes once
//! written, so a hit saves the `GetItem` of a redirect. "Not found" is kept only briefly,
//! so a link created a moment after a miss is soon seen. The visit is still written on
//! every request: the cache only ever saves reads.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::{Code, Link};

pub const FOUND_TTL: Duration = Duration::from_secs(300);
pub const NOT_FOUND_TTL: Duration = Duration::from_secs(2);
pub const DEFAULT_CAPACITY: usize = 10_000;

#[derive(Debug)]
pub struct LinkCache {
    capacity: usize,
    entries: Mutex<HashMap<Code, (Option<Link>, Instant)>>,
}

impl LinkCache {
    pub fn new(capacity: usize) -> LinkCache {
        LinkCache {
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(Some(link))` a cached link, `Some(None)` a cached "not found", `None` a miss.
    pub fn get(&self, code: &Code, now: Instant) -> Option<Option<Link>> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (link, stored) = entries.get(code)?;
        let ttl = if link.is_some() {
            FOUND_TTL
        } else {
            NOT_FOUND_TTL
        };
        if now.saturating_duration_since(*stored) < ttl {
            return Some(link.clone());
        }
        entries.remove(code);
        None
    }

    pub fn put(&self, code: Code, link: Option<Link>, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(&code) {
            // Full: drop what has expired; if nothing has, drop the oldest entry.
            entries.retain(|_, (l, t)| {
                let ttl = if l.is_some() {
                    FOUND_TTL
                } else {
                    NOT_FOUND_TTL
                };
                now.saturating_duration_since(*t) < ttl
            });
            if entries.len() >= self.capacity {
                if let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, (_, t))| *t)
                    .map(|(c, _)| c.clone())
                {
                    entries.remove(&oldest);
                }
            }
        }
        entries.insert(code, (link, now));
    }

    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{LinkKind, LongUrl};

    fn link(code: &str) -> (Code, Link) {
        let code = Code::parse(code).unwrap();
        let link = Link {
            code: code.clone(),
            url: LongUrl::from_stored(format!("https://example.com/{code}")),
            created_at: chrono::Utc::now(),
            kind: LinkKind::Generated,
        };
        (code, link)
    }

    #[test]
    fn hit_miss_and_expiry() {
        let cache = LinkCache::new(10);
        let t0 = Instant::now();
        let (code, l) = link("abc");
        assert_eq!(cache.get(&code, t0), None);
        cache.put(code.clone(), Some(l.clone()), t0);
        assert_eq!(
            cache.get(&code, t0 + Duration::from_secs(299)),
            Some(Some(l))
        );
        assert_eq!(cache.get(&code, t0 + FOUND_TTL), None);
        assert!(cache.is_empty(), "an expired entry is dropped when seen");
    }

    #[test]
    fn not_found_is_kept_briefly() {
        let cache = LinkCache::new(10);
        let t0 = Instant::now();
        let (code, _) = link("gone");
        cache.put(code.clone(), None, t0);
        assert_eq!(
            cache.get(&code, t0 + Duration::from_millis(1999)),
            Some(None)
        );
        assert_eq!(cache.get(&code, t0 + NOT_FOUND_TTL), None);
    }

    #[test]
    fn bounded_and_evicts_the_oldest() {
        let cache = LinkCache::new(3);
        let t0 = Instant::now();
        for (i, c) in ["a1", "a2", "a3", "a4"].iter().enumerate() {
            let (code, l) = link(c);
            cache.put(code, Some(l), t0 + Duration::from_millis(i as u64));
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(&link("a1").0, t0), None, "oldest evicted");
        assert!(cache.get(&link("a4").0, t0).is_some());
    }
}
