//! The server's counters ([`Stats`]) as the bundled application shows
//! them: JSON for `GET /stats`, and the Prometheus text format for
//! `GET /metrics`, so a scraper watches every instance without a sidecar.

use std::fmt::Write;
use std::prelude::rust_2021::*;

use super::Stats;

/// The content type of the Prometheus text exposition format, 0.0.4.
pub(crate) const PROMETHEUS_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The counters as `GET /stats` shows them; `redis` only with a relay.
pub(crate) fn json(s: &Stats) -> String {
    let mut json = format!(
        "{{\"connections\":{},\"subscriptions\":{},\"topics\":{},\"published\":{},\
         \"delivered\":{},\"dropped_slow\":{},\"closed_slow\":{},\"refused\":{},\"compressed\":{},\
         \"inbox_dropped\":{},\
         \"history_topics\":{},\"history_messages\":{},\"history_bytes\":{}",
        s.connections,
        s.subscriptions,
        s.topics,
        s.published,
        s.delivered,
        s.dropped_slow,
        s.closed_slow,
        s.refused,
        s.compressed,
        s.inbox_dropped,
        s.history_topics,
        s.history_messages,
        s.history_bytes
    );
    let b = &s.broker;
    if b.enabled {
        json.push_str(&format!(
            ",\"redis\":{{\"connected\":{},\"sent\":{},\"received\":{},\"dropped\":{},\
             \"local_only\":{},\"malformed\":{},\"reconnects\":{},\"channels\":{}}}",
            b.connected,
            b.sent,
            b.received,
            b.dropped,
            b.local_only,
            b.malformed,
            b.reconnects,
            b.channels
        ));
    }
    json.push_str("}\n");
    json
}

/// Whether a series only goes up (from the process' start) or is a level.
#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
}

/// The counters in the Prometheus text format (0.0.4): one family per
/// counter, named `rfc6455_...`, with its help and type; the `redis`
/// families only with a relay. Counters start at 0 with the process, as
/// Prometheus expects of a `_total`.
pub(crate) fn prometheus(s: &Stats) -> String {
    use Kind::{Counter, Gauge};
    let mut families: Vec<(&str, Kind, &str, u64)> = vec![
        (
            "connections",
            Gauge,
            "Open connections, handshakes included.",
            s.connections as u64,
        ),
        (
            "subscriptions",
            Gauge,
            "Subscriptions; a connection subscribed to two topics counts twice.",
            s.subscriptions as u64,
        ),
        (
            "topics",
            Gauge,
            "Topics with subscribers, counted once per worker that has some.",
            s.topics as u64,
        ),
        (
            "published_total",
            Counter,
            "Messages published, once per publish whatever the fan-out.",
            s.published,
        ),
        (
            "delivered_total",
            Counter,
            "Copies of published messages queued to subscribers.",
            s.delivered,
        ),
        (
            "dropped_slow_total",
            Counter,
            "Published messages dropped for a subscriber over the slow-subscriber limit.",
            s.dropped_slow,
        ),
        (
            "closed_slow_total",
            Counter,
            "Subscribers closed for falling behind.",
            s.closed_slow,
        ),
        (
            "refused_total",
            Counter,
            "Published messages not queued to a closing subscriber or one at its output bound.",
            s.refused,
        ),
        (
            "compressed_total",
            Counter,
            "permessage-deflate copies of published messages made.",
            s.compressed,
        ),
        (
            "inbox_dropped_total",
            Counter,
            "Messages not handed to a worker whose inbox was full.",
            s.inbox_dropped,
        ),
        (
            "history_topics",
            Gauge,
            "Topics with a history.",
            s.history_topics as u64,
        ),
        (
            "history_messages",
            Gauge,
            "Messages kept in the history over all topics.",
            s.history_messages as u64,
        ),
        (
            "history_bytes",
            Gauge,
            "Bytes the history holds, as counted against its bound.",
            s.history_bytes as u64,
        ),
    ];
    let b = &s.broker;
    if b.enabled {
        families.extend([
            (
                "redis_connected",
                Gauge,
                "1 while connected to Redis and relaying, else 0.",
                u64::from(b.connected),
            ),
            (
                "redis_sent_total",
                Counter,
                "Messages sent to Redis.",
                b.sent,
            ),
            (
                "redis_received_total",
                Counter,
                "Messages received from Redis, this instance's own included.",
                b.received,
            ),
            (
                "redis_dropped_total",
                Counter,
                "Publishes dropped because the queue to Redis was full.",
                b.dropped,
            ),
            (
                "redis_local_only_total",
                Counter,
                "Publishes that reached this instance's subscribers only.",
                b.local_only,
            ),
            (
                "redis_malformed_total",
                Counter,
                "Messages from Redis refused as malformed or too large.",
                b.malformed,
            ),
            (
                "redis_reconnects_total",
                Counter,
                "Connections to Redis made after a loss.",
                b.reconnects,
            ),
            (
                "redis_channels",
                Gauge,
                "Redis channels this instance is subscribed to.",
                b.channels as u64,
            ),
        ]);
    }
    let mut out = String::with_capacity(families.len() * 160);
    for (name, kind, help, value) in families {
        let kind = match kind {
            Counter => "counter",
            Gauge => "gauge",
        };
        let _ = write!(
            out,
            "# HELP rfc6455_{name} {help}\n# TYPE rfc6455_{name} {kind}\nrfc6455_{name} {value}\n"
        );
    }
    out
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
