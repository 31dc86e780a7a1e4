//! The server's counters ([`Stats`]) as the bundled application shows
//! them: JSON for `GET /stats`, and the Prometheus text format for
//! `GET /metrics`, so a scraper watches every instance without a sidecar.

use std::fmt::Write;
use std::prelude::rust_2021::*;

use super::Stats;

/// The content type of the Prometheus text exposition format, 0.0.4.
pub(crate) const PROMETHEUS_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The counters as `GET /stats` shows them: the families of
/// [`prometheus`], named without `_total`, the relay's as an object
/// `redis` (only with a relay), in the same order.
pub(crate) fn json(s: &Stats) -> String {
    let (server, relay) = families(s);
    let mut json = String::from("{");
    json_fields(&mut json, &server, "");
    if !relay.is_empty() {
        json.push_str(",\"redis\":{");
        json_fields(&mut json, &relay, "redis_");
        json.push('}');
    }
    json.push_str("}\n");
    json
}

/// `"name":value` for each family, comma-separated, the name without
/// `prefix` and `_total`.
fn json_fields(out: &mut String, families: &[Family], prefix: &str) {
    for (i, (name, _, _, value)) in families.iter().enumerate() {
        let name = name.strip_prefix(prefix).unwrap_or(name);
        let name = name.strip_suffix("_total").unwrap_or(name);
        let sep = if i == 0 { "" } else { "," };
        let _ = match value {
            Value::Count(n) => write!(out, "{sep}\"{name}\":{n}"),
            Value::Flag(b) => write!(out, "{sep}\"{name}\":{b}"),
        };
    }
}

/// Whether a series only goes up (from the process' start) or is a level.
#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
}

/// A family's value: a number, or a yes/no (JSON `true`, Prometheus 1).
#[derive(Clone, Copy)]
enum Value {
    Count(u64),
    Flag(bool),
}

/// A family: its name after `rfc6455_`, kind, help and value.
type Family = (&'static str, Kind, &'static str, Value);

/// The counters in the Prometheus text format (0.0.4): one family per
/// counter, named `rfc6455_...`, with its help and type; the `redis`
/// families only with a relay. Counters start at 0 with the process, as
/// Prometheus expects of a `_total`.
pub(crate) fn prometheus(s: &Stats) -> String {
    let (server, relay) = families(s);
    let mut out = String::with_capacity((server.len() + relay.len()) * 160);
    for (name, kind, help, value) in server.into_iter().chain(relay) {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        let value = match value {
            Value::Count(n) => n,
            Value::Flag(b) => u64::from(b),
        };
        let _ = write!(
            out,
            "# HELP rfc6455_{name} {help}\n# TYPE rfc6455_{name} {kind}\nrfc6455_{name} {value}\n"
        );
    }
    out
}

