//! The in-process cache: a map with expiries, for a single server without
//! Redis (the embedded default).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// An in-process map with expiries; what `OUTPOST_REDIS_URL` unset gives.
#[derive(Clone)]
pub struct MemoryCache {
    prefix: String,
    entries: Arc<Mutex<Entries>>,
}

/// Below this many entries the map is never swept.
const SWEEP_FROM: usize = 10_000;

/// The map, and when to sweep it next.
#[derive(Default)]
struct Entries {
    map: HashMap<String, (String, Instant)>,
    /// Sweep once the map holds more than this: twice what the last sweep
    /// left, so sweeping costs O(1) an access however many entries live
    /// (sweeping at every access past 10,000 live entries, as before, made
    /// each access scan them all: a fifth of a SQLite server's time once a
    /// push's replay entries passed 10,000).
    sweep_at: usize,
    /// Sweeps so far (for the test).
    sweeps: u64,
}

impl MemoryCache {
    /// An empty cache.
    pub fn new(prefix: &str) -> Self {
        Self { prefix: prefix.to_owned(), entries: Arc::default() }
    }

    pub(super) fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    pub(super) fn with_entries<T>(
        &self,
        f: impl FnOnce(&mut HashMap<String, (String, Instant)>) -> T,
    ) -> T {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Sweep expired entries now and then so the map cannot grow without
        // bound on a long-running single instance.
        if entries.map.len() > entries.sweep_at.max(SWEEP_FROM) {
            let now = Instant::now();
            entries.map.retain(|_, (_, expires)| *expires > now);
            entries.sweep_at = entries.map.len() * 2;
            entries.sweeps += 1;
        }
        f(&mut entries.map)
    }

    pub(super) fn get_and_touch(&self, key: &str, ttl: Duration) -> Option<String> {
        let key = self.key(key);
        self.with_entries(|entries| {
            let now = Instant::now();
            match entries.get_mut(&key) {
                Some((value, expires)) if *expires > now => {
                    *expires = now + ttl;
                    Some(value.clone())
                }
                Some(_) => {
                    entries.remove(&key);
                    None
                }
                None => None,
            }
        })
    }

    pub(super) fn get(&self, key: &str) -> Option<String> {
        let key = self.key(key);
        self.with_entries(|entries| {
            entries
                .get(&key)
                .filter(|(_, expires)| *expires > Instant::now())
                .map(|(v, _)| v.clone())
        })
    }

    pub(super) fn set(&self, key: &str, value: &str, ttl: Duration) {
        let key = self.key(key);
        self.with_entries(|entries| {
            entries.insert(key, (value.to_owned(), Instant::now() + ttl));
        });
    }

    pub(super) fn delete(&self, keys: &[String]) {
        let keys: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        self.with_entries(|entries| {
            for key in &keys {
                entries.remove(key);
            }
        });
    }

    /// Adds one to a windowed counter.
    pub fn hit(&self, key: &str, window: Duration) -> (u64, u64) {
        let key = self.key(key);
        self.with_entries(|entries| {
            let now = Instant::now();
            let entry = entries.entry(key).or_insert_with(|| ("0".into(), now + window));
            if entry.1 <= now {
                *entry = ("0".into(), now + window);
            }
            let count = entry.0.parse::<u64>().unwrap_or(0) + 1;
            entry.0 = count.to_string();
            (count, entry.1.saturating_duration_since(now).as_secs().max(1))
        })
    }

    /// Reads a windowed counter.
    pub fn peek_counter(&self, key: &str) -> (u64, u64) {
        let key = self.key(key);
        self.with_entries(|entries| {
            let now = Instant::now();
            match entries.get(&key) {
                Some((count, expires)) if *expires > now => (
                    count.parse().unwrap_or(0),
                    expires.saturating_duration_since(now).as_secs().max(1),
                ),
                _ => (0, 0),
            }
        })
    }

    pub(super) fn clear(&self) {
        self.with_entries(HashMap::clear);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_of_live_entries_is_swept_once_per_doubling_not_at_every_access() {
        let cache = MemoryCache::new("t:");
        for i in 0..80_000 {
            cache.with_entries(|map| {
                map.insert(
                    format!("k{i}"),
                    (String::new(), Instant::now() + Duration::from_secs(600)),
                )
            });
        }
        let entries = cache.entries.lock().unwrap();
        // 10,000 -> 20,002 -> 40,006 -> 80,014: three sweeps, none past.
        assert!(entries.sweeps <= 4, "{} sweeps", entries.sweeps);
        assert_eq!(entries.map.len(), 80_000);
    }

    #[test]
    fn expired_entries_are_swept_away() {
        let cache = MemoryCache::new("t:");
        for i in 0..SWEEP_FROM + 1 {
            cache.with_entries(|map| map.insert(format!("k{i}"), (String::new(), Instant::now())));
        }
        cache.with_entries(|_| ());
        assert_eq!(cache.entries.lock().unwrap().map.len(), 0);
    }
}
