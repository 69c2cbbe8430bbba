//! A bounded in-memory cache for a warm Lambda: link lookups of the redirect and API-key
//! lookups of the management routes. An entry lives `found_ttl` (a change made elsewhere
//! reaches this process within that time), a "not found" only `not_found_ttl`, so that a
//! link created a moment after a miss is soon seen. Only reads are ever saved: visits are
//! written on every request.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const DEFAULT_CAPACITY: usize = 10_000;
pub const NOT_FOUND_TTL: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub struct TtlCache<K, V> {
    capacity: usize,
    found_ttl: Duration,
    not_found_ttl: Duration,
    entries: Mutex<HashMap<K, (Option<V>, Instant)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    /// `found_ttl` of zero disables the cache (every lookup misses).
    pub fn new(capacity: usize, found_ttl: Duration) -> TtlCache<K, V> {
        TtlCache {
            capacity: capacity.max(1),
            found_ttl,
            not_found_ttl: NOT_FOUND_TTL.min(found_ttl),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn ttl(&self, value: &Option<V>) -> Duration {
        if value.is_some() {
            self.found_ttl
        } else {
            self.not_found_ttl
        }
    }

    /// `Some(Some(v))` a cached value, `Some(None)` a cached "not found", `None` a miss.
    pub fn get(&self, key: &K, now: Instant) -> Option<Option<V>> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (value, stored) = entries.get(key)?;
        if now.saturating_duration_since(*stored) < self.ttl(value) {
            return Some(value.clone());
        }
        entries.remove(key);
        None
    }

    pub fn put(&self, key: K, value: Option<V>, now: Instant) {
        if self.found_ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            // Full: drop what has expired; if nothing has, drop the oldest entry.
            entries.retain(|_, (v, t)| now.saturating_duration_since(*t) < self.ttl(v));
            if entries.len() >= self.capacity {
                if let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, (_, t))| *t)
                    .map(|(k, _)| k.clone())
                {
                    entries.remove(&oldest);
                }
            }
        }
        entries.insert(key, (value, now));
    }

    /// Forgets `key`: the next lookup reads the store again.
    pub fn remove(&self, key: &K) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
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

    const TTL: Duration = Duration::from_secs(60);

    #[test]
    fn hit_miss_and_expiry() {
        let cache = TtlCache::new(10, TTL);
        let t0 = Instant::now();
        assert_eq!(cache.get(&"abc", t0), None);
        cache.put("abc", Some(1), t0);
        assert_eq!(
            cache.get(&"abc", t0 + Duration::from_secs(59)),
            Some(Some(1))
        );
        assert_eq!(cache.get(&"abc", t0 + TTL), None);
        assert!(cache.is_empty(), "an expired entry is dropped when seen");
    }

    #[test]
    fn not_found_is_kept_briefly() {
        let cache: TtlCache<&str, u32> = TtlCache::new(10, TTL);
        let t0 = Instant::now();
        cache.put("gone", None, t0);
        assert_eq!(
            cache.get(&"gone", t0 + Duration::from_millis(1999)),
            Some(None)
        );
        assert_eq!(cache.get(&"gone", t0 + NOT_FOUND_TTL), None);
    }

    #[test]
    fn a_short_lifetime_bounds_not_found_too() {
        let cache: TtlCache<&str, u32> = TtlCache::new(10, Duration::from_millis(500));
        let t0 = Instant::now();
        cache.put("gone", None, t0);
        assert_eq!(cache.get(&"gone", t0 + Duration::from_millis(500)), None);
    }

    #[test]
    fn zero_lifetime_disables_it() {
        let cache = TtlCache::new(10, Duration::ZERO);
        let t0 = Instant::now();
        cache.put("a", Some(1), t0);
        assert_eq!(cache.get(&"a", t0), None);
        assert!(cache.is_empty());
    }

    #[test]
    fn bounded_and_evicts_the_oldest() {
        let cache = TtlCache::new(3, TTL);
        let t0 = Instant::now();
        for (i, k) in ["a1", "a2", "a3", "a4"].iter().enumerate() {
            cache.put(*k, Some(i), t0 + Duration::from_millis(i as u64));
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(&"a1", t0), None, "oldest evicted");
        assert!(cache.get(&"a4", t0).is_some());
    }

    #[test]
    fn remove_forgets() {
        let cache = TtlCache::new(3, TTL);
        let t0 = Instant::now();
        cache.put("a", Some(1), t0);
        cache.remove(&"a");
        assert_eq!(cache.get(&"a", t0), None);
    }
}