/// Every counter once, for both formats: the server's families, then the
/// relay's (empty without one).
fn families(s: &Stats) -> (Vec<Family>, Vec<Family>) {
    use Kind::{Counter, Gauge};
    use Value::{Count, Flag};
    let server: Vec<Family> = vec![
        (
            "connections",
            Gauge,
            "Open connections, handshakes included.",
            Count(s.connections as u64),
        ),
        (
            "subscriptions",
            Gauge,
            "Subscriptions; a connection subscribed to two topics counts twice.",
            Count(s.subscriptions as u64),
        ),
        (
            "topics",
            Gauge,
            "Topics with subscribers, counted once per worker that has some.",
            Count(s.topics as u64),
        ),
        (
            "published_total",
            Counter,
            "Messages published, once per publish whatever the fan-out.",
            Count(s.published),
        ),
        (
            "delivered_total",
            Counter,
            "Copies of published messages queued to subscribers.",
            Count(s.delivered),
        ),
        (
            "dropped_slow_total",
            Counter,
            "Published messages dropped for a subscriber over the slow-subscriber limit.",
            Count(s.dropped_slow),
        ),
        (
            "closed_slow_total",
            Counter,
            "Subscribers closed for falling behind.",
            Count(s.closed_slow),
        ),
        (
            "refused_total",
            Counter,
            "Published messages not queued to a closing subscriber or one at its output bound.",
            Count(s.refused),
        ),
        (
            "compressed_total",
            Counter,
            "permessage-deflate copies of published messages made.",
            Count(s.compressed),
        ),
        (
            "inbox_dropped_total",
            Counter,
            "Messages not handed to a worker whose inbox was full.",
            Count(s.inbox_dropped),
        ),
        (
            "history_topics",
            Gauge,
            "Topics with a history.",
            Count(s.history_topics as u64),
        ),
        (
            "history_messages",
            Gauge,
            "Messages kept in the history over all topics.",
            Count(s.history_messages as u64),
        ),
        (
            "history_bytes",
            Gauge,
            "Bytes the history holds, as counted against its bound.",
            Count(s.history_bytes as u64),
        ),
    ];
    let b = &s.broker;
    let relay: Vec<Family> = if b.enabled {
        vec![
            (
                "redis_connected",
                Gauge,
                "1 while connected to Redis and relaying, else 0.",
                Flag(b.connected),
            ),
            (
                "redis_sent_total",
                Counter,
                "Messages sent to Redis.",
                Count(b.sent),
            ),
            (
                "redis_received_total",
                Counter,
                "Messages received from Redis, this instance's own included.",
                Count(b.received),
            ),
            (
                "redis_dropped_total",
                Counter,
                "Publishes dropped because the queue to Redis was full.",
                Count(b.dropped),
            ),
            (
                "redis_local_only_total",
                Counter,
                "Publishes that reached this instance's subscribers only.",
                Count(b.local_only),
            ),
            (
                "redis_malformed_total",
                Counter,
                "Messages from Redis refused as malformed or too large.",
                Count(b.malformed),
            ),
            (
                "redis_reconnects_total",
                Counter,
                "Connections to Redis made after a loss.",
                Count(b.reconnects),
            ),
            (
                "redis_channels",
                Gauge,
                "Redis channels this instance is subscribed to.",
                Count(b.channels as u64),
            ),
        ]
    } else {
        Vec::new()
    };
    (server, relay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::broker::BrokerStats;

    /// The samples of a text exposition, checked line by line against the
    /// format: every sample preceded by its family's HELP and TYPE, names
    /// of the allowed characters, values that parse.
    fn samples(text: &str) -> Vec<(String, String, u64)> {
        let mut out = Vec::new();
        let (mut help, mut kind) = (None, None);
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, text) = rest.split_once(' ').expect("help text");
                assert!(!text.is_empty() && !text.contains('\\'), "{line}");
                help = Some(name.to_owned());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, t) = rest.split_once(' ').expect("type");
                assert_eq!(help.as_deref(), Some(name), "TYPE after its HELP: {line}");
                assert!(t == "counter" || t == "gauge", "{line}");
                kind = Some((name.to_owned(), t.to_owned()));
            } else {
                let (name, value) = line.split_once(' ').expect("name value");
                let (family, t) = kind.take().expect("a sample after its TYPE");
                assert_eq!(family, name, "{line}");
                assert!(
                    name.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                        && !name.starts_with(|c: char| c.is_ascii_digit()),
                    "{name}"
                );
                assert_eq!(t == "counter", name.ends_with("_total"), "{name}");
                out.push((name.to_owned(), t, value.parse().expect("value")));
            }
        }
        out
    }

    fn stats() -> Stats {
        Stats {
            published: 3,
            delivered: 7,
            dropped_slow: 11,
            closed_slow: 13,
            refused: 17,
            compressed: 19,
            inbox_dropped: 23,
            connections: 29,
            subscriptions: 31,
            topics: 37,
            history_topics: 41,
            history_messages: 43,
            history_bytes: 47,
            broker: BrokerStats::default(),
        }
    }

    #[test]
    fn every_counter_is_a_well_formed_family() {
        let got = samples(&prometheus(&stats()));
        let value = |n: &str| {
            got.iter()
                .find(|(name, _, _)| name == n)
                .unwrap_or_else(|| std::panic!("{n} in {got:?}"))
                .2
        };
        assert_eq!(value("rfc6455_published_total"), 3);
        assert_eq!(value("rfc6455_delivered_total"), 7);
        assert_eq!(value("rfc6455_refused_total"), 17);
        assert_eq!(value("rfc6455_inbox_dropped_total"), 23);
        assert_eq!(value("rfc6455_connections"), 29);
        assert_eq!(value("rfc6455_history_bytes"), 47);
        assert!(got.iter().all(|(n, _, _)| !n.contains("redis")), "{got:?}");
        assert_eq!(got.len(), 13);
    }

    #[test]
    fn the_json_names_every_counter_once() {
        let v: serde_json::Value = serde_json::from_str(&json(&stats())).expect("JSON");
        let o = v.as_object().expect("an object");
        for (name, want) in [
            ("published", 3),
            ("delivered", 7),
            ("dropped_slow", 11),
            ("closed_slow", 13),
            ("refused", 17),
            ("compressed", 19),
            ("inbox_dropped", 23),
            ("connections", 29),
            ("subscriptions", 31),
            ("topics", 37),
            ("history_topics", 41),
            ("history_messages", 43),
            ("history_bytes", 47),
        ] {
            assert_eq!(
                o.get(name).and_then(|v| v.as_u64()),
                Some(want),
                "{name} in {v}"
            );
        }
        assert_eq!(o.len(), 13, "{v}");
    }

    #[test]
    fn the_redis_families_come_with_a_relay() {
        let mut s = stats();
        s.broker = BrokerStats {
            enabled: true,
            connected: true,
            sent: 5,
            reconnects: 2,
            channels: 4,
            ..BrokerStats::default()
        };
        let got = samples(&prometheus(&s));
        assert_eq!(got.len(), 21);
        for (name, want) in [
            ("rfc6455_redis_connected", 1),
            ("rfc6455_redis_sent_total", 5),
            ("rfc6455_redis_reconnects_total", 2),
            ("rfc6455_redis_channels", 4),
        ] {
            assert!(
                got.iter().any(|(n, _, v)| n == name && *v == want),
                "{name} {want} in {got:?}"
            );
        }
        assert!(json(&s).contains("\"redis\":{\"connected\":true,\"sent\":5,"));
    }
}
